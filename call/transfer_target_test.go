package call

import (
	"strings"
	"testing"
)

// FuzzTransferTarget: whatever the API or an assistant sends as a transfer
// target, an accepted one is safe to put in an api command line and a dial
// string (no blank, quote, brace, pipe or comma; a sip: URI with a host; or
// strict E.164).
func FuzzTransferTarget(f *testing.F) {
	for _, s := range []string{"sip:+15557654321@pbx.example.com", "+14165550199", "sips:alice@example.com;transport=tls",
		"sip:a b@c", "tel:+1555", "sip:x@y|sofia/gateway/evil/1", "+1 416 555 0199", "sip:{x}@y", "SIP:USER@HOST"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tt, err := ParseTransferTarget(in)
		if err != nil {
			return
		}
		switch {
		case tt.SIPURI != "":
			if strings.ContainsAny(tt.SIPURI, " \t\r\n'\"{}|,") || !strings.Contains(tt.SIPURI, "@") {
				t.Fatalf("unsafe sip target %q", tt.SIPURI)
			}
			if u := E164User(tt.SIPURI); u != "" && !strings.HasPrefix(u, "+") {
				t.Fatalf("E164User %q of %q", u, tt.SIPURI)
			}
		case tt.E164 != "":
			if tt.E164[0] != '+' || strings.ContainsAny(tt.E164[1:], "+ -()") {
				t.Fatalf("not E.164: %q", tt.E164)
			}
		default:
			t.Fatalf("accepted %q as nothing", in)
		}
	})
}

// FuzzReferTemplate: an accepted template, filled with any E.164 number,
// stays one argument of the uuid_deflect command.
func FuzzReferTemplate(f *testing.F) {
	for _, s := range []string{"tel:{e164}", "sip:{e164}@pbx.example.com", "sip:{e164}@h;user=phone", "sip:x@y", "tel:{e164} x", "sip:{e164}@a|b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		if CheckReferTemplate(tmpl) != nil {
			return
		}
		uri := ApplyReferTemplate(tmpl, "+14165550199")
		if strings.ContainsAny(uri, " \t\r\n'\"|,") || !strings.Contains(uri, "+14165550199") {
			t.Fatalf("template %q gives %q", tmpl, uri)
		}
	})
}

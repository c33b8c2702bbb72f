package controller

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
		tt, err := parseTransferTarget(in)
		if err != nil {
			return
		}
		switch {
		case tt.sipURI != "":
			if strings.ContainsAny(tt.sipURI, " \t\r\n'\"{}|,") || !strings.Contains(tt.sipURI, "@") {
				t.Fatalf("unsafe sip target %q", tt.sipURI)
			}
			if u := e164User(tt.sipURI); u != "" && !strings.HasPrefix(u, "+") {
				t.Fatalf("e164User %q of %q", u, tt.sipURI)
			}
		case tt.e164 != "":
			if tt.e164[0] != '+' || strings.ContainsAny(tt.e164[1:], "+ -()") {
				t.Fatalf("not E.164: %q", tt.e164)
			}
		default:
			t.Fatalf("accepted %q as nothing", in)
		}
	})
}

// FuzzSipfragStatus: a NOTIFY body from the far end never panics and yields
// a status only when it starts like a status line.
func FuzzSipfragStatus(f *testing.F) {
	for _, s := range []string{"SIP/2.0 200 OK\r\n", "SIP/2.0 100 Trying", "SIP/2.0 603 Decline", "", "SIP/2.0 ", "SIP/2.0 2x0", "HTTP/1.1 200 OK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code := sipfragStatus(in)
		if code != 0 && (!strings.HasPrefix(in, "SIP/2.0 ") || code < 0 || code > 999) {
			t.Fatalf("status %d from %q", code, in)
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

package call

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/netpolicy"
)

func TestParseSIPURI(t *testing.T) {
	good := []struct{ in, user, hp, params string }{
		{"sip:alice@pbx.example.com", "alice", "pbx.example.com", ""},
		{"SIPS:+14165550199@10.0.0.5:5061;transport=tls", "+14165550199", "10.0.0.5:5061", ";transport=tls"},
		{"sip:desk@[2001:db8::1]:5060;user=phone;lr", "desk", "[2001:db8::1]:5060", ";user=phone;lr"},
		{"sip:a%40b.c_d-e!~*()&=+/@host", "a%40b.c_d-e!~*()&=+/", "host", ""},
		{"sip:pbx.example.com", "", "pbx.example.com", ""},
	}
	for _, g := range good {
		u, err := ParseSIPURI(g.in, false)
		if err != nil || u.User != g.user || u.HostPort != g.hp || u.Params != g.params {
			t.Errorf("%q: %+v %v", g.in, u, err)
		}
	}
	for _, in := range []string{
		"sip:a@b>;foo", "sip:$${x}@y", "sip:${x}@y", "sip:a@$${x}", "sip:<a>@b", "sip:\"a\"@b",
		"sip:a b@c", "sip:a@b c", "sip:a@b\r\nX: y", "sip:a\n@b", "sip:{e164}@h", "sip:a@h?Replaces=x",
		"sip:a@h;x=$${y}", "sip:a@h;x=<y>", "sip:a@", "sip:@h", "sip:a@h:0", "sip:a@h:70000", "sip:a@h:",
		"sip:a@2001:db8::1", "sip:a@[fe80::1%25eth0]", "sip:a@[1.2.3.4]", "sip:a@-h", "sip:a@h..x",
		"sip:a,b@h", "sip:a'b@h", "sip:a|b@h", "sip:a;b@h", "sip:a:pw@h", "http://h", "sip:a@h;", "sip:a@h;=x",
		"sip:" + strings.Repeat("a", 260) + "@h", "sip:a%4@h", "sip:a@h%41",
	} {
		if u, err := ParseSIPURI(in, false); err == nil {
			t.Errorf("%q accepted: %+v", in, u)
		}
	}
	// Templates: {e164} only in the user part.
	if u, err := ParseSIPURI("sip:{e164}@pbx.example.com;user=phone", true); err != nil || u.HostPort != "pbx.example.com" {
		t.Errorf("template: %+v %v", u, err)
	}
	for _, in := range []string{"sip:{e164}@$${x}", "sip:x@y", "sip:{e164}{x}@h", "sip:{e164}@{e164}", "sip:{e164}@h;p={e164}", "sip:{e164}@h>"} {
		if _, err := ParseSIPURI(in, true); err == nil {
			t.Errorf("template %q accepted", in)
		}
	}
}

func TestCheckReferTemplateStrict(t *testing.T) {
	for _, in := range []string{"tel:{e164}", "tel:{e164};phone-context=+1", "sip:{e164}@pbx.example.com", "sips:{e164}@10.1.2.3:5061"} {
		if err := CheckReferTemplate(in); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, in := range []string{"sip:{e164}@$${x}", "sip:{e164}@h>", "tel:{e164}$${x}", "tel:{e164}<x>", "sip:$${x}{e164}@h", "sip:{e164}@h?X=y"} {
		if err := CheckReferTemplate(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if hp := ReferTemplateHostPort("sip:{e164}@[2001:db8::1]:5060"); hp != "[2001:db8::1]:5060" {
		t.Errorf("host %q", hp)
	}
	if hp := ReferTemplateHostPort("tel:{e164}"); hp != "" {
		t.Errorf("tel host %q", hp)
	}
}

// FuzzParseSIPURI: an accepted URI has only safe bytes (nothing FreeSWITCH
// expands, nothing that ends an api argument or a header), and its parts
// put back together give it again.
func FuzzParseSIPURI(f *testing.F) {
	for _, s := range []string{"sip:alice@pbx.example.com", "sip:a@b>;foo", "sip:$${x}@y", "sips:+1@[::1]:5061;transport=tls",
		"sip:{e164}@$${x}", "sip:{e164}@h", "sip:a%20b@h", "sip:a@h?x=y", "sip:a@h;lr;x=[1]"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, template bool) {
		u, err := ParseSIPURI(in, template)
		if err != nil {
			return
		}
		rest := in
		if template {
			rest = strings.ReplaceAll(rest, e164Placeholder, "")
		}
		if strings.ContainsAny(rest, " \t\r\n<>\"'$,|{}?\\`^") || len(in) > 256 {
			t.Fatalf("%q accepted", in)
		}
		back := in[:len(u.Scheme)] + ":"
		if u.User != "" {
			back += u.User + "@"
		}
		if back += u.HostPort + u.Params; back != in {
			t.Fatalf("%q read as %+v", in, u)
		}
		if !strings.HasPrefix(strings.ToLower(in), u.Scheme+":") {
			t.Fatalf("%q scheme %q", in, u.Scheme)
		}
	})
}

func TestCheckTransferHost(t *testing.T) {
	p := netpolicy.Default()
	p.Resolver = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if host == "rebind.example" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	for _, hp := range []string{"", "pbx.example.com", "10.0.0.5:5060", "203.0.113.9", "[2001:db8::1]:5061"} {
		if err := CheckTransferHost(context.Background(), p, hp); err != nil {
			t.Errorf("%q: %v", hp, err)
		}
	}
	for _, hp := range []string{"127.0.0.1", "localhost:5060", "169.254.169.254", "[::1]", "rebind.example", "0.0.0.0", "2130706433"} {
		err := CheckTransferHost(context.Background(), p, hp)
		if !errors.Is(err, ErrTransferAddressRefused) {
			t.Errorf("%q: %v", hp, err)
		}
	}
	if err := CheckTransferHost(context.Background(), netpolicy.Policy{}, "10.0.0.5"); !errors.Is(err, ErrTransferAddressRefused) || !strings.Contains(err.Error(), "10.0.0.5") {
		t.Errorf("private without AllowPrivate: %v", err)
	}
}

package field

import (
	"errors"
	"testing"
)

// TestRefusalsNameTheirField: each check answers a *Error naming the
// input it was given, and accepts what FreeSWITCH and SIP accept.
func TestRefusalsNameTheirField(t *testing.T) {
	bad := []struct {
		err   error
		field string
		msg   string
	}{
		{Text("name", "a\nb", 10), "name", "name must not contain control characters (CR, LF, tab, …)"},
		{Text("name", "abcdef", 5), "name", "name must be at most 5 characters"},
		{Token("username", "a b", 10), "username", "username must not contain spaces"},
		{HostPort("gateway", "", true), "gateway", "gateway is required (host or host:port)"},
		{HostPort("proxy", "2001:db8::1", false), "proxy", "proxy: write an IPv6 address in brackets, e.g. [2001:db8::1]:5060"},
		{HostPort("gateway", "h.example:0", false), "gateway", `gateway has an invalid port "0": must be 1–65535`},
		{HostPort("gateway", "300.1.1.1", false), "gateway", `gateway has an invalid IPv4 address "300.1.1.1"`},
	}
	for _, c := range bad {
		var fe *Error
		if !errors.As(c.err, &fe) || fe.Field != c.field || fe.Message != c.msg {
			t.Errorf("got %v, want %s: %s", c.err, c.field, c.msg)
		}
	}
	for _, ok := range []string{"sip.example.com", "sip.example.com:5080", "[2001:db8::1]:5060", "203.0.113.7"} {
		if err := HostPort("gateway", ok, true); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

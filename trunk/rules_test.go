package trunk_test

import (
	"errors"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/field"
	"github.com/sipbridge/sipbridge/trunk"
)

func str(v string) *string { return &v }
func boolp(v bool) *bool   { return &v }

// TestApplyRules: the trunk rules refuse a bad field naming it, check the
// trunk as a whole after every field, and leave a valid trunk as merged.
func TestApplyRules(t *testing.T) {
	rules := trunk.Rules{ACL: trunk.ACLLimits{MaxPrefixV4: 16, MaxPrefixV6: 32},
		ReferTemplate: func(string) error { return errors.New("refer_to_template must be tel:{e164} or sip:{e164}@host") }}
	base := func() *db.SIPTrunk {
		return &db.SIPTrunk{Priority: 1, Enabled: true, Register: true, Transport: "udp"}
	}
	refusals := []struct {
		name  string
		in    trunk.Settings
		field string
		msg   string
	}{
		{"no name", trunk.Settings{Gateway: str("sip.example.com")}, "name", "name is required"},
		{"bad gateway", trunk.Settings{Name: str("a"), Gateway: str("sip example")}, "gateway", `gateway has an invalid host name "sip example"`},
		{"space in username", trunk.Settings{Name: str("a"), Gateway: str("h.example"), Username: str("a b")}, "username", "username must not contain spaces"},
		{"transport", trunk.Settings{Name: str("a"), Gateway: str("h.example"), Transport: str("sctp")}, "transport", "transport must be udp, tcp or tls"},
		{"broad acl", trunk.Settings{Name: str("a"), Gateway: str("h.example"), Register: boolp(false), AllowedAddresses: &[]string{"10.0.0.0/8"}},
			"allowed_addresses", "allowed_addresses: 10.0.0.0/8 is broader than /16, the broadest range this platform accepts (its operator can change MAX_ACL_PREFIX)"},
		{"srtp", trunk.Settings{Name: str("a"), Gateway: str("h.example"), SRTP: str("sdes")}, "srtp", "srtp must be off, optional or mandatory"},
		{"codec", trunk.Settings{Name: str("a"), Gateway: str("h.example"), Codecs: &[]string{"MP3"}}, "codecs", `codecs: "MP3" is not a codec FreeSWITCH knows (e.g. PCMU, PCMA, G722, OPUS, G729)`},
		{"refer template", trunk.Settings{Name: str("a"), Gateway: str("h.example"), ReferToTemplate: str("http://x")}, "refer_to_template", "refer_to_template must be tel:{e164} or sip:{e164}@host"},
		{"ip auth without addresses", trunk.Settings{Name: str("a"), Gateway: str("h.example"), Register: boolp(false)}, "allowed_addresses", "an IP-auth trunk (register=false) needs at least one allowed address"},
		{"registration without password", trunk.Settings{Name: str("a"), Gateway: str("h.example"), Username: str("u")}, "password", "a registration trunk (register=true) needs a username and a password"},
	}
	for _, c := range refusals {
		_, err := trunk.Apply(base(), &c.in, false, rules)
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != c.field || fe.Message != c.msg {
			t.Errorf("%s: got %v, want %s: %s", c.name, err, c.field, c.msg)
		}
	}

	tr := base()
	in := trunk.Settings{Name: str(" Main "), Gateway: str(" sip.example.com:5080 "), Username: str("u"), Password: str("p"),
		Register: boolp(false), AllowedAddresses: &[]string{"203.0.113.7", "203.0.113.7/32"}, Codecs: &[]string{"pcmu", "opus@48000h"}}
	pw, err := trunk.Apply(tr, &in, false, rules)
	if err != nil || pw == nil || *pw != "p" {
		t.Fatalf("valid trunk refused: %v (password %v)", err, pw)
	}
	if tr.Name != "Main" || tr.Gateway != "sip.example.com:5080" || tr.TransferMode != "bridge" ||
		len(tr.AllowedAddresses) != 1 || tr.AllowedAddresses[0] != "203.0.113.7/32" || len(tr.Codecs) != 2 {
		t.Fatalf("merged trunk: %+v", tr)
	}
	if tr.SRTP != "off" {
		t.Fatalf("srtp %q when not sent, want off", tr.SRTP)
	}
	if _, err := trunk.Apply(tr, &trunk.Settings{SRTP: str(" Optional ")}, true, rules); err != nil || tr.SRTP != "optional" {
		t.Fatalf("srtp optional: %v, kept %q", err, tr.SRTP)
	}
}

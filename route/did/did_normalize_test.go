package did_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/route/did"
)

func TestNormalizeE164(t *testing.T) {
	cases := []struct {
		in, country, want string // want "" = ErrNotE164
	}{
		// US / CA
		{"+16478491000", "", "+16478491000"},
		{"+1 (647) 849-1000", "US", "+16478491000"},
		{"6478491000", "US", "+16478491000"},
		{"(647) 849-1000", "CA", "+16478491000"},
		{"16478491000", "CA", "+16478491000"},
		{"1-647-849-1000", "US", "+16478491000"},
		{"647.849.1000", "us", "+16478491000"},
		{"011 44 20 7946 0018", "US", "+442079460018"},
		{"+15555550100", "", "+15555550100"}, // fictional range: possible, written with +
		{"5555550100", "US", ""},             // the same nationally: not a valid number
		{"8491000", "US", ""},                // local only
		{"9228", "US", ""},
		// GB
		{"020 7946 0018", "GB", "+442079460018"},
		{"+44 (0)20 7946 0018", "GB", "+442079460018"},
		{"+44 (0)20 7946 0018", "", "+442079460018"},
		{"0049 30 901820", "GB", "+4930901820"},
		{"00 1 647 849 1000", "GB", "+16478491000"},
		{"442079460018", "GB", "+442079460018"},
		{"442079460018", "US", ""}, // another country without + or prefix: no guess
		// DE
		{"030 901820", "DE", "+4930901820"},
		{"030/901820", "DE", "+4930901820"},
		{"+49 (30) 901820", "", "+4930901820"},
		{"0049 (0)30 901820", "DE", "+4930901820"},
		{"9228", "DE", ""}, // an extension, although phonenumbers calls it possible
		// tel: URIs
		{"tel:+1-647-849-1000", "", "+16478491000"},
		{"TEL:6478491000;phone-context=+1", "", "+16478491000"},
		{"tel:8491000;phone-context=+1-647;ext=22", "", "+16478491000"},
		{"tel:6478491000;phone-context=example.com", "", ""},
		{"tel:6478491000;phone-context=example.com", "CA", "+16478491000"},
		{"tel:%2B16478491000", "", "+16478491000"},
		// Not numbers.
		{"", "US", ""},
		{"+", "US", ""},
		{"++16478491000", "US", ""},
		{"1+6478491000", "US", ""},
		{"+0123456789", "", ""},
		{"+1000", "", ""},
		{"+999123456", "", ""},
		{"+16478491000123456", "", ""},
		{"+1647849100O", "", ""},
		{"+1 647 849 1000 ext. 22", "", ""},
		{"１６４７８４９１０００", "US", ""},
		{"6478491000", "", ""},
		{"6478491000", "XX", ""},
		{"sip:+16478491000@h", "", ""},
		{strings.Repeat("1", 100), "US", ""},
	}
	for _, c := range cases {
		got, err := did.NormalizeE164(c.in, c.country)
		if c.want == "" {
			if err == nil || !errors.Is(err, did.ErrNotE164) {
				t.Errorf("NormalizeE164(%q, %q) = %q, %v; want ErrNotE164", c.in, c.country, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeE164(%q, %q) = %q, %v; want %q", c.in, c.country, got, err, c.want)
		}
	}
}

func TestIsE164(t *testing.T) {
	for s, want := range map[string]bool{
		"+16478491000": true, "+12": true, "+123456789012345": true,
		"+1234567890123456": false, "+1": false, "+0123": false, "16478491000": false,
		"+1647 8491000": false, "+16478491000\n": false, "": false,
	} {
		if IsE164 := did.IsE164(s); IsE164 != want {
			t.Errorf("IsE164(%q) = %v", s, IsE164)
		}
	}
}

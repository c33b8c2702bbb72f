package clients

import (
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

var (
	twilioOK  = &provider.TwilioCreds{AccountSID: "AC1", AuthToken: "tok"}
	telnyxKey = &provider.TelnyxCreds{APIKey: "KEY"} // enough for SMS, not for voice
	vonageSMS = &provider.VonageCreds{APIKey: "k", APISecret: "s"}
)

// TestNewRefusesIncompleteCredentials: a client is built only from complete
// credentials of its provider; an unknown name is ErrNotSupported.
func TestNewRefusesIncompleteCredentials(t *testing.T) {
	cases := []struct {
		name  string
		creds provider.Credentials
	}{
		{provider.NameTwilio, provider.Credentials{Twilio: &provider.TwilioCreds{AccountSID: "AC1"}}},
		{provider.NameTwilio, provider.Credentials{}},
		{provider.NameTelnyx, provider.Credentials{Telnyx: &provider.TelnyxCreds{ConnectionID: "c"}}},
		{provider.NameVonage, provider.Credentials{Vonage: &provider.VonageCreds{APIKey: "k"}}},
	}
	for _, tc := range cases {
		p, err := New(tc.name, tc.creds, provider.Config{})
		testkit.WantKind(t, err, provider.ErrInvalidCredentials)
		if p != nil {
			t.Errorf("%s: provider %#v returned with an error", tc.name, p)
		}
	}
	_, err := New("acme", provider.Credentials{}, provider.Config{})
	testkit.WantKind(t, err, provider.ErrNotSupported)
	for name, creds := range map[string]provider.Credentials{
		provider.NameTwilio: {Twilio: twilioOK}, provider.NameTelnyx: {Telnyx: telnyxKey},
		provider.NameVonage: {Vonage: vonageSMS}, provider.NameSIP: {},
	} {
		p, err := New(name, creds, provider.Config{})
		if err != nil || p.Name() != name {
			t.Errorf("New(%s) = %v, %v", name, p, err)
		}
	}
}

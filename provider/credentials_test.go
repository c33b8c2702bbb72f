package provider

import "testing"

var (
	twilioOK  = &TwilioCreds{AccountSID: "AC1", AuthToken: "tok"}
	telnyxKey = &TelnyxCreds{APIKey: "KEY"} // enough for SMS, not for voice
	vonageSMS = &VonageCreds{APIKey: "k", APISecret: "s"}
)

func TestCredentialsReady(t *testing.T) {
	cases := []struct {
		name       string
		c          Credentials
		prov       string
		voice, msg bool
	}{
		{"twilio complete", Credentials{Twilio: twilioOK}, NameTwilio, true, true},
		{"twilio without token", Credentials{Twilio: &TwilioCreds{AccountSID: "AC1"}}, NameTwilio, false, false},
		{"twilio blank", Credentials{Twilio: &TwilioCreds{AccountSID: " ", AuthToken: " "}}, NameTwilio, false, false},
		{"telnyx key only", Credentials{Telnyx: telnyxKey}, NameTelnyx, false, true},
		{"telnyx key and connection", Credentials{Telnyx: &TelnyxCreds{APIKey: "K", ConnectionID: "c"}}, NameTelnyx, true, true},
		{"telnyx connection only", Credentials{Telnyx: &TelnyxCreds{ConnectionID: "c"}}, NameTelnyx, false, false},
		{"vonage sms only", Credentials{Vonage: vonageSMS}, NameVonage, false, true},
		{"vonage app only", Credentials{Vonage: &VonageCreds{ApplicationID: "a", PrivateKey: "p"}}, NameVonage, true, false},
		{"other provider's creds do not count", Credentials{Twilio: twilioOK}, NameTelnyx, false, false},
		{"sip has none", Credentials{Twilio: twilioOK}, NameSIP, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.VoiceReady(tc.prov); got != tc.voice {
				t.Errorf("VoiceReady = %v, want %v", got, tc.voice)
			}
			if got := tc.c.MessagingReady(tc.prov); got != tc.msg {
				t.Errorf("MessagingReady = %v, want %v", got, tc.msg)
			}
		})
	}
	all := Credentials{Twilio: twilioOK, Telnyx: telnyxKey, Vonage: vonageSMS}
	if got := all.Only(NameTelnyx); got != (Credentials{Telnyx: telnyxKey}) {
		t.Errorf("Only(telnyx) = %+v", got)
	}
	if got := all.Only(NameSIP); got != (Credentials{}) {
		t.Errorf("Only(sip) = %+v", got)
	}
}

package twilio

import (
	"net/url"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
	twclient "github.com/twilio/twilio-go/client"
)

var twilioDocParams = url.Values{
	"CallSid": {"CA1234567890ABCDE"},
	"Caller":  {"+12349013030"},
	"Digits":  {"1234"},
	"From":    {"+12349013030"},
	"To":      {"+18005551212"},
}

func TestTwilioSignatureDocumentedVector(t *testing.T) {
	if got := Signature(twilioDocToken, twilioDocURL, twilioDocParams); got != twilioDocSig {
		t.Fatalf("Signature = %q, want Twilio's documented %q", got, twilioDocSig)
	}
	if err := VerifySignature(twilioDocToken, twilioDocURL, twilioDocParams, twilioDocSig); err != nil {
		t.Fatalf("documented request refused: %v", err)
	}
}

func TestVerifyTwilioSignature(t *testing.T) {
	tampered := url.Values{}
	for k, v := range twilioDocParams {
		tampered[k] = v
	}
	tampered.Set("Digits", "9999")
	extra := url.Values{}
	for k, v := range twilioDocParams {
		extra[k] = v
	}
	extra.Set("Injected", "1")
	cases := []struct {
		name   string
		token  string
		url    string
		params url.Values
		sig    string
		ok     bool
	}{
		{"documented", twilioDocToken, twilioDocURL, twilioDocParams, twilioDocSig, true},
		{"with :443 port", twilioDocToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", twilioDocParams, twilioDocSig, true},
		{"tampered param", twilioDocToken, twilioDocURL, tampered, twilioDocSig, false},
		{"added param", twilioDocToken, twilioDocURL, extra, twilioDocSig, false},
		{"other query", twilioDocToken, "https://mycompany.com/myapp.php?foo=1&bar=3", twilioDocParams, twilioDocSig, false},
		{"http instead of https", twilioDocToken, "http://mycompany.com/myapp.php?foo=1&bar=2", twilioDocParams, twilioDocSig, false},
		{"wrong token", "54321", twilioDocURL, twilioDocParams, twilioDocSig, false},
		{"empty token", "", twilioDocURL, twilioDocParams, twilioDocSig, false},
		{"missing header", twilioDocToken, twilioDocURL, twilioDocParams, "", false},
		{"not base64", twilioDocToken, twilioDocURL, twilioDocParams, "%%%", false},
		{"truncated", twilioDocToken, twilioDocURL, twilioDocParams, twilioDocSig[:20], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySignature(tc.token, tc.url, tc.params, tc.sig)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				testkit.WantKind(t, err, provider.ErrInvalidSignature)
				if testkit.HTTPStatus(err) != 403 {
					t.Errorf("status %d", testkit.HTTPStatus(err))
				}
			}
		})
	}
}

// twilio-go's own test vectors (client/request_validator_test.go) cover the
// bodySHA256 variant for JSON bodies and the port rules.
func TestVerifyTwilioSignatureTwilioGoVectors(t *testing.T) {
	params := url.Values{"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"}}
	if err := VerifySignature("12345", twilioDocURL, params, "vOEb5UThFn24KEfnOFLQY2AE5FY="); err != nil {
		t.Errorf("https vector: %v", err)
	}
	if err := VerifySignature("12345", "http://mycompany.com:80/myapp.php?foo=1&bar=2", params, "n2xBNyzSW7rfYStDtOFiFMv7qNo="); err != nil {
		t.Errorf("http vector with :80: %v", err)
	}
	// Sorting "ReasonConferenceEnded" before "Reason" is wrong.
	testkit.WantKind(t, VerifySignature("12345", twilioDocURL, params, "95+Bu0JVPi0r/SsESZCVf0dWAjw="), provider.ErrInvalidSignature)

	body := []byte(`{"property": "value", "boolean": true}`)
	u := twilioDocURL + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
	if err := VerifyBodySignature("12345", u, body, "a9nBmqA0ju/hNViExpshrM61xv4="); err != nil {
		t.Errorf("bodySHA256 vector: %v", err)
	}
	testkit.WantKind(t, VerifyBodySignature("12345", u, []byte(`{"property": "value", "boolean": false}`), "a9nBmqA0ju/hNViExpshrM61xv4="), provider.ErrInvalidSignature)
	testkit.WantKind(t, VerifyBodySignature("12345", twilioDocURL, body, "a9nBmqA0ju/hNViExpshrM61xv4="), provider.ErrInvalidSignature)
}

// Our signer agrees with twilio-go's validator on arbitrary requests.
func TestTwilioSignatureAgreesWithTwilioGo(t *testing.T) {
	v := twclient.NewRequestValidator("s3cr3t")
	for i, tc := range []struct {
		url    string
		params map[string]string
	}{
		{"https://sb.example.com/webhooks/twilio/sms", map[string]string{"Body": "héllo & bye=1", "From": "+14155550100", "MessageSid": "SM1", "NumMedia": "0"}},
		{"https://sb.example.com/webhooks/twilio/voice?org=7&x=%2F", map[string]string{"CallSid": "CA1", "CallStatus": "ringing", "": "empty key"}},
		{"https://sb.example.com:8443/v", map[string]string{"a": "", "A": "upper", "b": "2"}},
	} {
		form := url.Values{}
		for k, val := range tc.params {
			form.Set(k, val)
		}
		sig := Signature("s3cr3t", tc.url, form)
		if !v.Validate(tc.url, tc.params, sig) {
			t.Errorf("case %d: twilio-go refuses our signature %q", i, sig)
		}
		if err := VerifySignature("s3cr3t", tc.url, form, sig); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

// Twilio's documented example (https://www.twilio.com/docs/usage/security,
// "Validating Signatures from Twilio"): auth token 12345, this URL and these
// POST parameters give 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
const (
	twilioDocURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	twilioDocToken = "12345"
	twilioDocSig   = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
)

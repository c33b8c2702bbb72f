package twilio

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
	twclient "github.com/twilio/twilio-go/client"
)

// FuzzErrorBodies feeds arbitrary status codes and bodies to the Twilio
// error parser: no panic, a sentinel picked, and the body rewrite always
// decodes as a TwilioRestError carrying the HTTP status.
func FuzzErrorBodies(f *testing.F) {
	testkit.ErrorBodySeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		status = testkit.FuzzStatus(status)
		te := parseTwilioError(status, body)
		testkit.CheckClassified(t, "twilio", classifyTwilio(status, te.Code, te.Message))
		var re twclient.TwilioRestError
		if err := json.Unmarshal(twilioErrorBody(status, body), &re); err != nil || re.Status != status {
			t.Fatalf("rewritten Twilio body does not decode: %v (status %d)", err, re.Status)
		}
	})
}

// FuzzTwilioSignature checks the X-Twilio-Signature verifier on arbitrary
// URLs, forms and headers: no panic, only ErrInvalidSignature failures, and
// a signature we compute always verifies.
func FuzzTwilioSignature(f *testing.F) {
	f.Add(twilioDocURL, "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212", twilioDocSig)
	f.Add("http://h:80/p?bodySHA256=00", "", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("https://[::1]:443/x", "a=1&a=2&b", "%%%")
	f.Add("::", "=", "")
	f.Fuzz(func(t *testing.T, rawURL, form, sig string) {
		params, _ := url.ParseQuery(form)
		err := VerifySignature("12345", rawURL, params, sig)
		if err != nil && !errors.Is(err, provider.ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err := VerifyBodySignature("12345", rawURL, []byte(form), sig); err != nil && !errors.Is(err, provider.ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if len(rawURL) <= maxSignedURL {
			good := Signature("12345", rawURL, params)
			if err := VerifySignature("12345", rawURL, params, good); err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}

package provider

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	twclient "github.com/twilio/twilio-go/client"
)

var sentinels = []error{ErrNumberUnavailable, ErrInsufficientBalance, ErrInvalidCredentials, ErrRateLimited,
	ErrProviderDown, ErrNotFound, ErrNotSupported, ErrBadRequest}

func checkClassified(t *testing.T, what string, e *Error) {
	t.Helper()
	if e == nil {
		t.Fatalf("%s: nil error", what)
	}
	for _, s := range sentinels {
		if e.Kind == s {
			if HTTPStatus(e) == 500 {
				t.Fatalf("%s: %v maps to 500", what, e)
			}
			_ = e.Error()
			return
		}
	}
	t.Fatalf("%s: kind %v is not a sentinel", what, e.Kind)
}

// FuzzProviderErrorBodies feeds arbitrary status codes and bodies to every
// provider error parser: none may panic, each must pick a sentinel, and the
// Twilio body rewrite must always decode as a TwilioRestError carrying the
// HTTP status.
func FuzzProviderErrorBodies(f *testing.F) {
	f.Add(400, []byte(`{"code":21422,"message":"PhoneNumber is not available","more_info":"https://www.twilio.com/docs/errors/21422","status":400}`))
	f.Add(401, []byte(`{"errors":[{"code":"10009","title":"Authentication failed","detail":"x"}]}`))
	f.Add(420, []byte(`{"error-code":"420","error-code-label":"method failed"}`))
	f.Add(200, []byte(`{"message-count":"1","messages":[{"status":"9","error-text":"Quota Exceeded"}]}`))
	f.Add(403, []byte(`{"type":"https://example.com/Error#out-of-credit","title":"You do not have enough credit"}`))
	f.Add(502, []byte(`<html>Bad Gateway</html>`))
	f.Add(429, []byte(`{"code":"20429","status":"x"}`))
	f.Add(0, []byte(`{"errors":[null,{"code":1e400}]}`))
	f.Add(-1, []byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 0 || status > 999 {
			status = 500
		}
		te := parseTwilioError(status, body)
		checkClassified(t, "twilio", classifyTwilio(status, te.Code, te.Message))
		var re twclient.TwilioRestError
		if err := json.Unmarshal(twilioErrorBody(status, body), &re); err != nil || re.Status != status {
			t.Fatalf("rewritten Twilio body does not decode: %v (status %d)", err, re.Status)
		}
		if status >= 400 {
			checkClassified(t, "telnyx", classifyTelnyx(status, body))
			checkClassified(t, "vonage problem", classifyVonageProblem(status, body))
		}
		for _, op := range []string{"buy", "update", "list"} {
			if e := vonageNumbersError(op, status, body); e != nil {
				checkClassified(t, "vonage numbers", e)
			}
		}
		if e := classifyVonageSMS(status, body); e != nil {
			checkClassified(t, "vonage sms", e)
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
		err := VerifyTwilioSignature("12345", rawURL, params, sig)
		if err != nil && !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err := VerifyTwilioBodySignature("12345", rawURL, []byte(form), sig); err != nil && !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if len(rawURL) <= maxSignedURL {
			good := TwilioSignature("12345", rawURL, params)
			if err := VerifyTwilioSignature("12345", rawURL, params, good); err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}

// FuzzTelnyxSignature checks the Ed25519 verifier on arbitrary headers,
// keys and bodies, and that a correctly signed body always verifies.
func FuzzTelnyxSignature(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := base64.StdEncoding.EncodeToString(seed.Public().(ed25519.PublicKey))
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"data":{"event_type":"call.initiated"}}`)
	f.Add(pub, base64.StdEncoding.EncodeToString(ed25519.Sign(seed, []byte(ts+"|"+string(body)))), ts, body)
	f.Add("", "", "", []byte(nil))
	f.Add("MCowBQYDK2VwAyEA", "====", "-1", []byte("|"))
	f.Add(pub, "AAAA", "99999999999999999999", []byte("x"))
	f.Fuzz(func(t *testing.T, key, sig, timestamp string, b []byte) {
		if err := VerifyTelnyxSignature(key, sig, timestamp, b, now); err != nil && !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		good := base64.StdEncoding.EncodeToString(ed25519.Sign(seed, []byte(ts+"|"+string(b))))
		if err := VerifyTelnyxSignature(pub, good, ts, b, now); err != nil {
			t.Fatalf("good signature refused: %v", err)
		}
	})
}

// FuzzVonageJWT checks the signed-webhook JWT parser on arbitrary tokens
// and bodies, and that a token we sign for a body always verifies.
func FuzzVonageJWT(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"status":"answered"}`)
	f.Add("Bearer "+SignVonageWebhookJWT("secret", body, now, nil), body)
	f.Add("Bearer a.b.c", []byte(nil))
	f.Add("eyJhbGciOiJub25lIn0.e30.", []byte("{}"))
	f.Add("bearer "+signRaw("secret", `{"iat":1e99,"exp":"x","nbf":-1}`), []byte(nil))
	f.Add("Bearer "+signRaw("secret", `{"iat":"1700000000","payload_hash":"zz"}`), []byte("x"))
	f.Fuzz(func(t *testing.T, auth string, b []byte) {
		if _, err := VerifyVonageJWT("secret", auth, b, now); err != nil && !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		tok := SignVonageWebhookJWT("secret", b, now, nil)
		if _, err := VerifyVonageJWT("secret", "Bearer "+tok, b, now); err != nil {
			t.Fatalf("own token refused: %v", err)
		}
	})
}

// FuzzVonageSMSSignature checks the SMS API sig verifier on arbitrary
// parameters and methods, and that parameters we sign always verify.
func FuzzVonageSMSSignature(f *testing.F) {
	f.Add("a=1&b=2&timestamp=1461605396&sig=6af838ef94998832dbfc29020b564830", "md5hash")
	f.Add("text=a%26b%3Dc&timestamp=1700000000&sig=ZZ", "sha256")
	f.Add("sig=&timestamp=", "sha512")
	f.Add("a=1&a=2", "MD5")
	f.Fuzz(func(t *testing.T, query, method string) {
		params, _ := url.ParseQuery(query)
		now := time.Unix(1_700_000_000, 0)
		if err := VerifyVonageSMSSignature(params, "secret", method, now); err != nil && !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		params.Set("timestamp", strconv.FormatInt(now.Unix(), 10))
		sig, err := VonageSMSSignature(params, "secret", method)
		if err != nil {
			return // unknown method
		}
		params.Set("sig", sig)
		if err := VerifyVonageSMSSignature(params, "secret", method, now); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}

// FuzzRetryAfter checks the Retry-After parser: never negative, bounded.
func FuzzRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("-5")
	f.Add("9223372036854775807")
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryAfter(v, time.Unix(1_700_000_000, 0))
		if ok && (d < 0 || d > 24*time.Hour) {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("retryAfter(%q) = %v without ok", v, d)
		}
	})
}

// FuzzVonageQueryPayload: any query string gives valid JSON (an object with
// one member per distinct key) or an error, never a panic.
func FuzzVonageQueryPayload(f *testing.F) {
	f.Add("to=447700900000&from=447700900001&uuid=u1")
	f.Add("a=1&a=2&b=%0A&c=%22%5C")
	f.Add("x=%zz")
	f.Fuzz(func(t *testing.T, q string) {
		out, err := VonageQueryPayload(q)
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(out, &m) != nil || m == nil {
			t.Fatalf("%q gave invalid JSON %s", q, out)
		}
	})
}

package provider

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	twclient "github.com/twilio/twilio-go/client"
)

// Twilio's documented example (https://www.twilio.com/docs/usage/security,
// "Validating Signatures from Twilio"): auth token 12345, this URL and these
// POST parameters give 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
const (
	twilioDocURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	twilioDocToken = "12345"
	twilioDocSig   = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
)

var twilioDocParams = url.Values{
	"CallSid": {"CA1234567890ABCDE"},
	"Caller":  {"+12349013030"},
	"Digits":  {"1234"},
	"From":    {"+12349013030"},
	"To":      {"+18005551212"},
}

func TestTwilioSignatureDocumentedVector(t *testing.T) {
	if got := TwilioSignature(twilioDocToken, twilioDocURL, twilioDocParams); got != twilioDocSig {
		t.Fatalf("TwilioSignature = %q, want Twilio's documented %q", got, twilioDocSig)
	}
	if err := VerifyTwilioSignature(twilioDocToken, twilioDocURL, twilioDocParams, twilioDocSig); err != nil {
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
			err := VerifyTwilioSignature(tc.token, tc.url, tc.params, tc.sig)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				wantKind(t, err, ErrInvalidSignature)
				if HTTPStatus(err) != 403 {
					t.Errorf("status %d", HTTPStatus(err))
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
	if err := VerifyTwilioSignature("12345", twilioDocURL, params, "vOEb5UThFn24KEfnOFLQY2AE5FY="); err != nil {
		t.Errorf("https vector: %v", err)
	}
	if err := VerifyTwilioSignature("12345", "http://mycompany.com:80/myapp.php?foo=1&bar=2", params, "n2xBNyzSW7rfYStDtOFiFMv7qNo="); err != nil {
		t.Errorf("http vector with :80: %v", err)
	}
	// Sorting "ReasonConferenceEnded" before "Reason" is wrong.
	wantKind(t, VerifyTwilioSignature("12345", twilioDocURL, params, "95+Bu0JVPi0r/SsESZCVf0dWAjw="), ErrInvalidSignature)

	body := []byte(`{"property": "value", "boolean": true}`)
	u := twilioDocURL + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
	if err := VerifyTwilioBodySignature("12345", u, body, "a9nBmqA0ju/hNViExpshrM61xv4="); err != nil {
		t.Errorf("bodySHA256 vector: %v", err)
	}
	wantKind(t, VerifyTwilioBodySignature("12345", u, []byte(`{"property": "value", "boolean": false}`), "a9nBmqA0ju/hNViExpshrM61xv4="), ErrInvalidSignature)
	wantKind(t, VerifyTwilioBodySignature("12345", twilioDocURL, body, "a9nBmqA0ju/hNViExpshrM61xv4="), ErrInvalidSignature)
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
		sig := TwilioSignature("s3cr3t", tc.url, form)
		if !v.Validate(tc.url, tc.params, sig) {
			t.Errorf("case %d: twilio-go refuses our signature %q", i, sig)
		}
		if err := VerifyTwilioSignature("s3cr3t", tc.url, form, sig); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

func telnyxSign(priv ed25519.PrivateKey, ts string, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(ts+"|"+string(body))))
}

func TestVerifyTelnyxSignature(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	pubB64 := base64.StdEncoding.EncodeToString(pub)
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	spkiB64 := base64.StdEncoding.EncodeToString(spki)

	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"data":{"event_type":"message.received","payload":{"text":"hi"}}}`)
	good := telnyxSign(priv, ts, body)
	stale := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	edge := strconv.FormatInt(now.Add(-5*time.Minute).Unix(), 10)

	cases := []struct {
		name, key, sig, ts string
		body               []byte
		ok                 bool
	}{
		{"good", pubB64, good, ts, body, true},
		{"good, DER public key", spkiB64, good, ts, body, true},
		{"good, 5 minutes old", pubB64, telnyxSign(priv, edge, body), edge, body, true},
		{"tampered body", pubB64, good, ts, []byte(`{"data":{"event_type":"message.received","payload":{"text":"HI"}}}`), false},
		{"tampered timestamp", pubB64, good, strconv.FormatInt(now.Unix()+1, 10), body, false},
		{"stale", pubB64, telnyxSign(priv, stale, body), stale, body, false},
		{"from the future", pubB64, telnyxSign(priv, future, body), future, body, false},
		{"other key", pubB64, telnyxSign(otherPriv, ts, body), ts, body, false},
		{"missing signature", pubB64, "", ts, body, false},
		{"missing timestamp", pubB64, good, "", body, false},
		{"bad timestamp", pubB64, good, "yesterday", body, false},
		{"bad key", "not-base64!", good, ts, body, false},
		{"short key", base64.StdEncoding.EncodeToString(pub[:16]), good, ts, body, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyTelnyxSignature(tc.key, tc.sig, tc.ts, tc.body, now)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				wantKind(t, err, ErrInvalidSignature)
			}
		})
	}

	h := http.Header{}
	h.Set("Telnyx-Signature-Ed25519", good)
	h.Set("Telnyx-Timestamp", ts)
	if err := VerifyTelnyxRequest(pubB64, h, body, now); err != nil {
		t.Errorf("VerifyTelnyxRequest: %v", err)
	}
}

func TestVerifyVonageJWT(t *testing.T) {
	const secret = "sig-secret"
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"status":"answered","uuid":"abc"}`)
	good := SignVonageWebhookJWT(secret, body, now, map[string]any{"application_id": "app-1", "api_key": "abcd1234", "iss": "Vonage"})

	c, err := VerifyVonageJWT(secret, "Bearer "+good, body, now.Add(30*time.Second))
	if err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	if c.ApplicationID != "app-1" || c.APIKey != "abcd1234" || !c.IssuedAt.Equal(now) || len(c.PayloadHash) != 64 {
		t.Errorf("claims = %+v", c)
	}

	enc := base64.RawURLEncoding
	parts := strings.Split(good, ".")
	noneTok := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	hs512 := enc.EncodeToString([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]
	swapped := parts[0] + "." + enc.EncodeToString([]byte(`{"iat":1700000000,"payload_hash":"00"}`)) + "." + parts[2]
	cases := []struct {
		name, secret, auth string
		body               []byte
		at                 time.Time
	}{
		{"tampered body", secret, "Bearer " + good, []byte(`{"status":"completed","uuid":"abc"}`), now},
		{"wrong secret", "other", "Bearer " + good, body, now},
		{"stale", secret, "Bearer " + good, body, now.Add(6 * time.Minute)},
		{"issued in the future", secret, "Bearer " + good, body, now.Add(-6 * time.Minute)},
		{"alg none", secret, "Bearer " + noneTok, body, now},
		{"alg HS512", secret, "Bearer " + hs512, body, now},
		{"claims swapped", secret, "Bearer " + swapped, body, now},
		{"missing header", secret, "", body, now},
		{"not a JWT", secret, "Bearer abc.def", body, now},
		{"no secret configured", "", "Bearer " + good, body, now},
		{"no payload_hash for a body", secret, "Bearer " + signRaw(secret, `{"iat":1700000000}`), body, now},
		{"no iat", secret, "Bearer " + signRaw(secret, `{"payload_hash":"x"}`), nil, now},
		{"expired", secret, "Bearer " + signRaw(secret, `{"iat":1700000000,"exp":1700000010}`), nil, now.Add(time.Minute)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyVonageJWT(tc.secret, tc.auth, tc.body, tc.at)
			wantKind(t, err, ErrInvalidSignature)
		})
	}
	// A GET webhook has no body: no payload_hash is needed.
	if _, err := VerifyVonageJWT(secret, signRaw(secret, `{"iat":1700000000}`), nil, now); err != nil {
		t.Errorf("bodyless token refused: %v", err)
	}
}

// signRaw signs arbitrary claims with HS256.
func signRaw(secret, claims string) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	return s + "." + hs256(secret, s)
}

// Test vectors from Vonage's SDK tests (vonage-python-sdk tests/test_client
// and vonage-ruby): params a=1, b=2, timestamp=1461605396, secret "secret".
func TestVonageSMSSignatureVectors(t *testing.T) {
	params := url.Values{"a": {"1"}, "b": {"2"}, "timestamp": {"1461605396"}}
	cases := map[string]string{
		VonageSigMD5Hash: "6af838ef94998832dbfc29020b564830",
		VonageSigMD5:     "C15C21CED558C93A226C305F58F902F2",
		VonageSigSHA1:    "3E19A4E6880FDC2C1426BFD0587C98B9532F0210",
		VonageSigSHA256:  "A321E824B9B816BE7C3F28859A31749A098713D39F613C80D455BBAFFAE1CD24",
		VonageSigSHA512:  "812A18F76680FA0FE1B8BD9EE1625466CEB1BD96242E4D050D2CFD9A7B40166C63ED26EC9702168781B6EDCF1633DB8FF95AF9341701004EEC3FCF9550572EE8",
	}
	at := time.Unix(1461605396, 0).Add(time.Minute)
	for method, want := range cases {
		got, err := VonageSMSSignature(params, "secret", method)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", method, got, err, want)
		}
		signed := url.Values{"a": {"1"}, "b": {"2"}, "timestamp": {"1461605396"}, "sig": {strings.ToLower(want)}}
		if err := VerifyVonageSMSSignature(signed, "secret", method, at); err != nil {
			t.Errorf("%s: verify (lowercase sig): %v", method, err)
		}
		signed.Set("sig", strings.ToUpper(want))
		if err := VerifyVonageSMSSignature(signed, "secret", method, at); err != nil {
			t.Errorf("%s: verify (uppercase sig): %v", method, err)
		}
	}
	if _, err := VonageSMSSignature(params, "secret", "crc32"); err == nil {
		t.Error("unknown method accepted")
	}
}

func TestVerifyVonageSMSSignature(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	base := url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A00000012345678"},
		"text": {"a&b=c"}, "type": {"text"}, "timestamp": {strconv.FormatInt(now.Unix(), 10)}, "nonce": {"abc"}}
	sign := func(v url.Values, method string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		sig, err := VonageSMSSignature(out, "secret", method)
		if err != nil {
			t.Fatal(err)
		}
		out.Set("sig", sig)
		return out
	}
	good := sign(base, VonageSigSHA256)
	if err := VerifyVonageSMSSignature(good, "secret", VonageSigSHA256, now); err != nil {
		t.Fatalf("good: %v", err)
	}
	// '&' and '=' in values are replaced by '_' before signing: both spellings verify the same.
	if a, _ := VonageSMSSignature(url.Values{"text": {"a&b=c"}}, "s", VonageSigMD5Hash); a != mustSig(t, url.Values{"text": {"a_b_c"}}, "s", VonageSigMD5Hash) {
		t.Error("'&' and '=' in values are not normalised")
	}
	tampered := sign(base, VonageSigSHA256)
	tampered.Set("text", "other")
	stale := url.Values{}
	for k, v := range base {
		stale[k] = v
	}
	stale.Set("timestamp", strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10))
	stale = sign(stale, VonageSigSHA256)
	noTS := url.Values{}
	for k, v := range base {
		if k != "timestamp" {
			noTS[k] = v
		}
	}
	noTS = sign(noTS, VonageSigSHA256)
	cases := []struct {
		name   string
		params url.Values
		secret string
		method string
	}{
		{"tampered", tampered, "secret", VonageSigSHA256},
		{"wrong secret", good, "other", VonageSigSHA256},
		{"wrong method", good, "secret", VonageSigSHA512},
		{"stale", stale, "secret", VonageSigSHA256},
		{"no timestamp", noTS, "secret", VonageSigSHA256},
		{"no sig", base, "secret", VonageSigSHA256},
		{"no secret", good, "", VonageSigSHA256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, VerifyVonageSMSSignature(tc.params, tc.secret, tc.method, now), ErrInvalidSignature)
		})
	}
}

func mustSig(t *testing.T, v url.Values, secret, method string) string {
	t.Helper()
	s, err := VonageSMSSignature(v, secret, method)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hs256(secret, signing string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

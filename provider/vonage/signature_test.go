package vonage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

func TestVerifyVonageJWT(t *testing.T) {
	const secret = "sig-secret"
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"status":"answered","uuid":"abc"}`)
	good := SignWebhookJWT(secret, body, now, map[string]any{"application_id": "app-1", "api_key": "abcd1234", "iss": "Vonage"})

	c, err := VerifyJWT(secret, "Bearer "+good, body, now.Add(30*time.Second))
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
			_, err := VerifyJWT(tc.secret, tc.auth, tc.body, tc.at)
			testkit.WantKind(t, err, provider.ErrInvalidSignature)
		})
	}
	// A GET webhook has no body: no payload_hash is needed.
	if _, err := VerifyJWT(secret, signRaw(secret, `{"iat":1700000000}`), nil, now); err != nil {
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
		SigMD5Hash: "6af838ef94998832dbfc29020b564830",
		SigMD5:     "C15C21CED558C93A226C305F58F902F2",
		SigSHA1:    "3E19A4E6880FDC2C1426BFD0587C98B9532F0210",
		SigSHA256:  "A321E824B9B816BE7C3F28859A31749A098713D39F613C80D455BBAFFAE1CD24",
		SigSHA512:  "812A18F76680FA0FE1B8BD9EE1625466CEB1BD96242E4D050D2CFD9A7B40166C63ED26EC9702168781B6EDCF1633DB8FF95AF9341701004EEC3FCF9550572EE8",
	}
	at := time.Unix(1461605396, 0).Add(time.Minute)
	for method, want := range cases {
		got, err := SMSSignature(params, "secret", method)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", method, got, err, want)
		}
		signed := url.Values{"a": {"1"}, "b": {"2"}, "timestamp": {"1461605396"}, "sig": {strings.ToLower(want)}}
		if err := VerifySMSSignature(signed, "secret", method, at); err != nil {
			t.Errorf("%s: verify (lowercase sig): %v", method, err)
		}
		signed.Set("sig", strings.ToUpper(want))
		if err := VerifySMSSignature(signed, "secret", method, at); err != nil {
			t.Errorf("%s: verify (uppercase sig): %v", method, err)
		}
	}
	if _, err := SMSSignature(params, "secret", "crc32"); err == nil {
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
		sig, err := SMSSignature(out, "secret", method)
		if err != nil {
			t.Fatal(err)
		}
		out.Set("sig", sig)
		return out
	}
	good := sign(base, SigSHA256)
	if err := VerifySMSSignature(good, "secret", SigSHA256, now); err != nil {
		t.Fatalf("good: %v", err)
	}
	// '&' and '=' in values are replaced by '_' before signing: both spellings verify the same.
	if a, _ := SMSSignature(url.Values{"text": {"a&b=c"}}, "s", SigMD5Hash); a != mustSig(t, url.Values{"text": {"a_b_c"}}, "s", SigMD5Hash) {
		t.Error("'&' and '=' in values are not normalised")
	}
	tampered := sign(base, SigSHA256)
	tampered.Set("text", "other")
	stale := url.Values{}
	for k, v := range base {
		stale[k] = v
	}
	stale.Set("timestamp", strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10))
	stale = sign(stale, SigSHA256)
	noTS := url.Values{}
	for k, v := range base {
		if k != "timestamp" {
			noTS[k] = v
		}
	}
	noTS = sign(noTS, SigSHA256)
	cases := []struct {
		name   string
		params url.Values
		secret string
		method string
	}{
		{"tampered", tampered, "secret", SigSHA256},
		{"wrong secret", good, "other", SigSHA256},
		{"wrong method", good, "secret", SigSHA512},
		{"stale", stale, "secret", SigSHA256},
		{"no timestamp", noTS, "secret", SigSHA256},
		{"no sig", base, "secret", SigSHA256},
		{"no secret", good, "", SigSHA256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testkit.WantKind(t, VerifySMSSignature(tc.params, tc.secret, tc.method, now), provider.ErrInvalidSignature)
		})
	}
}

func mustSig(t *testing.T, v url.Values, secret, method string) string {
	t.Helper()
	s, err := SMSSignature(v, secret, method)
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

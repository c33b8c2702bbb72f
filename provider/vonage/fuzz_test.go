package vonage

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

// FuzzVonageJWT checks the signed-webhook JWT parser on arbitrary tokens
// and bodies, and that a token we sign for a body always verifies.
func FuzzVonageJWT(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"status":"answered"}`)
	f.Add("Bearer "+SignWebhookJWT("secret", body, now, nil), body)
	f.Add("Bearer a.b.c", []byte(nil))
	f.Add("eyJhbGciOiJub25lIn0.e30.", []byte("{}"))
	f.Add("bearer "+signRaw("secret", `{"iat":1e99,"exp":"x","nbf":-1}`), []byte(nil))
	f.Add("Bearer "+signRaw("secret", `{"iat":"1700000000","payload_hash":"zz"}`), []byte("x"))
	f.Fuzz(func(t *testing.T, auth string, b []byte) {
		if _, err := VerifyJWT("secret", auth, b, now); err != nil && !errors.Is(err, provider.ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		tok := SignWebhookJWT("secret", b, now, nil)
		if _, err := VerifyJWT("secret", "Bearer "+tok, b, now); err != nil {
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
		if err := VerifySMSSignature(params, "secret", method, now); err != nil && !errors.Is(err, provider.ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		params.Set("timestamp", strconv.FormatInt(now.Unix(), 10))
		sig, err := SMSSignature(params, "secret", method)
		if err != nil {
			return // unknown method
		}
		params.Set("sig", sig)
		if err := VerifySMSSignature(params, "secret", method, now); err != nil {
			t.Fatalf("own signature refused: %v", err)
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
		out, err := QueryPayload(q)
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(out, &m) != nil || m == nil {
			t.Fatalf("%q gave invalid JSON %s", q, out)
		}
	})
}

// FuzzErrorBodies feeds arbitrary status codes and bodies to the Vonage
// error parsers (Messages and Voice problems, Numbers, SMS): no panic, and
// every error found picks a sentinel.
func FuzzErrorBodies(f *testing.F) {
	testkit.ErrorBodySeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status = testkit.FuzzStatus(status); status >= 400 {
			testkit.CheckClassified(t, "vonage problem", classifyVonageProblem(status, body))
		}
		for _, op := range []string{"buy", "update", "list"} {
			if e := vonageNumbersError(op, status, body); e != nil {
				testkit.CheckClassified(t, "vonage numbers", e)
			}
		}
		if e := classifyVonageSMS(status, body); e != nil {
			testkit.CheckClassified(t, "vonage sms", e)
		}
	})
}

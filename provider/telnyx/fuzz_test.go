package telnyx

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

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
		if err := VerifySignature(key, sig, timestamp, b, now); err != nil && !errors.Is(err, provider.ErrInvalidSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		good := base64.StdEncoding.EncodeToString(ed25519.Sign(seed, []byte(ts+"|"+string(b))))
		if err := VerifySignature(pub, good, ts, b, now); err != nil {
			t.Fatalf("good signature refused: %v", err)
		}
	})
}

// FuzzErrorBodies feeds arbitrary status codes and bodies to the Telnyx
// error parser: no panic, and every error answer picks a sentinel.
func FuzzErrorBodies(f *testing.F) {
	testkit.ErrorBodySeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status = testkit.FuzzStatus(status); status >= 400 {
			testkit.CheckClassified(t, "telnyx", classifyTelnyx(status, body))
		}
	})
}

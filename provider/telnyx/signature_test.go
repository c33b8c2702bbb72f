package telnyx

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

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
			err := VerifySignature(tc.key, tc.sig, tc.ts, tc.body, now)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				testkit.WantKind(t, err, provider.ErrInvalidSignature)
			}
		})
	}

	h := http.Header{}
	h.Set("Telnyx-Signature-Ed25519", good)
	h.Set("Telnyx-Timestamp", ts)
	if err := VerifyRequest(pubB64, h, body, now); err != nil {
		t.Errorf("VerifyRequest: %v", err)
	}
}

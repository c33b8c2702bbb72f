package telnyx

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// Telnyx webhook signature headers and the accepted clock skew.
const (
	SignatureHeader = "telnyx-signature-ed25519"
	TimestampHeader = "telnyx-timestamp"
	Tolerance       = 5 * time.Minute
)

// ed25519SPKIPrefix starts the DER SubjectPublicKeyInfo of an Ed25519 key.
var ed25519SPKIPrefix = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}

// ParsePublicKey decodes the public key shown in the Telnyx portal:
// base64 of the 32-byte Ed25519 key (a base64 DER SubjectPublicKeyInfo is
// accepted too).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, wire.SigErr(provider.NameTelnyx, "public key is not base64")
	}
	if len(raw) == len(ed25519SPKIPrefix)+ed25519.PublicKeySize && bytes.HasPrefix(raw, ed25519SPKIPrefix) {
		raw = raw[len(ed25519SPKIPrefix):]
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, wire.SigErr(provider.NameTelnyx, "public key is not 32 bytes")
	}
	return ed25519.PublicKey(raw), nil
}

// VerifySignature checks a Telnyx webhook: signature is the base64
// Ed25519 signature (header telnyx-signature-ed25519) of
// timestamp + "|" + body, timestamp (header telnyx-timestamp) is Unix seconds
// and must be within Tolerance of now. The result wraps
// ErrInvalidSignature on any failure.
func VerifySignature(publicKey, signature, timestamp string, body []byte, now time.Time) error {
	pub, err := ParsePublicKey(publicKey)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return wire.SigErr(provider.NameTelnyx, "malformed "+SignatureHeader)
	}
	timestamp = strings.TrimSpace(timestamp)
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ts <= 0 {
		return wire.SigErr(provider.NameTelnyx, "malformed "+TimestampHeader)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Tolerance || d < -Tolerance {
		return wire.SigErr(provider.NameTelnyx, "timestamp outside the tolerance (replayed or stale)")
	}
	msg := make([]byte, 0, len(timestamp)+1+len(body))
	msg = append(msg, timestamp...)
	msg = append(msg, '|')
	msg = append(msg, body...)
	if !ed25519.Verify(pub, msg, sig) {
		return wire.SigErr(provider.NameTelnyx, "signature mismatch")
	}
	return nil
}

// VerifyRequest reads the two headers and calls VerifySignature.
func VerifyRequest(publicKey string, h http.Header, body []byte, now time.Time) error {
	return VerifySignature(publicKey, h.Get(SignatureHeader), h.Get(TimestampHeader), body, now)
}

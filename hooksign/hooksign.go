// Package hooksign signs what sipbridge posts to an assistant's own
// endpoints: inbound SMS forwards and calls' status callbacks. Both carry
// the hex HMAC-SHA256 of the body, keyed by the assistant's webhook secret,
// so an assistant checks every post from sipbridge with one function.
package hooksign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Headers of a signed post.
const (
	// SignatureHeader holds Sign(secret, body).
	SignatureHeader = "X-Sipbridge-Signature"
	// AttemptHeader counts the deliveries of the same post, from 1.
	AttemptHeader = "X-Sipbridge-Attempt"
)

// Sign is the signature of body: hex HMAC-SHA256 keyed by secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

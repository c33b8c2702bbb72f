// Package secret seals the secrets sipbridge keeps at rest (SIP passwords,
// provider tokens, webhook secrets) with AES-256-GCM. A ciphertext is stored as
//
//	enc:v1:<key id>:<base64(nonce || sealed)>
//
// where the key id (first 8 hex digits of SHA-256 of the key) names the key of
// the ring that sealed it, so that any key of the ring can open it and
// `sipbridge admin rotate-secrets` can find what the current key did not seal.
// The additional data binds a ciphertext to its column and row: a value copied
// into another row or column does not open.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNoKey means SECRET_KEY is empty or invalid.
	ErrNoKey = errors.New("secret: SECRET_KEY must be base64 of 32 bytes (comma-separated list for a key ring)")
	// ErrUnknownKey means the ciphertext was sealed by a key that is not in the ring.
	ErrUnknownKey = errors.New("secret: sealed by a key not in SECRET_KEY")
	// ErrCorruptSecret means the stored value is not a valid ciphertext for its row.
	ErrCorruptSecret = errors.New("secret: stored value cannot be opened")
)

const secretPrefix = "enc:v1:"

type ringKey struct {
	id   string
	aead cipher.AEAD
	raw  []byte // for Derive
}

// Keyring holds the secret keys; the first one seals, all of them open.
type Keyring struct {
	keys []ringKey
}

// ParseKeyring parses SECRET_KEY: one or more base64 (standard or URL, padded
// or not) 32-byte keys separated by commas; the first is current.
func ParseKeyring(s string) (*Keyring, error) {
	var kr Keyring
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		raw, err := decodeB64(part)
		if err != nil || len(raw) != 32 {
			return nil, ErrNoKey
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, ErrNoKey
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, ErrNoKey
		}
		sum := sha256.Sum256(raw)
		kr.keys = append(kr.keys, ringKey{id: hex.EncodeToString(sum[:4]), aead: aead, raw: raw})
	}
	if len(kr.keys) == 0 {
		return nil, ErrNoKey
	}
	return &kr, nil
}

func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, ErrNoKey
}

// NewKey returns a fresh random key, base64 encoded, for SECRET_KEY.
func NewKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Derive returns a key for purpose from each key of the ring, the current
// key's first: HMAC-SHA256 of the purpose under the key, so that what the
// processes sharing SECRET_KEY derive for one purpose (e.g. signing their
// requests to each other) neither reveals the key nor opens what it seals.
func (k *Keyring) Derive(purpose string) [][]byte {
	out := make([][]byte, len(k.keys))
	for i, key := range k.keys {
		m := hmac.New(sha256.New, key.raw)
		m.Write([]byte("sipbridge derived key: " + purpose))
		out[i] = m.Sum(nil)
	}
	return out
}

// CurrentKeyID is the id of the key that seals new values.
func (k *Keyring) CurrentKeyID() string { return k.keys[0].id }

// Seal encrypts plaintext for the given context (table.column:row id). An
// empty plaintext is stored as the empty string (nothing to hide).
func (k *Keyring) Seal(context, plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	key := k.keys[0]
	nonce := make([]byte, key.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("db: nonce: %w", err)
	}
	sealed := key.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return secretPrefix + key.id + ":" + base64.StdEncoding.EncodeToString(sealed), nil
}

// Open decrypts a value written by Seal for the same context.
func (k *Keyring) Open(context, stored string) (string, error) {
	if stored == "" {
		return "", nil
	}
	kid, body, ok := splitSecret(stored)
	if !ok {
		return "", ErrCorruptSecret
	}
	for _, key := range k.keys {
		if key.id != kid {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(body)
		if err != nil || len(raw) < key.aead.NonceSize() {
			return "", ErrCorruptSecret
		}
		ns := key.aead.NonceSize()
		pt, err := key.aead.Open(nil, raw[:ns], raw[ns:], []byte(context))
		if err != nil {
			return "", ErrCorruptSecret
		}
		return string(pt), nil
	}
	return "", ErrUnknownKey
}

// NeedsRotation reports whether stored was sealed by a key other than the current one.
func (k *Keyring) NeedsRotation(stored string) bool {
	if stored == "" {
		return false
	}
	kid, _, ok := splitSecret(stored)
	return !ok || kid != k.keys[0].id
}

func splitSecret(stored string) (kid, body string, ok bool) {
	if !strings.HasPrefix(stored, secretPrefix) {
		return "", "", false
	}
	rest := stored[len(secretPrefix):]
	i := strings.IndexByte(rest, ':')
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

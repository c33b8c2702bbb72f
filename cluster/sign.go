package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"time"
	"unicode"

	"github.com/sipbridge/sipbridge/provider"
)

// SignatureHeader carries a replica's signature of a request it sends to
// another replica (Signer.Sign):
//
//	t=<unix seconds>&n=<random hex>&org=<organization id>&by=<replica name>&to=<replica name>&v1=<hex HMAC-SHA256>
//
// The HMAC covers the method, the path, the organization, the sending and
// the receiving replica, the time, the nonce and the body, under a key
// every replica derives from SECRET_KEY (secret.Keyring.Derive(
// SigningPurpose)): a request signed for one replica is refused by the
// others.
const SignatureHeader = "X-Sipbridge-Replica-Signature"

// SigningPurpose is the purpose of the replicas' signing key.
const SigningPurpose = "replica requests"

// SignatureTolerance is how far a signed request's time may be from the
// receiver's clock; a signature is accepted once within it.
const SignatureTolerance = 30 * time.Second

// Reasons a signed request is refused.
var (
	// ErrUnsigned: no signature, or not in SignatureHeader's form (401).
	ErrUnsigned = errors.New("the request carries no replica signature")
	// ErrBadSignature: signed with another key, for another request or for
	// another replica (403).
	ErrBadSignature = errors.New("the replica signature does not match")
	// ErrStaleSignature: its time is outside SignatureTolerance (403).
	ErrStaleSignature = errors.New("the replica signature is too old or in the future")
	// ErrReplayedSignature: the same signature was already accepted (403).
	ErrReplayedSignature = errors.New("the replica signature was already used")
)

// Signature is a parsed SignatureHeader.
type Signature struct {
	At    time.Time
	Nonce string // random: two requests alike are signed apart
	Org   int64
	By    string // the signing replica's name
	To    string // the replica it is meant for
	MAC   []byte
}

const nonceBytes = 12

// maxSignatureHeader bounds the header read (a name, two numbers, a MAC).
const maxSignatureHeader = 512

// ParseSignature reads a SignatureHeader value: each of t, n, org, by, to
// and v1 exactly once, nothing else.
func ParseSignature(h string) (Signature, error) {
	var s Signature
	if h == "" || len(h) > maxSignatureHeader {
		return s, ErrUnsigned
	}
	q, err := url.ParseQuery(h)
	if err != nil || len(q) != 6 {
		return s, ErrUnsigned
	}
	for _, k := range []string{"t", "n", "org", "by", "to", "v1"} {
		if len(q[k]) != 1 {
			return s, ErrUnsigned
		}
	}
	t, err := strconv.ParseInt(q.Get("t"), 10, 64)
	if err != nil || t <= 0 || t > 1<<40 {
		return s, ErrUnsigned
	}
	org, err := strconv.ParseInt(q.Get("org"), 10, 64)
	if err != nil || org <= 0 {
		return s, ErrUnsigned
	}
	mac, err := hex.DecodeString(q.Get("v1"))
	if err != nil || len(mac) != sha256.Size {
		return s, ErrUnsigned
	}
	by, to, nonce := q.Get("by"), q.Get("to"), q.Get("n")
	if by == "" || !printable(by) || to == "" || !printable(to) {
		return s, ErrUnsigned
	}
	if n, err := hex.DecodeString(nonce); err != nil || len(n) != nonceBytes {
		return s, ErrUnsigned
	}
	return Signature{At: time.Unix(t, 0), Nonce: nonce, Org: org, By: by, To: to, MAC: mac}, nil
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Signer signs this replica's requests to the others and checks theirs.
type Signer struct {
	keys [][]byte // the current key's first: it signs, all check
	me   string
	now  func() time.Time
	used provider.ReplayCache
}

// NewSigner signs as replica me with keys (secret.Keyring.Derive(
// SigningPurpose); at least one). now is the clock (nil: time.Now).
func NewSigner(keys [][]byte, me string, now func() time.Time) *Signer {
	if len(keys) == 0 {
		panic("cluster: no signing key")
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{keys: keys, me: me, now: now}
}

// Sign returns the SignatureHeader value of a request about an
// organization's call, for the replica named to.
func (s *Signer) Sign(method, path string, org int64, to string, body []byte) string {
	t, n := s.now().Unix(), make([]byte, nonceBytes)
	_, _ = rand.Read(n) // crypto/rand never fails on supported platforms
	sig := Signature{At: time.Unix(t, 0), Nonce: hex.EncodeToString(n), Org: org, By: s.me, To: to}
	q := url.Values{"t": {strconv.FormatInt(t, 10)}, "n": {sig.Nonce}, "org": {strconv.FormatInt(org, 10)}, "by": {s.me}, "to": {to}}
	q.Set("v1", hex.EncodeToString(mac(s.keys[0], method, path, sig, body)))
	return q.Encode()
}

// Verify checks a request's SignatureHeader value (the organization it
// speaks for is the signature's Org): any key of the ring, for this
// replica, within SignatureTolerance, once.
func (s *Signer) Verify(method, path string, body []byte, header string) (Signature, error) {
	sig, err := ParseSignature(header)
	if err != nil {
		return sig, err
	}
	ok := false
	for _, k := range s.keys {
		if hmac.Equal(sig.MAC, mac(k, method, path, sig, body)) {
			ok = true
		}
	}
	now := s.now()
	switch {
	case !ok || sig.To != s.me:
		return sig, ErrBadSignature
	case sig.At.Before(now.Add(-SignatureTolerance)) || sig.At.After(now.Add(SignatureTolerance)):
		return sig, ErrStaleSignature
	case s.used.Seen(hex.EncodeToString(sig.MAC), now):
		return sig, ErrReplayedSignature
	}
	return sig, nil
}

// mac is the HMAC of a request's parts, each length-prefixed so that no
// two requests share their input.
func mac(key []byte, method, path string, sig Signature, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, part := range [][]byte{[]byte("sipbridge replica request v1"), []byte(method), []byte(path),
		[]byte(strconv.FormatInt(sig.Org, 10)), []byte(sig.By), []byte(sig.To), []byte(strconv.FormatInt(sig.At.Unix(), 10)), []byte(sig.Nonce), body} {
		m.Write([]byte(strconv.Itoa(len(part)) + ":"))
		m.Write(part)
	}
	return m.Sum(nil)
}

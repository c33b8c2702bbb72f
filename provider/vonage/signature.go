package vonage

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// Tolerance is the accepted age of a signed Vonage webhook (JWT iat,
// SMS timestamp).
const Tolerance = provider.ReplayTolerance

// maxVonageJWT bounds the token we parse.
const maxVonageJWT = 8 << 10

// Claims are the claims of a verified signed webhook.
type Claims struct {
	IssuedAt      time.Time
	ApplicationID string
	APIKey        string
	PayloadHash   string
	JTI           string
}

// VerifyJWT checks a Vonage signed webhook (Voice and Messages APIs):
// authorization is the Authorization header ("Bearer <jwt>", or the bare
// token), an HS256 JWT signed with the account's signature secret. body is
// the signed payload: the request body of a POST, QueryPayload of the
// query of a GET. The payload_hash claim must be the hex SHA-256 of body
// (required when body is not empty), its iat within Tolerance of now, its exp (if any) not
// past. Other algorithms, "none" included, are refused. The result wraps
// ErrInvalidSignature on any failure.
func VerifyJWT(signatureSecret, authorization string, body []byte, now time.Time) (Claims, error) {
	if signatureSecret == "" {
		return Claims{}, wire.SigErr(provider.NameVonage, "no signature secret configured")
	}
	tok := strings.TrimSpace(authorization)
	if len(tok) >= 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" || len(tok) > maxVonageJWT {
		return Claims{}, wire.SigErr(provider.NameVonage, "missing or oversized JWT")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return Claims{}, wire.SigErr(provider.NameVonage, "malformed JWT")
	}
	hdrJSON, err1 := b64url(parts[0])
	claimsJSON, err2 := b64url(parts[1])
	sig, err3 := b64url(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return Claims{}, wire.SigErr(provider.NameVonage, "malformed JWT encoding")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil || hdr.Alg != "HS256" {
		return Claims{}, wire.SigErr(provider.NameVonage, "JWT algorithm must be HS256")
	}
	mac := hmac.New(sha256.New, []byte(signatureSecret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return Claims{}, wire.SigErr(provider.NameVonage, "JWT signature mismatch")
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(claimsJSON))
	dec.UseNumber()
	if dec.Decode(&raw) != nil || raw == nil {
		return Claims{}, wire.SigErr(provider.NameVonage, "malformed JWT claims")
	}
	c := Claims{
		ApplicationID: claimString(raw["application_id"]),
		APIKey:        claimString(raw["api_key"]),
		PayloadHash:   claimString(raw["payload_hash"]),
		JTI:           claimString(raw["jti"]),
	}
	iat, ok := claimUnix(raw["iat"])
	if !ok {
		return Claims{}, wire.SigErr(provider.NameVonage, "JWT without iat")
	}
	c.IssuedAt = time.Unix(iat, 0)
	if d := now.Sub(c.IssuedAt); d > Tolerance || d < -Tolerance {
		return Claims{}, wire.SigErr(provider.NameVonage, "JWT iat outside the tolerance (replayed or stale)")
	}
	if exp, ok := claimUnix(raw["exp"]); ok && now.Unix() > exp {
		return Claims{}, wire.SigErr(provider.NameVonage, "JWT expired")
	}
	if nbf, ok := claimUnix(raw["nbf"]); ok && now.Add(Tolerance).Unix() < nbf {
		return Claims{}, wire.SigErr(provider.NameVonage, "JWT not valid yet")
	}
	if c.PayloadHash == "" {
		if len(body) > 0 {
			return Claims{}, wire.SigErr(provider.NameVonage, "JWT without payload_hash for a body")
		}
		return c, nil
	}
	want, err := hex.DecodeString(c.PayloadHash)
	sum := sha256.Sum256(body)
	if err != nil || !hmac.Equal(want, sum[:]) {
		return Claims{}, wire.SigErr(provider.NameVonage, "payload_hash does not match the body")
	}
	return c, nil
}

// SignWebhookJWT mints the token Vonage would send with body (the
// signed payload, see VerifyJWT): HS256 over {"iat","jti",
// "payload_hash", extra claims...}. It exists for tests of webhook handlers.
func SignWebhookJWT(signatureSecret string, body []byte, now time.Time, extra map[string]any) string {
	sum := sha256.Sum256(body)
	claims := map[string]any{"iat": now.Unix(), "jti": strconv.FormatInt(now.UnixNano(), 36), "payload_hash": hex.EncodeToString(sum[:])}
	for k, v := range extra {
		claims[k] = v
	}
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	mac := hmac.New(sha256.New, []byte(signatureSecret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func claimString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func claimUnix(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		if f, err := x.Float64(); err == nil && f > -1e15 && f < 1e15 {
			return int64(f), true
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// Signature methods of the Vonage SMS API, as chosen in the dashboard.
const (
	SigMD5Hash = "md5hash" // MD5(query + secret), lowercase hex (the default)
	SigMD5     = "md5"     // HMAC-MD5(secret, query), uppercase hex
	SigSHA1    = "sha1"    // HMAC-SHA1
	SigSHA256  = "sha256"  // HMAC-SHA256
	SigSHA512  = "sha512"  // HMAC-SHA512
)

// SMSSignature computes the "sig" of SMS API parameters: the params
// (sig excluded, first value of each) sorted by key and joined as
// "&key=value" with '&' and '=' inside values replaced by '_'; md5hash is
// the MD5 of that string followed by the secret, the other methods the HMAC
// of it keyed by the secret (uppercase hex).
func SMSSignature(params url.Values, secret, method string) (string, error) {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sig" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := ""
		if vs := params[k]; len(vs) > 0 {
			v = vs[0]
		}
		b.WriteByte('&')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strings.NewReplacer("&", "_", "=", "_").Replace(v))
	}
	query := b.String()
	var newHash func() hash.Hash
	switch strings.ToLower(method) {
	case SigMD5Hash:
		sum := md5.Sum([]byte(query + secret))
		return hex.EncodeToString(sum[:]), nil
	case SigMD5:
		newHash = md5.New
	case SigSHA1:
		newHash = sha1.New
	case SigSHA256:
		newHash = sha256.New
	case SigSHA512:
		newHash = sha512.New
	default:
		return "", wire.SigErr(provider.NameVonage, "unknown signature method "+strconvQuote(method))
	}
	mac := hmac.New(newHash, []byte(secret))
	mac.Write([]byte(query))
	return strings.ToUpper(hex.EncodeToString(mac.Sum(nil))), nil
}

// VerifySMSSignature checks a signed SMS API webhook: params are all
// its parameters (query or form), sig and timestamp included; the timestamp
// (Unix seconds) must be within Tolerance of now. The hex comparison
// ignores case and runs in constant time. The result wraps
// ErrInvalidSignature on any failure.
func VerifySMSSignature(params url.Values, secret, method string, now time.Time) error {
	if secret == "" {
		return wire.SigErr(provider.NameVonage, "no signature secret configured")
	}
	got, err := hex.DecodeString(params.Get("sig"))
	if err != nil || len(got) == 0 {
		return wire.SigErr(provider.NameVonage, "missing or malformed sig")
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(params.Get("timestamp")), 10, 64)
	if err != nil {
		return wire.SigErr(provider.NameVonage, "missing or malformed timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Tolerance || d < -Tolerance {
		return wire.SigErr(provider.NameVonage, "timestamp outside the tolerance (replayed or stale)")
	}
	want, err := SMSSignature(params, secret, method)
	if err != nil {
		return err
	}
	wantRaw, _ := hex.DecodeString(want)
	if !hmac.Equal(got, wantRaw) {
		return wire.SigErr(provider.NameVonage, "sig mismatch")
	}
	return nil
}

func strconvQuote(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strconv.Quote(s)
}

// QueryPayload returns what the payload_hash of a signed Vonage Voice
// webhook sent by GET covers (answer_url's default answer_method is GET).
// Vonage hashes no body there: it builds an object of the query parameters,
// in the order they appear in the query string, and serialises it as JSON
// with no whitespace; the SHA-256 of that string is payload_hash (Vonage API
// support article 19033783342876, "How do I verify that the Voice API
// Webhook request and its payload has not been tampered during transit?",
// read 2026-12; developer.vonage.com "Decoding signed webhooks").
//
// Keys and values are form-decoded ('+' is a space); a key given more than
// once becomes an array of its values, at the place of its first
// appearance; strings are escaped as JavaScript's JSON.stringify escapes
// them (quote, backslash and control characters only; '<', '>', '&' and
// non-ASCII stay as they are). Invalid UTF-8 becomes U+FFFD. An empty query
// is "{}". A malformed percent-escape is an error.
func QueryPayload(rawQuery string) ([]byte, error) {
	type param struct {
		key  string
		vals []string
	}
	var params []*param
	index := map[string]*param{}
	for _, seg := range strings.Split(rawQuery, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		p := index[key]
		if p == nil {
			p = &param{key: key}
			index[key] = p
			params = append(params, p)
		}
		p.vals = append(p.vals, val)
	}
	b := make([]byte, 0, len(rawQuery)+8)
	b = append(b, '{')
	for i, p := range params {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSString(b, p.key)
		b = append(b, ':')
		if len(p.vals) == 1 {
			b = appendJSString(b, p.vals[0])
			continue
		}
		b = append(b, '[')
		for j, v := range p.vals {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendJSString writes s as a JSON string the way JSON.stringify does.
func appendJSString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// SignatureHeader carries Twilio's webhook signature.
const SignatureHeader = "X-Twilio-Signature"

// maxSignedURL bounds the URL a signature is computed over.
const maxSignedURL = 8 << 10

// Signature computes the X-Twilio-Signature of a request:
// base64(HMAC-SHA1(authToken, fullURL + each form key followed by its
// values, keys in byte order)). fullURL is the URL Twilio called, query
// included. For a GET or a JSON body pass nil params.
func Signature(authToken, fullURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals := append([]string(nil), params[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks the X-Twilio-Signature of a form webhook.
// fullURL is the public URL Twilio requested (scheme, host, path, query);
// params are the POST form fields (nil for a GET). Twilio signs the URL with
// or without the default port depending on the client, so both forms are
// accepted. The result wraps ErrInvalidSignature on any mismatch.
func VerifySignature(authToken, fullURL string, params url.Values, signature string) error {
	if authToken == "" {
		return wire.SigErr("twilio", "no auth token configured")
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(got) != sha1.Size {
		return wire.SigErr("twilio", "malformed "+SignatureHeader)
	}
	if len(fullURL) > maxSignedURL {
		return wire.SigErr("twilio", "URL too long")
	}
	for _, u := range twilioURLVariants(fullURL) {
		want, _ := base64.StdEncoding.DecodeString(Signature(authToken, u, params))
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return wire.SigErr("twilio", "signature mismatch")
}

// VerifyBodySignature checks a webhook whose body is not a form (JSON):
// Twilio adds bodySHA256=<hex sha256 of the body> to the URL and signs the
// URL alone.
func VerifyBodySignature(authToken, fullURL string, body []byte, signature string) error {
	u, err := url.Parse(fullURL)
	if err != nil {
		return wire.SigErr("twilio", "malformed URL")
	}
	hash, err := hex.DecodeString(u.Query().Get("bodySHA256"))
	if err != nil || len(hash) != sha256.Size {
		return wire.SigErr("twilio", "missing or malformed bodySHA256")
	}
	sum := sha256.Sum256(body)
	if !hmac.Equal(hash, sum[:]) {
		return wire.SigErr("twilio", "body does not match bodySHA256")
	}
	return VerifySignature(authToken, fullURL, nil, signature)
}

// twilioURLVariants returns the URL as given and with its default port
// toggled (https:443, http:80).
func twilioURLVariants(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return out
	}
	def := map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
	if def == "" {
		return out
	}
	host, port, err := net.SplitHostPort(u.Host)
	switch {
	case err == nil && port == def:
		u.Host = host
		if strings.Contains(host, ":") {
			u.Host = "[" + host + "]"
		}
	case err != nil && !strings.Contains(u.Host, "]:") && strings.Count(u.Host, ":") == 0:
		u.Host = u.Host + ":" + def
	default:
		return out
	}
	return append(out, u.String())
}

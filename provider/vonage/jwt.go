package vonage

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/provider"
)

// vonageJWTTTL is the lifetime of the application JWTs we mint (Vonage
// recommends short-lived tokens; 15 minutes is their SDKs' default).
const vonageJWTTTL = 15 * time.Minute

// parseRSAPrivateKey reads a PEM RSA key, PKCS#8 ("PRIVATE KEY", what the
// Vonage dashboard hands out) or PKCS#1 ("RSA PRIVATE KEY"). A key pasted
// into an environment variable with literal "\n" is accepted.
func parseRSAPrivateKey(s string) (*rsa.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("not PEM encoded")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("invalid PKCS#8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key")
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("invalid PKCS#1 key")
		}
		return k, nil
	default:
		return nil, errors.New("unexpected PEM block " + block.Type)
	}
}

// vonageAppJWT mints the RS256 JWT of a Vonage application:
// {"application_id","iat","exp","jti"}.
func vonageAppJWT(applicationID string, key *rsa.PrivateKey, now time.Time) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{
		"application_id": applicationID,
		"iat":            now.Unix(),
		"exp":            now.Add(vonageJWTTTL).Unix(),
		"jti":            hex.EncodeToString(jti[:]),
	})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// bearer returns the Authorization value of the Voice and Messages APIs.
func (v *Client) bearer() (string, error) {
	if v.key == nil || !set(v.creds.ApplicationID) {
		return "", &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrInvalidCredentials,
			Message: "the Voice API needs the application id and private key"}
	}
	tok, err := vonageAppJWT(v.creds.ApplicationID, v.key, v.clock.Now())
	if err != nil {
		return "", &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrInvalidCredentials, Message: "signing JWT: " + err.Error()}
	}
	return "Bearer " + tok, nil
}

// set reports whether s holds more than blanks.
func set(s string) bool { return strings.TrimSpace(s) != "" }

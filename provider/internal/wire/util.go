// Package wire holds what the Twilio, Telnyx and Vonage clients share on
// the wire: the HTTP core (per-attempt timeout, retries of idempotent
// requests, redaction), the default classification of provider errors and
// small decoding helpers. It is internal to provider/.
package wire

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
)

// Deref is *p, or the zero value when p is nil.
func Deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// AtoiDigits parses a short string of ASCII digits.
func AtoiDigits(s string) (int, error) {
	if s == "" || len(s) > 9 {
		return 0, errors.New("want 1 to 9 digits")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("want digits only")
		}
	}
	return strconv.Atoi(s)
}

// DigitsOnly drops a leading "+" of an E.164 number (Vonage's msisdn form).
func DigitsOnly(e164 string) string {
	if len(e164) > 0 && e164[0] == '+' {
		return e164[1:]
	}
	return e164
}

// JSONString renders a decoded JSON scalar as a string.
func JSONString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return ""
	}
}

// JSONInt reads a decoded JSON number or numeric string as an int.
func JSONInt(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x != x || x > 1<<31 || x < -(1<<31) { // NaN or out of range
			return 0, false
		}
		return int(x), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil || n > 1<<31 || n < -(1<<31) {
			return 0, false
		}
		return n, true
	default:
		return 0, false
	}
}

// FirstSet is the first of vals that is not blank.
func FirstSet(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// Malformed is the ErrBadRequest of a webhook body that cannot be read.
func Malformed(name, msg string) error {
	return &provider.Error{Provider: name, Kind: provider.ErrBadRequest, Message: msg}
}

// E164ish adds the "+" Vonage leaves out of numbers; anything that is not
// all digits (an alphanumeric sender) is kept as given.
func E164ish(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "+") {
		return s
	}
	if strings.Trim(s, "0123456789") == "" {
		return "+" + s
	}
	return s
}

// JSONScalar renders a decoded JSON scalar (json.Number included) as a
// string.
func JSONScalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// SigErr is an ErrInvalidSignature of the named provider.
func SigErr(name, msg string) error {
	return &provider.Error{Provider: name, Kind: provider.ErrInvalidSignature, Message: msg}
}

package provider

import (
	"errors"
	"strconv"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// isE164 reports whether s is "+" followed by 8 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoiDigits parses a short string of ASCII digits.
func atoiDigits(s string) (int, error) {
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

// digitsOnly drops a leading "+" of an E.164 number (Vonage's msisdn form).
func digitsOnly(e164 string) string {
	if len(e164) > 0 && e164[0] == '+' {
		return e164[1:]
	}
	return e164
}

package did

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// e164RE is the strict E.164 form: a plus, a non-zero digit, at most 15
// digits in all.
var e164RE = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)

// maxNumberLen bounds what is handed to phonenumbers: "011 44 (20) 7946-0018"
// is 21 characters, a longer value is no number anyone dials.
const maxNumberLen = 40

// IsE164 reports whether s is in strict E.164 form ^\+[1-9]\d{1,14}$.
func IsE164(s string) bool { return e164RE.MatchString(s) }

// NormalizeE164 turns a phone number as carriers and people write it into
// E.164. s is a number with optional visual separators (space - . ( ) /),
// a leading +, an international prefix of defaultCountry (00…, 011…), a
// national form of defaultCountry (6478491000, 16478491000 with US/CA, 020
// 7946 0018 with GB), or a tel: URI (tel:+1-647-849-1000,
// tel:8491000;phone-context=+1647). defaultCountry is ISO 3166-1 alpha-2;
// empty accepts only numbers written with + (or a global phone-context).
//
// A number written internationally (+, 00…, 011…) must be a possible number
// for its country; a national form must be a VALID number of
// defaultCountry, so that a PBX extension such as 9228 (possible but not
// valid in DE) is never mistaken for one. Anything else is ErrNotE164.
func NormalizeE164(s, defaultCountry string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 4 && strings.EqualFold(s[:4], "tel:") {
		num, ctx := splitUserParams(unescape(s[4:]))
		return normalize(num, ctx, defaultCountry)
	}
	return normalize(s, "", defaultCountry)
}

// normalize applies a phone-context (RFC 3966: a global context's digits
// prefix a local number; a domain context leaves it national) and parses.
func normalize(num, phoneContext, country string) (string, error) {
	num, ok := stripSeparators(num)
	if !ok {
		return "", ErrNotE164
	}
	if strings.HasPrefix(phoneContext, "+") && !strings.HasPrefix(num, "+") {
		ctx, ok := stripSeparators(phoneContext)
		if !ok {
			return "", ErrNotE164
		}
		num = ctx + num
	}
	if len(num) < 2 || len(num) > maxNumberLen || strings.LastIndexByte(num, '+') > 0 {
		return "", ErrNotE164
	}
	region := strings.ToUpper(country)
	if num[0] != '+' && region == "" {
		return "", ErrNotE164 // a national form without a country is a guess
	}
	out, err := parse(num, region)
	if err != nil {
		return "", err
	}
	if out != num {
		// phonenumbers drops a national prefix written after the country
		// code ("+44 (0)20 …"), and in some plans it would drop it again
		// from its own output: keep only forms that read back as themselves.
		if again, err := parse(out, ""); err != nil || again != out {
			return "", ErrNotE164
		}
	}
	return out, nil
}

// parse reads num with phonenumbers and applies the acceptance rule of
// NormalizeE164.
func parse(num, region string) (string, error) {
	pn, err := phonenumbers.ParseAndKeepRawInput(num, region)
	if err != nil {
		return "", ErrNotE164
	}
	switch pn.GetCountryCodeSource() {
	case phonenumbers.PhoneNumber_FROM_NUMBER_WITH_PLUS_SIGN, phonenumbers.PhoneNumber_FROM_NUMBER_WITH_IDD:
		if phonenumbers.IsPossibleNumberWithReason(pn) != phonenumbers.IS_POSSIBLE {
			return "", ErrNotE164
		}
	default: // national, or the country code without +
		if !phonenumbers.IsValidNumber(pn) {
			return "", ErrNotE164
		}
	}
	out := phonenumbers.Format(pn, phonenumbers.E164)
	if !IsE164(out) {
		return "", ErrNotE164
	}
	return out, nil
}

// stripSeparators removes RFC 3966 visual separators (and spaces, slashes)
// and reports whether what remains is an optional + and ASCII digits.
func stripSeparators(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '+':
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteByte(c)
		case c == ' ', c == '\t', c == '-', c == '.', c == '(', c == ')', c == '/':
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// isExtension reports a short PBX extension: 1 to 8 ASCII digits.
func isExtension(s string) bool {
	if len(s) == 0 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitUserParams splits "6478491000;phone-context=+1;ext=2" into the number
// and the phone-context value.
func splitUserParams(user string) (num, phoneContext string) {
	num, params, found := strings.Cut(user, ";")
	for found {
		var p string
		p, params, found = strings.Cut(params, ";")
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "phone-context") {
			phoneContext = strings.TrimSpace(v)
		}
	}
	return strings.TrimSpace(num), phoneContext
}

// unescape decodes %XX escapes (a + is often sent as %2B); an invalid escape
// leaves the value as it is (it then fails as a number).
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

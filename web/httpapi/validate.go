package httpapi

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"github.com/sipbridge/sipbridge/field"
	"github.com/sipbridge/sipbridge/netpolicy"
)

var (
	e164RE    = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
)

// CheckText refuses control characters (CR/LF included), invalid UTF-8 and
// values longer than max runes (field.Text).
func CheckText(name, v string, max int) error { return AsInvalid(field.Text(name, v, max)) }

// CheckToken is CheckText plus no white space (field.Token).
func CheckToken(name, v string, max int) error { return AsInvalid(field.Token(name, v, max)) }

// CheckHostPort validates host[:port] (field.HostPort).
func CheckHostPort(name, v string, required bool) error {
	return AsInvalid(field.HostPort(name, v, required))
}

// AsInvalid answers a refusal of the field package (or of a rule built on
// it, such as trunk.Apply) as 400 naming its field, message unchanged.
func AsInvalid(err error) error {
	var fe *field.Error
	if errors.As(err, &fe) {
		return Invalid(fe.Field, "%s", fe.Message)
	}
	return err
}

// NormalizeE164 checks the strict E.164 form and that the number is possible.
func NormalizeE164(field, v string) (number, country string, err error) {
	if !e164RE.MatchString(v) {
		return "", "", Invalid(field, "%s must be an E.164 number such as +14155550100", field)
	}
	pn, perr := phonenumbers.Parse(v, "")
	if perr != nil || !phonenumbers.IsPossibleNumber(pn) {
		return "", "", Invalid(field, "%s %s is not a possible phone number", field, v)
	}
	return v, phonenumbers.GetRegionCodeForNumber(pn), nil
}

// CheckURL validates an absolute URL with one of schemes ("" passes).
func CheckURL(field, v string, schemes ...string) error {
	if v == "" {
		return nil
	}
	if err := CheckText(field, v, 2048); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return Invalid(field, "%s must be an absolute URL", field)
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return Invalid(field, "%s must use %s", field, strings.Join(schemes, " or "))
}

// policyError turns an address-policy refusal into 400 naming field. A
// name that does not resolve (yet) is accepted: the connection is checked
// again when it is made (and a trunk's ACL says it does not resolve).
func policyError(field string, err error) error {
	if err == nil || errors.Is(err, netpolicy.ErrNotResolved) {
		return nil
	}
	var pe *netpolicy.Error
	if errors.As(err, &pe) {
		return Invalid(field, "%s", pe.Error())
	}
	return err
}

// CheckURLAddress is CheckURL plus the address policy: no credentials in
// the URL, a port 1–65535, and a host (and for a name, what it resolves
// to now) the policy allows.
func (s *Server) CheckURLAddress(ctx context.Context, field, v string, schemes ...string) error {
	if err := CheckURL(field, v, schemes...); err != nil || v == "" {
		return err
	}
	return policyError(field, s.policy.CheckURL(ctx, field, v, schemes...))
}

// CheckHostPortAddress is CheckHostPort plus the address policy.
func (s *Server) CheckHostPortAddress(ctx context.Context, field, v string, required bool) error {
	if err := CheckHostPort(field, v, required); err != nil || v == "" {
		return err
	}
	return policyError(field, s.policy.CheckHostPort(ctx, field, v))
}

// CheckCountry validates an ISO 3166-1 alpha-2 country code.
func CheckCountry(field, v string) error {
	if !countryRE.MatchString(v) || phonenumbers.GetCountryCodeForRegion(v) == 0 {
		return Invalid(field, "%s must be an ISO 3166-1 alpha-2 code such as US or GB", field)
	}
	return nil
}

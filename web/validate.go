package web

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

// checkText refuses control characters (CR/LF included), invalid UTF-8 and
// values longer than max runes (field.Text).
func checkText(name, v string, max int) error { return apiField(field.Text(name, v, max)) }

// checkToken is checkText plus no white space (field.Token).
func checkToken(name, v string, max int) error { return apiField(field.Token(name, v, max)) }

// checkHostPort validates host[:port] (field.HostPort).
func checkHostPort(name, v string, required bool) error {
	return apiField(field.HostPort(name, v, required))
}

// apiField answers a refusal of the field package (or of a rule built on
// it, such as trunk.Apply) as 400 naming its field, message unchanged.
func apiField(err error) error {
	var fe *field.Error
	if errors.As(err, &fe) {
		return invalid(fe.Field, "%s", fe.Message)
	}
	return err
}

// normalizeE164 checks the strict E.164 form and that the number is possible.
func normalizeE164(field, v string) (number, country string, err error) {
	if !e164RE.MatchString(v) {
		return "", "", invalid(field, "%s must be an E.164 number such as +14155550100", field)
	}
	pn, perr := phonenumbers.Parse(v, "")
	if perr != nil || !phonenumbers.IsPossibleNumber(pn) {
		return "", "", invalid(field, "%s %s is not a possible phone number", field, v)
	}
	return v, phonenumbers.GetRegionCodeForNumber(pn), nil
}

func checkURL(field, v string, schemes ...string) error {
	if v == "" {
		return nil
	}
	if err := checkText(field, v, 2048); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return invalid(field, "%s must be an absolute URL", field)
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return invalid(field, "%s must use %s", field, strings.Join(schemes, " or "))
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
		return invalid(field, "%s", pe.Error())
	}
	return err
}

// checkURLAddress is checkURL plus the address policy: no credentials in
// the URL, a port 1–65535, and a host (and for a name, what it resolves
// to now) the policy allows.
func (s *Server) checkURLAddress(ctx context.Context, field, v string, schemes ...string) error {
	if err := checkURL(field, v, schemes...); err != nil || v == "" {
		return err
	}
	return policyError(field, s.policy.CheckURL(ctx, field, v, schemes...))
}

// checkHostPortAddress is checkHostPort plus the address policy.
func (s *Server) checkHostPortAddress(ctx context.Context, field, v string, required bool) error {
	if err := checkHostPort(field, v, required); err != nil || v == "" {
		return err
	}
	return policyError(field, s.policy.CheckHostPort(ctx, field, v))
}

func checkCountry(field, v string) error {
	if !countryRE.MatchString(v) || phonenumbers.GetCountryCodeForRegion(v) == 0 {
		return invalid(field, "%s must be an ISO 3166-1 alpha-2 code such as US or GB", field)
	}
	return nil
}

package web

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/sipbridge/sipbridge/netpolicy"
)

var (
	e164RE     = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)
	hostnameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$`)
	codecRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.@_\-]{0,31}$`)
	countryRE  = regexp.MustCompile(`^[A-Z]{2}$`)
)

// checkText refuses control characters (CR/LF included), invalid UTF-8 and
// values longer than max runes.
func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return invalid(field, "%s must be valid UTF-8", field)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return invalid(field, "%s must not contain control characters (CR, LF, tab, …)", field)
		}
	}
	if utf8.RuneCountInString(v) > max {
		return invalid(field, "%s must be at most %d characters", field, max)
	}
	return nil
}

// checkToken is checkText plus no white space (SIP user names, passwords).
func checkToken(field, v string, max int) error {
	if err := checkText(field, v, max); err != nil {
		return err
	}
	if strings.IndexFunc(v, unicode.IsSpace) >= 0 {
		return invalid(field, "%s must not contain spaces", field)
	}
	return nil
}

// checkHostPort validates host[:port] where host is a DNS name, an IPv4
// address or a bracketed IPv6 address, and port is 1–65535.
func checkHostPort(field, v string, required bool) error {
	if v == "" {
		if required {
			return invalid(field, "%s is required (host or host:port)", field)
		}
		return nil
	}
	if err := checkText(field, v, 255); err != nil {
		return err
	}
	host, port := v, ""
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return invalid(field, "%s has an unclosed IPv6 bracket", field)
		}
		host, port = v[1:end], strings.TrimPrefix(v[end+1:], ":")
		if v[end+1:] != "" && !strings.HasPrefix(v[end+1:], ":") {
			return invalid(field, "%s must be host or host:port", field)
		}
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is6() {
			return invalid(field, "%s has an invalid IPv6 address", field)
		}
	} else if i := strings.LastIndexByte(v, ':'); i >= 0 {
		if strings.Count(v, ":") > 1 {
			return invalid(field, "%s: write an IPv6 address in brackets, e.g. [2001:db8::1]:5060", field)
		}
		host, port = v[:i], v[i+1:]
	}
	if host == "" {
		return invalid(field, "%s is missing the host", field)
	}
	if !strings.HasPrefix(v, "[") {
		if net.ParseIP(host) == nil && !hostnameRE.MatchString(host) {
			return invalid(field, "%s has an invalid host name %q", field, host)
		}
		if looksLikeIPv4(host) && net.ParseIP(host) == nil {
			return invalid(field, "%s has an invalid IPv4 address %q", field, host)
		}
	}
	if port != "" || strings.HasSuffix(v, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return invalid(field, "%s has an invalid port %q: must be 1–65535", field, port)
		}
	}
	return nil
}

func looksLikeIPv4(h string) bool {
	return strings.Trim(h, "0123456789.") == "" && strings.Count(h, ".") >= 1
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

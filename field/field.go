// Package field checks single input values (text, tokens, host[:port])
// and names the input a refusal is about, for the services whose rules
// take outside input (trunk rules) and for the API's handlers.
package field

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a refused input value: the field it is about and why.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Invalid is the refusal of field, its message formatted.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

var hostnameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$`)

// Text refuses control characters (CR/LF included), invalid UTF-8 and
// values longer than max runes.
func Text(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return Invalid(field, "%s must be valid UTF-8", field)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return Invalid(field, "%s must not contain control characters (CR, LF, tab, …)", field)
		}
	}
	if utf8.RuneCountInString(v) > max {
		return Invalid(field, "%s must be at most %d characters", field, max)
	}
	return nil
}

// Token is Text plus no white space (SIP user names, passwords).
func Token(field, v string, max int) error {
	if err := Text(field, v, max); err != nil {
		return err
	}
	if strings.IndexFunc(v, unicode.IsSpace) >= 0 {
		return Invalid(field, "%s must not contain spaces", field)
	}
	return nil
}

// HostPort validates host[:port] where host is a DNS name, an IPv4
// address or a bracketed IPv6 address, and port is 1–65535.
func HostPort(field, v string, required bool) error {
	if v == "" {
		if required {
			return Invalid(field, "%s is required (host or host:port)", field)
		}
		return nil
	}
	if err := Text(field, v, 255); err != nil {
		return err
	}
	host, port := v, ""
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return Invalid(field, "%s has an unclosed IPv6 bracket", field)
		}
		host, port = v[1:end], strings.TrimPrefix(v[end+1:], ":")
		if v[end+1:] != "" && !strings.HasPrefix(v[end+1:], ":") {
			return Invalid(field, "%s must be host or host:port", field)
		}
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is6() {
			return Invalid(field, "%s has an invalid IPv6 address", field)
		}
	} else if i := strings.LastIndexByte(v, ':'); i >= 0 {
		if strings.Count(v, ":") > 1 {
			return Invalid(field, "%s: write an IPv6 address in brackets, e.g. [2001:db8::1]:5060", field)
		}
		host, port = v[:i], v[i+1:]
	}
	if host == "" {
		return Invalid(field, "%s is missing the host", field)
	}
	if !strings.HasPrefix(v, "[") {
		if net.ParseIP(host) == nil && !hostnameRE.MatchString(host) {
			return Invalid(field, "%s has an invalid host name %q", field, host)
		}
		if looksLikeIPv4(host) && net.ParseIP(host) == nil {
			return Invalid(field, "%s has an invalid IPv4 address %q", field, host)
		}
	}
	if port != "" || strings.HasSuffix(v, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Invalid(field, "%s has an invalid port %q: must be 1–65535", field, port)
		}
	}
	return nil
}

func looksLikeIPv4(h string) bool {
	return strings.Trim(h, "0123456789.") == "" && strings.Count(h, ".") >= 1
}

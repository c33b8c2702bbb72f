package call

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sipbridge/sipbridge/netpolicy"
)

// SIPURI is a sip:/sips: URI read by ParseSIPURI.
type SIPURI struct {
	Scheme   string // "sip" or "sips", lower case
	User     string // "" when the URI has none
	HostPort string // host[:port], an IPv6 host in brackets
	Params   string // ";…" as written, "" when none
}

// ErrBadSIPURI is wrapped by every ParseSIPURI error.
var ErrBadSIPURI = errors.New("invalid sip: URI")

// e164Placeholder is the number slot of a Refer-To template.
const e164Placeholder = "{e164}"

// ParseSIPURI reads sip:[user@]host[:port][;params], the part of RFC 3261's
// grammar that is safe to hand to FreeSWITCH (an api argument, a dial
// string, a Refer-To header):
//
//   - user: letters, digits, - _ . ! ~ * ( ) & = + / and %HH escapes;
//     no $ (FreeSWITCH expands $${…} and ${…}), no quote, comma, ; or ?
//   - host: a DNS name, an IPv4 address or a bracketed IPv6 address, with
//     an optional port 1–65535
//   - params: ;name[=value] of the same characters plus [ ] / : and no
//     headers (?…), which would let the URI set headers of the request
//
// With template true the user may hold the {e164} placeholder (and must
// hold it); braces are refused anywhere else.
func ParseSIPURI(s string, template bool) (SIPURI, error) {
	var u SIPURI
	if len(s) > 256 {
		return u, fmt.Errorf("%w: longer than 256 characters", ErrBadSIPURI)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	u.Scheme = strings.ToLower(scheme)
	if !ok || (u.Scheme != "sip" && u.Scheme != "sips") {
		return u, fmt.Errorf("%w: must start with sip: or sips:", ErrBadSIPURI)
	}
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		rest, u.Params = rest[:i], rest[i:]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		u.User, u.HostPort = rest[:at], rest[at+1:]
		if u.User == "" {
			return u, fmt.Errorf("%w: empty user before @", ErrBadSIPURI)
		}
	} else {
		u.HostPort = rest
	}
	user := u.User
	if template {
		if !strings.Contains(user, e164Placeholder) {
			return u, fmt.Errorf("%w: the user part must hold %s", ErrBadSIPURI, e164Placeholder)
		}
		user = strings.ReplaceAll(user, e164Placeholder, "+1")
	}
	if i := badURIChar(user, userChar); i >= 0 {
		return u, fmt.Errorf("%w: character %q not allowed in the user part", ErrBadSIPURI, user[i])
	}
	if err := checkSIPHostPort(u.HostPort); err != nil {
		return u, err
	}
	if u.Params != "" {
		for _, p := range strings.Split(u.Params[1:], ";") {
			name, value, _ := strings.Cut(p, "=")
			if name == "" || badURIChar(name, paramChar) >= 0 || badURIChar(value, paramChar) >= 0 {
				return u, fmt.Errorf("%w: parameter %q: only ;name=value of letters, digits and - _ . ! ~ * ( ) [ ] / : & + %%HH", ErrBadSIPURI, p)
			}
		}
	}
	return u, nil
}

func checkSIPHostPort(hp string) error {
	if hp == "" {
		return fmt.Errorf("%w: no host", ErrBadSIPURI)
	}
	host, _, err := netpolicy.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("%w: host %q: %v", ErrBadSIPURI, hp, err)
	}
	if strings.Contains(hp, "%") || strings.ContainsAny(host, "[]") {
		return fmt.Errorf("%w: host %q must be a name, an IPv4 address or a bracketed IPv6 address", ErrBadSIPURI, hp)
	}
	if c, _ := netpolicy.ClassifyHost(host); c == netpolicy.Invalid {
		return fmt.Errorf("%w: host %q must be a name, an IPv4 address or a bracketed IPv6 address", ErrBadSIPURI, hp)
	}
	return nil
}

func userChar(c byte) bool {
	return alnum(c) || strings.IndexByte("-_.!~*()&=+/", c) >= 0
}

func paramChar(c byte) bool {
	return alnum(c) || strings.IndexByte("-_.!~*()[]/:&+", c) >= 0
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// badURIChar is the index of the first byte of s that ok refuses (a %
// followed by two hex digits is an escape, and allowed), -1 when none.
func badURIChar(s string, ok func(byte) bool) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			i += 2
			continue
		}
		if !ok(c) {
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// CheckTransferHost applies the address policy to the host[:port] a REFER
// or a bridge will send SIP to. A name that does not resolve is let
// through (a SIP domain may only have SRV records; FreeSWITCH looks those
// up itself), a refused class or address is not.
func CheckTransferHost(ctx context.Context, p netpolicy.Policy, hostPort string) error {
	if hostPort == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, netpolicy.ResolveTimeout)
	defer cancel()
	err := p.CheckHostPort(ctx, "", hostPort)
	if err == nil || errors.Is(err, netpolicy.ErrNotResolved) {
		return nil
	}
	var pe *netpolicy.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s", ErrTransferAddressRefused, pe.Error())
	}
	return fmt.Errorf("%w: %s: %v", ErrTransferAddressRefused, hostPort, err)
}

// AddressPolicy is the policy an option holds, netpolicy.Default() when it
// holds none.
func AddressPolicy(p *netpolicy.Policy) netpolicy.Policy {
	if p == nil {
		return netpolicy.Default()
	}
	return *p
}

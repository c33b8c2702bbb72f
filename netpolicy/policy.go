package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrBlocked means the policy refuses the host or address.
	ErrBlocked = errors.New("address not allowed")
	// ErrNotResolved means a host name did not resolve (no such host, DNS
	// failure, timeout): nothing is known about it yet. Write-time checks
	// may accept it; DialContext never connects without addresses.
	ErrNotResolved = errors.New("host does not resolve")
)

// ResolveTimeout bounds one resolution of CheckHost and DialContext when
// the context has no earlier deadline.
const ResolveTimeout = 3 * time.Second

// Policy says which addresses sipbridge may connect to for a tenant. The
// zero value allows public addresses only; Default is the production
// default.
type Policy struct {
	// AllowPrivate allows private networks (RFC 1918, fc00::/7, CGNAT
	// 100.64.0.0/10, …): assistants often run on one.
	AllowPrivate bool
	// AllowLoopback allows loopback, link-local and cloud metadata
	// addresses and names (development: an assistant on 127.0.0.1).
	AllowLoopback bool
	// Resolver looks up a host name's addresses (nil: net.DefaultResolver).
	// network is "ip", "ip4" or "ip6".
	Resolver func(ctx context.Context, network, host string) ([]netip.Addr, error)
	// DialTimeout bounds each connection attempt of DialContext (default
	// 10 s); the context still applies.
	DialTimeout time.Duration
	// Log receives the details of refused and failed connections, which
	// the errors DialContext returns do not carry (default: discard).
	Log *slog.Logger
}

// Default is the production default: public and private networks,
// nothing local.
func Default() Policy { return Policy{AllowPrivate: true} }

// Allowed reports whether the policy allows an address or a host of class
// c. Name is allowed here: its addresses decide.
func (p Policy) Allowed(c Class) bool {
	switch c {
	case Public, Documentation, Name:
		return true
	case Private:
		return p.AllowPrivate
	case Loopback, LinkLocal, Metadata:
		return p.AllowLoopback
	}
	return false
}

// Error is a refused host or address, or a name that did not resolve. Its
// message suits an API answer: it names the host (and the address a name
// resolved to) and why.
type Error struct {
	// Field is the input field, when the check was given one.
	Field string
	// Host is the host as written.
	Host string
	// Addr is the refused address a name resolved to (invalid for a
	// literal or a refused name).
	Addr netip.Addr
	// Class is the refused class (Name when Err is ErrNotResolved).
	Class Class
	// Msg replaces the message built from the other fields (syntax errors).
	Msg string
	// Err is ErrBlocked or ErrNotResolved.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	switch {
	case e.Msg != "":
		b.WriteString(e.Msg)
	case errors.Is(e.Err, ErrNotResolved):
		fmt.Fprintf(&b, "%s does not resolve", e.Host)
	case e.Addr.IsValid():
		fmt.Fprintf(&b, "%s resolves to %s, %s; sipbridge does not connect there", e.Host, e.Addr, describe(e.Class))
	case e.Class == Ambiguous:
		fmt.Fprintf(&b, "%s is a numeric host form that resolvers read differently; write an IPv4 address as a.b.c.d or use a host name", e.Host)
	case e.Class == Invalid:
		fmt.Fprintf(&b, "%q is not a valid host name or IP address", e.Host)
	default:
		fmt.Fprintf(&b, "%s is %s; sipbridge does not connect there", e.Host, describe(e.Class))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func describe(c Class) string { return c.Describe() }

func blocked(host string, c Class) *Error {
	return &Error{Host: host, Class: c, Err: ErrBlocked}
}

func syntax(host, format string, args ...any) *Error {
	return &Error{Host: host, Class: Invalid, Msg: fmt.Sprintf(format, args...), Err: ErrBlocked}
}

func withField(field string, err error) error {
	var pe *Error
	if field != "" && errors.As(err, &pe) && pe.Field == "" {
		cp := *pe
		cp.Field = field
		return &cp
	}
	return err
}

// CheckAddr checks one address.
func (p Policy) CheckAddr(a netip.Addr) error {
	if c := ClassifyIP(a); !p.Allowed(c) {
		return blocked(a.String(), c)
	}
	return nil
}

// CheckHost checks a host (no port; an IPv6 address with or without
// brackets): its class, and for a name every address it resolves to. A
// name that does not resolve gives an error wrapping ErrNotResolved.
func (p Policy) CheckHost(ctx context.Context, host string) error {
	_, err := p.resolveChecked(ctx, "ip", host)
	return err
}

// resolveChecked classifies host, resolves a name, and returns the
// addresses to connect to, all allowed.
func (p Policy) resolveChecked(ctx context.Context, network, host string) ([]netip.Addr, error) {
	c, a := ClassifyHost(host)
	if !p.Allowed(c) {
		return nil, blocked(host, c)
	}
	if c != Name {
		return []netip.Addr{a.Unmap()}, nil // a link-local address keeps its zone: it is needed to dial it
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ResolveTimeout)
		defer cancel()
	}
	resolve := p.Resolver
	if resolve == nil {
		resolve = net.DefaultResolver.LookupNetIP
	}
	addrs, err := resolve(ctx, network, host)
	if err != nil || len(addrs) == 0 {
		if err == nil {
			err = errors.New("no addresses")
		}
		return nil, &Error{Host: host, Class: Name, Err: fmt.Errorf("%w: %w", ErrNotResolved, err)}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if c := ClassifyIP(a); !p.Allowed(c) {
			return nil, &Error{Host: host, Addr: a.WithZone("").Unmap(), Class: c, Err: ErrBlocked}
		}
		out = append(out, a.Unmap())
	}
	return out, nil
}

// CheckHostPort checks host[:port] as a SIP trunk's gateway is written:
// a host name, an IPv4 address or a bracketed IPv6 address, an optional
// port 1–65535, then CheckHost. field names the input in the error.
func (p Policy) CheckHostPort(ctx context.Context, field, hostport string) error {
	host, _, err := SplitHostPort(hostport)
	if err != nil {
		return withField(field, err)
	}
	return withField(field, p.CheckHost(ctx, host))
}

// SplitHostPort splits host[:port] (host a name, an IPv4 address or a
// bracketed IPv6 address); port is 0 when absent and 1–65535 otherwise.
// The host is returned without brackets.
func SplitHostPort(hostport string) (host string, port int, err error) {
	rest := ""
	switch {
	case strings.HasPrefix(hostport, "["):
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", 0, syntax(hostport, "%q has an unclosed IPv6 bracket", hostport)
		}
		host, rest = hostport[1:end], hostport[end+1:]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", 0, syntax(hostport, "%q has an invalid IPv6 address", hostport)
		}
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return "", 0, syntax(hostport, "%q must be host or host:port", hostport)
		}
	case strings.Count(hostport, ":") > 1:
		return "", 0, syntax(hostport, "%q: write an IPv6 address in brackets, e.g. [2001:db8::1]:5060", hostport)
	default:
		host = hostport
		if i := strings.IndexByte(hostport, ':'); i >= 0 {
			host, rest = hostport[:i], hostport[i:]
		}
	}
	if host == "" {
		return "", 0, syntax(hostport, "%q is missing the host", hostport)
	}
	if rest != "" {
		port, err = ParsePort(rest[1:])
		if err != nil {
			return "", 0, syntax(hostport, "%q has an invalid port: must be 1–65535", hostport)
		}
	}
	return host, port, nil
}

// ParsePort reads a port: 1 to 5 decimal digits, 1–65535.
func ParsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("invalid port")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("port out of range 1–65535")
	}
	return n, nil
}

// CheckURL checks an absolute URL a tenant gives sipbridge to connect to:
// one of the schemes (lower case, e.g. "ws", "wss"), no user:password@, no
// port outside 1–65535, and a host CheckHost allows (a name is resolved;
// one that does not resolve gives an error wrapping ErrNotResolved). field
// names the input in the error.
func (p Policy) CheckURL(ctx context.Context, field, rawurl string, schemes ...string) error {
	host, err := checkURLSyntax(rawurl, schemes)
	if err != nil {
		return withField(field, err)
	}
	return withField(field, p.CheckHost(ctx, host))
}

// checkURLSyntax is CheckURL without the host's class; it returns the host.
func checkURLSyntax(rawurl string, schemes []string) (string, error) {
	u, err := url.Parse(rawurl)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return "", syntax("", "must be an absolute URL such as %s://host/path", first(schemes))
	}
	ok := false
	for _, s := range schemes {
		if u.Scheme == s {
			ok = true
		}
	}
	if !ok {
		return "", syntax("", "must use %s", strings.Join(schemes, " or "))
	}
	if u.User != nil {
		return "", syntax("", "must not carry credentials (user:password@host): put them in the path or a header")
	}
	host := u.Hostname()
	if host == "" {
		return "", syntax("", "must name a host")
	}
	// u.Port() is what follows the last ':' after the host; "host:" is
	// refused too.
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if _, err := ParsePort(port); err != nil {
			return "", syntax("", "has an invalid port %q: must be 1–65535", port)
		}
	}
	return host, nil
}

func first(ss []string) string {
	if len(ss) == 0 {
		return "https"
	}
	return ss[0]
}

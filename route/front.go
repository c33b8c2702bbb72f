package route

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/route/did"
)

// DefaultSourceHeader is the header a trusted SIP front (Kamailio) adds
// with the address the INVITE came to it from (SIP_PROXY_SOURCE_HEADER).
const DefaultSourceHeader = "X-Sipbridge-Source"

// Front is the trusted SIP front of FreeSWITCH: the proxies carriers send
// to (SIP_PROXIES) and the header they add with the carrier's address
// (SIP_PROXY_SOURCE_HEADER). The zero Front trusts no proxy: a call's
// source is the address FreeSWITCH received it from.
type Front struct {
	Proxies []netip.Prefix
	Header  string
}

// ParseFront reads SIP_PROXIES (comma-separated addresses or CIDRs) and
// SIP_PROXY_SOURCE_HEADER (an X- header; empty: DefaultSourceHeader). The
// errors name the variable.
func ParseFront(proxies, header string) (Front, error) {
	f := Front{Header: strings.TrimSpace(header)}
	if f.Header == "" {
		f.Header = DefaultSourceHeader
	}
	var errs []error
	if !validHeaderName(f.Header) {
		errs = append(errs, fmt.Errorf("SIP_PROXY_SOURCE_HEADER: %q is not an X- header name (X- then letters, digits and '-'; FreeSWITCH hands only X- headers to sipbridge)", f.Header))
	}
	for _, v := range strings.Split(proxies, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				errs = append(errs, fmt.Errorf("SIP_PROXIES: %q is not an address or CIDR", v))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		f.Proxies = append(f.Proxies, p.Masked())
	}
	return f, errors.Join(errs...)
}

// validHeaderName: X- then at least one letter, digit or '-'.
func validHeaderName(h string) bool {
	if len(h) < 3 || len(h) > 64 || !strings.EqualFold(h[:2], "x-") {
		return false
	}
	for _, c := range h[2:] {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// CIDRs are the proxies as CIDR strings (the FreeSWITCH ACL list).
func (f Front) CIDRs() []string {
	out := make([]string, len(f.Proxies))
	for i, p := range f.Proxies {
		out[i] = p.String()
	}
	return out
}

// trusted reports whether ip is one of the proxies.
func (f Front) trusted(ip netip.Addr) bool {
	for _, p := range f.Proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseSourceHeader reads the carrier's address from the front's header:
// one IP address, optionally with a port ("203.0.113.5",
// "203.0.113.5:5060", "[2001:db8::1]:5060"); lists, names and zones are
// refused.
func ParseSourceHeader(v string) (netip.Addr, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return netip.Addr{}, errors.New("empty")
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		ap, perr := netip.ParseAddrPort(v)
		if perr != nil {
			return netip.Addr{}, fmt.Errorf("%q is not an IP address", trimForDetail(v))
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address (zone)", trimForDetail(v))
	}
	return a.Unmap(), nil
}

func trimForDetail(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}

// source is where an INVITE came from: the address FreeSWITCH received it
// from (network), and when that is a trusted proxy the carrier's address
// from the proxy's header (addr). bad says why a proxied INVITE has no
// usable carrier address (it is then refused as from an unknown trunk).
type source struct {
	addr    netip.Addr
	network string // variable_sip_network_ip as FreeSWITCH gave it
	proxied bool
	bad     string
}

// sourceOf reads the call's source. A header from an address that is not
// a trusted proxy is ignored: anyone can write it.
func (r *Router) sourceOf(vars did.Vars) source {
	s := source{network: vars.First("variable_sip_network_ip")}
	got, _ := netip.ParseAddr(s.network)
	s.addr = got.Unmap()
	if !s.addr.IsValid() || !r.front.trusted(s.addr) {
		return s
	}
	s.proxied = true
	vals := vars("variable_sip_h_" + r.front.Header)
	var err error
	switch {
	case len(vals) == 0:
		err = errors.New("missing")
	case len(vals) > 1:
		err = errors.New("present more than once")
	default:
		s.addr, err = ParseSourceHeader(vals[0])
	}
	if err != nil {
		s.addr, s.bad = netip.Addr{}, fmt.Sprintf("source header %s from proxy %s: %v", r.front.Header, s.network, err)
	}
	return s
}

// String is the source for a detail and the log: "203.0.113.5", or
// "203.0.113.5 via proxy 127.0.0.1".
func (s source) String() string {
	switch {
	case s.bad != "":
		return s.bad
	case s.proxied:
		return s.addr.String() + " via proxy " + s.network
	}
	return s.network
}

// Options are a router's settings.
type Options struct {
	// ImplicitACL tells what a trunk without allowed_addresses allows (the
	// addresses its hosts resolved to); nil: the IP literals among its
	// gateway and proxy.
	ImplicitACL func(*db.SIPTrunk) []netip.Prefix
	// Front is the trusted SIP front (SIP_PROXIES); zero: none.
	Front Front
	// Changes is the database's change feed: routing's reads of trunks,
	// organizations and numbers are cached on it (cache.go; nil: every
	// call reads the database).
	Changes *changes.Feed
}

// New returns a router with its options.
func New(store Store, o Options) *Router {
	return &Router{store: cacheOn(store, o.Changes), implicitACL: o.ImplicitACL, front: o.Front}
}

package trunk

import (
	"net/netip"
	"strings"

	"github.com/sipbridge/sipbridge/field"
)

// ACLLimits are the broadest prefix lengths a trunk's allowed_addresses
// may hold (the platform's MAX_ACL_PREFIX); 0 accepts any.
type ACLLimits struct {
	MaxPrefixV4, MaxPrefixV6 int
}

// ParseACLEntry reads one allowed_addresses entry: a CIDR or a bare address
// (→ /32 or /128). Nothing is ever rewritten: host bits (10.0.0.1/24,
// 1.2.3.4/0) are refused, so are zones, IPv4-mapped IPv6 and prefixes
// broader than the bound p sets.
func ParseACLEntry(v string, p ACLLimits) (netip.Prefix, error) {
	const name = "allowed_addresses"
	v = strings.TrimSpace(v)
	var pf netip.Prefix
	if strings.Contains(v, "/") {
		var err error
		if pf, err = netip.ParsePrefix(v); err != nil {
			return pf, field.Invalid(name, "%s: %q is not an IP address or CIDR (e.g. 203.0.113.0/24)", name, v)
		}
		if pf != pf.Masked() {
			return pf, field.Invalid(name, "%s: %q has host bits set: write the network %s or the single address %s",
				name, v, pf.Masked(), netip.PrefixFrom(pf.Addr(), pf.Addr().BitLen()))
		}
	} else {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return pf, field.Invalid(name, "%s: %q is not an IP address or CIDR (e.g. 203.0.113.0/24)", name, v)
		}
		pf = netip.PrefixFrom(a, a.BitLen())
	}
	if pf.Addr().Is4In6() {
		return pf, field.Invalid(name, "%s: write %q as an IPv4 address or CIDR", name, v)
	}
	bound := p.MaxPrefixV4
	if pf.Addr().Is6() {
		bound = p.MaxPrefixV6
	}
	if pf.Bits() < bound {
		return pf, field.Invalid(name, "%s: %s is broader than /%d, the broadest range this platform accepts (its operator can change MAX_ACL_PREFIX)", name, pf, bound)
	}
	return pf, nil
}

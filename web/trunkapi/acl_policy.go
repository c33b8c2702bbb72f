package trunkapi

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Default bounds of a trunk's allowed_addresses: nothing broader than a /16
// (65,536 IPv4 addresses) or an IPv6 /32 (a carrier's whole allocation).
const (
	DefaultMaxACLPrefixV4 = 16
	DefaultMaxACLPrefixV6 = 32
)

// ACLPolicy is the platform's rule for trunks' allowed_addresses, which
// become FreeSWITCH ACL lists shared by every organization on the switch.
type ACLPolicy struct {
	// MaxPrefixV4 and MaxPrefixV6 are the broadest prefix lengths accepted
	// (MAX_ACL_PREFIX; defaults 16 and 32); 0 accepts any, 0.0.0.0/0 included.
	MaxPrefixV4, MaxPrefixV6 int
	// SharedCarrier is address space that trunks of several organizations
	// may allow (SHARED_CARRIER_CIDRS): a carrier's signalling addresses.
	// Elsewhere an address belongs to the trunks of one organization only.
	SharedCarrier []netip.Prefix
}

// DefaultACLPolicy is the policy without MAX_ACL_PREFIX or
// SHARED_CARRIER_CIDRS.
func DefaultACLPolicy() ACLPolicy {
	return ACLPolicy{MaxPrefixV4: DefaultMaxACLPrefixV4, MaxPrefixV6: DefaultMaxACLPrefixV6}
}

// ParseACLPolicy reads MAX_ACL_PREFIX and SHARED_CARRIER_CIDRS.
//
// MAX_ACL_PREFIX is "N" (the IPv4 bound; IPv6 keeps /32) or a
// comma-separated "v4=N,v6=M" (either may be left out and keeps its
// default): the broadest prefix length a trunk may allow, 0–32 and 0–128.
// SHARED_CARRIER_CIDRS is a comma-separated list of CIDRs without host bits.
func ParseACLPolicy(maxPrefix, shared string) (ACLPolicy, error) {
	p := DefaultACLPolicy()
	bad := fmt.Errorf("MAX_ACL_PREFIX: %q: want N (IPv4) or v4=N,v6=M, the broadest prefix length a trunk may allow (e.g. v4=8,v6=24; 0 allows any)", maxPrefix)
	if v := strings.TrimSpace(maxPrefix); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			if n < 0 || n > 32 {
				return p, bad
			}
			p.MaxPrefixV4 = n
		} else {
			for _, part := range strings.Split(v, ",") {
				k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
				n, err := strconv.Atoi(strings.TrimSpace(val))
				switch k = strings.ToLower(strings.TrimSpace(k)); {
				case !ok || err != nil:
					return p, bad
				case k == "v4" && n >= 0 && n <= 32:
					p.MaxPrefixV4 = n
				case k == "v6" && n >= 0 && n <= 128:
					p.MaxPrefixV6 = n
				default:
					return p, bad
				}
			}
		}
	}
	for _, part := range strings.Split(shared, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pf, err := netip.ParsePrefix(part)
		if err != nil || pf != pf.Masked() || pf.Addr().Is4In6() {
			return p, fmt.Errorf("SHARED_CARRIER_CIDRS: %q is not a CIDR without host bits, e.g. 203.0.113.0/24", part)
		}
		p.SharedCarrier = append(p.SharedCarrier, pf)
	}
	return p, nil
}

// parseACLEntry reads one allowed_addresses entry under the policy's
// bounds (trunk.ParseACLEntry).
func (p ACLPolicy) parseACLEntry(v string) (netip.Prefix, error) {
	pf, err := trunk.ParseACLEntry(v, p.Limits())
	return pf, httpapi.AsInvalid(err)
}

// Limits are the policy's bounds on one allowed_addresses entry.
func (p ACLPolicy) Limits() trunk.ACLLimits {
	return trunk.ACLLimits{MaxPrefixV4: p.MaxPrefixV4, MaxPrefixV6: p.MaxPrefixV6}
}

// sharedCarrier reports whether every address of pf is shared carrier space.
func (p ACLPolicy) sharedCarrier(pf netip.Prefix) bool {
	for _, s := range p.SharedCarrier {
		if s.Bits() <= pf.Bits() && s.Contains(pf.Addr()) {
			return true
		}
	}
	return false
}

// checkAddressesFree refuses the prefixes in added that share an address
// with a trunk of another organization, unless every shared address is
// shared carrier space. The answer never names the other organization or
// its trunk.
func (p ACLPolicy) checkAddressesFree(added []netip.Prefix, others []db.SIPTrunk) error {
	for _, a := range added {
		for _, o := range others {
			for _, s := range o.AllowedAddresses {
				q, err := netip.ParsePrefix(s)
				if err != nil || !a.Overlaps(q) {
					continue
				}
				common := a // CIDRs overlap only by one holding the other
				if q.Bits() > a.Bits() {
					common = q
				}
				if !p.sharedCarrier(common) {
					return httpapi.Conflict("allowed_addresses",
						"allowed_addresses: %s is already allowed by a trunk of another organization; an address may belong to one organization's trunks only, unless the platform's operator lists it as shared carrier space (SHARED_CARRIER_CIDRS)", a)
				}
			}
		}
	}
	return nil
}

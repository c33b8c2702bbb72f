package trunkapi

import (
	"net/netip"
	"testing"
)

// FuzzACLEntry: whatever allowed_addresses holds, parseACLEntry never
// panics, and what it accepts is a canonical CIDR without host bits within
// the bound, which it accepts again unchanged; it never widens an entry
// (an accepted entry holds the address written, and nothing it did not
// say: a bare address is one address).
func FuzzACLEntry(f *testing.F) {
	for _, s := range []string{"203.0.113.10", "203.0.113.0/24", "0.0.0.0/0", "::/0", "1.2.3.4/0", "10.0.0.1/24",
		"0.0.0.0/1", "128.0.0.0/1", "2001:db8::/32", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1%eth0", " 10.0.0.0/16 ",
		"10.0.0.0/033", "1.2.3.4/", "/24", "10.0.0.0/16/16", "1.2.3", "01.2.3.4"} {
		f.Add(s, 16, 32)
	}
	f.Fuzz(func(t *testing.T, v string, v4, v6 int) {
		p := ACLPolicy{MaxPrefixV4: ((v4 % 33) + 33) % 33, MaxPrefixV6: ((v6 % 129) + 129) % 129}
		pf, err := p.parseACLEntry(v)
		if err != nil {
			return
		}
		if !pf.IsValid() || pf != pf.Masked() || pf.Addr().Is4In6() || pf.Addr().Zone() != "" {
			t.Fatalf("%q accepted as %v", v, pf)
		}
		bound := p.MaxPrefixV4
		if pf.Addr().Is6() {
			bound = p.MaxPrefixV6
		}
		if pf.Bits() < bound {
			t.Fatalf("%q accepted as %v, broader than /%d", v, pf, bound)
		}
		again, err := p.parseACLEntry(pf.String())
		if err != nil || again != pf {
			t.Fatalf("%q → %v → %v, %v", v, pf, again, err)
		}
		if a, err := netip.ParseAddr(v); err == nil && pf.Bits() != a.BitLen() {
			t.Fatalf("bare address %q widened to %v", v, pf)
		}
		if q, err := netip.ParsePrefix(v); err == nil && q != pf {
			t.Fatalf("%q rewritten to %v", v, pf)
		}
	})
}

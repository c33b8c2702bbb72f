package netpolicy

import "net/netip"

// InsideAddr tells whether a peer's address is one sipbridge's own
// internal routes answer (the nodes' /fs/xml, the replicas'
// /internal/v1/calls): loopback, private, or within allow.
func InsideAddr(a netip.Addr, allow []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() {
		return true
	}
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

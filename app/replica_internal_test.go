package app

import (
	"net/netip"
	"testing"
)

// Another replica's request is answered only from a loopback or private
// address, or one of REPLICA_ALLOW_FROM: the internal route is not open to
// the internet even with a valid signature.
func TestReplicaAddressAllowed(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/28")}
	for remote, want := range map[string]bool{
		"127.0.0.1:5000":       true,
		"[::1]:5000":           true,
		"10.1.2.3:5000":        true,
		"192.168.0.9:5000":     true,
		"[::ffff:10.0.0.1]:80": true,
		"203.0.113.5:5000":     true,
		"203.0.113.20:5000":    false,
		"198.51.100.7:5000":    false,
		"[2001:db8::1]:5000":   false,
		"not an address":       false,
		"":                     false,
	} {
		if got := replicaAddressAllowed(remote, allow); got != want {
			t.Errorf("%q: %v, want %v", remote, got, want)
		}
	}
}

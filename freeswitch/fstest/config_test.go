package fstest

import (
	"slices"
	"testing"
)

// TestACLMatching: CIDR matching, the most specific node wins, defaults,
// bare addresses, IPv6, invalid nodes ignored, missing list denies.
func TestACLMatching(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "acl/lists.xml", `<include>
<list name="t1" default="deny"><node type="allow" cidr="198.51.100.0/24"/><node type="deny" cidr="198.51.100.7/32"/></list>
<list name="t2" default="allow"><node type="deny" cidr="10.0.0.0/8"/></list>
<list name="t3" default="deny"><node type="allow" cidr="203.0.113.9"/><node type="allow" cidr="2001:db8::/32"/><node type="allow" cidr="not-a-cidr"/></list>
<list name="t4" default="deny"><node type="allow" cidr="192.0.2.1/32, 192.0.2.2/32"/><node type="allow" host="192.0.2.128" mask="255.255.255.128"/></list>
<list name="empty" default="deny"/>
</include>`)
	s := newSwitch(t, Options{GenDir: gen})
	s.exec("reloadacl")
	for _, tc := range []struct{ ip, list, want string }{
		{"198.51.100.1", "t1", "true"},
		{"198.51.100.7", "t1", "false"}, // /32 deny beats /24 allow
		{"198.51.101.1", "t1", "false"}, // default deny
		{"10.1.2.3", "t2", "false"},
		{"192.0.2.1", "t2", "true"}, // default allow
		{"203.0.113.9", "t3", "true"},
		{"203.0.113.10", "t3", "false"},
		{"2001:db8::1", "t3", "true"},
		{"::ffff:203.0.113.9", "t3", "true"},
		{"192.0.2.2", "t4", "true"},
		{"192.0.2.200", "t4", "true"},
		{"192.0.2.100", "t4", "false"},
		{"127.0.0.1", "empty", "false"},
		{"127.0.0.1", "missing", "false"},
		{"127.0.0.1", "loopback.auto", "true"},
		{"not-an-ip", "t1", "false"},
	} {
		if got := s.exec("acl " + tc.ip + " " + tc.list); got != tc.want {
			t.Errorf("acl %s %s: %q, want %q", tc.ip, tc.list, got, tc.want)
		}
	}
	if got := s.ACL("t3"); !slices.Equal(got, []string{"203.0.113.9", "2001:db8::/32"}) {
		t.Errorf("ACL(t3) = %v (invalid node must be dropped)", got)
	}
}

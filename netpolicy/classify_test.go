package netpolicy

import (
	"net/netip"
	"testing"
)

func TestClassifyHost(t *testing.T) {
	cases := []struct {
		host string
		want Class
	}{
		// The reproduction list of the issue.
		{"127.0.0.1", Loopback},
		{"169.254.169.254", Metadata},
		{"metadata.google.internal", Metadata},
		{"[::1]", Loopback},
		{"::1", Loopback},
		{"2130706433", Ambiguous},
		{"localhost", Loopback},
		{"0.0.0.0", Unspecified},
		{"10.0.0.1", Private},
		// Numeric forms net/netip does not read but inet_aton or a browser does.
		{"0x7f.1", Ambiguous},
		{"0177.0.0.1", Ambiguous},
		{"127.1", Ambiguous},
		{"127.0.1", Ambiguous},
		{"0x7f000001", Ambiguous},
		{"017700000001", Ambiguous},
		{"127.0.0.1.", Ambiguous},
		{"1.2.3.4.5", Ambiguous},
		{"example.123", Ambiguous},
		{"example.0x1f", Ambiguous},
		{"0", Ambiguous},
		// Loopback, metadata and other local names.
		{"localhost.", Loopback},
		{"LocalHost", Loopback},
		{"foo.localhost", Loopback},
		{"foo.localhost.", Loopback},
		{"localhost.localdomain", Loopback},
		{"ip6-localhost", Loopback},
		{"metadata", Metadata},
		{"metadata.", Metadata},
		{"METADATA.GOOGLE.INTERNAL.", Metadata},
		{"metadata.goog", Metadata},
		{"instance-data", Metadata},
		{"instance-data.ec2.internal", Metadata},
		// IPv4.
		{"127.255.255.254", Loopback},
		{"169.254.1.1", LinkLocal},
		{"169.254.170.2", Metadata},
		{"100.100.100.200", Metadata},
		{"168.63.129.16", Metadata},
		{"172.16.0.1", Private},
		{"172.31.255.255", Private},
		{"172.32.0.1", Public},
		{"192.168.1.1", Private},
		{"100.64.0.1", Private},
		{"100.127.255.255", Private},
		{"100.128.0.1", Public},
		{"198.18.0.1", Private},
		{"192.0.2.1", Documentation},
		{"198.51.100.20", Documentation},
		{"203.0.113.10", Documentation},
		{"224.0.0.1", Multicast},
		{"239.255.255.250", Multicast},
		{"255.255.255.255", Broadcast},
		{"240.0.0.1", Reserved},
		{"192.0.0.8", Reserved},
		{"0.1.2.3", Unspecified},
		{"8.8.8.8", Public},
		{"1.1.1.1", Public},
		// IPv6.
		{"[::]", Unspecified},
		{"::", Unspecified},
		{"[0:0:0:0:0:0:0:1]", Loopback},
		{"::ffff:127.0.0.1", Loopback},
		{"[::ffff:127.0.0.1]", Loopback},
		{"::ffff:7f00:1", Loopback},
		{"::ffff:169.254.169.254", Metadata},
		{"::ffff:10.0.0.1", Private},
		{"::ffff:8.8.8.8", Public},
		{"::127.0.0.1", Reserved},
		{"::ffff:0:127.0.0.1", Reserved},
		{"64:ff9b::127.0.0.1", Loopback},
		{"64:ff9b::8.8.8.8", Public},
		{"2002:7f00:1::", Loopback},
		{"2002:0808:0808::1", Public},
		{"fe80::1", LinkLocal},
		{"fe80::1%eth0", LinkLocal},
		{"[fe80::1%25eth0]", LinkLocal}, // zone "25eth0"
		{"febf::1", LinkLocal},
		{"fc00::1", Private},
		{"fd12:3456::1", Private},
		{"fd00:ec2::254", Metadata},
		{"fec0::1", Private},
		{"ff02::1", Multicast},
		{"2001:db8::1", Documentation},
		{"[2001:db8::1]", Documentation},
		{"2606:4700:4700::1111", Public},
		{"100::1", Reserved},
		// Names and junk.
		{"sip.zadarma.com", Name},
		{"sip.zadarma.com.", Name},
		{"pbx", Name},
		{"0x7f.example.com", Name},
		{"1e100.net", Name},
		{"my_host.example.com", Name},
		{"xn--bcher-kva.example", Name},
		{"", Invalid},
		{".", Invalid},
		{"a..b", Invalid},
		{"-a.example", Invalid},
		{"a-.example", Invalid},
		{"exa mple.com", Invalid},
		{"ｌｏｃａｌｈｏｓｔ", Invalid},
		{"localhost\x00.example.com", Invalid},
		{"[127.0.0.1]", Invalid},
		{"[localhost]", Invalid},
		{"[::1", Invalid},
		{"127.0.0.1:80", Invalid},
		{"300.1.1.1", Ambiguous},
		{"user@host", Invalid},
	}
	for _, c := range cases {
		got, a := ClassifyHost(c.host)
		if got != c.want {
			t.Errorf("ClassifyHost(%q) = %v, want %v", c.host, got, c.want)
		}
		if a.IsValid() && ClassifyIP(a) != got {
			t.Errorf("ClassifyHost(%q) returned %v whose class is %v", c.host, a, ClassifyIP(a))
		}
	}
}

func TestPolicyAllowed(t *testing.T) {
	def, strict, dev := Default(), Policy{}, Policy{AllowPrivate: true, AllowLoopback: true}
	for _, c := range []struct {
		class            Class
		def, strict, dev bool
	}{
		{Public, true, true, true},
		{Documentation, true, true, true},
		{Name, true, true, true},
		{Private, true, false, true},
		{Loopback, false, false, true},
		{LinkLocal, false, false, true},
		{Metadata, false, false, true},
		{Multicast, false, false, false},
		{Unspecified, false, false, false},
		{Broadcast, false, false, false},
		{Reserved, false, false, false},
		{Ambiguous, false, false, false},
		{Invalid, false, false, false},
	} {
		if def.Allowed(c.class) != c.def || strict.Allowed(c.class) != c.strict || dev.Allowed(c.class) != c.dev {
			t.Errorf("%v: default %v strict %v dev %v, want %v %v %v", c.class,
				def.Allowed(c.class), strict.Allowed(c.class), dev.Allowed(c.class), c.def, c.strict, c.dev)
		}
	}
}

func TestClassifyIPInvalid(t *testing.T) {
	if c := ClassifyIP(netip.Addr{}); c != Invalid {
		t.Fatalf("zero Addr: %v", c)
	}
	for c := Invalid; c <= Name; c++ {
		if c.String() == "unknown" || c.String() == "" {
			t.Errorf("class %d has no name", c)
		}
	}
}

// Package netpolicy is sipbridge's address policy: which hosts and addresses
// sipbridge may connect to on a tenant's behalf (an assistant's stream_url
// and sms_webhook_url, a trunk's gateway, the ACL entries made from a
// trunk's host). It classifies IP addresses and host names (ClassifyIP,
// ClassifyHost), checks hosts and URLs against a Policy when they are
// written (CheckHost, CheckHostPort, CheckURL), and checks the addresses
// actually connected to (Policy.DialContext, Policy.HTTPClient): a name is
// resolved once, every address it resolves to must be allowed, and the
// checked address is dialled, so a second DNS answer cannot slip in.
//
// It imports nothing of sipbridge's, so every package may use it.
package netpolicy

import (
	"net/netip"
	"strings"
)

// Class is what an address or a host name is, as far as the policy cares.
type Class uint8

// Classes. Public and Documentation are always allowed, Private with
// Policy.AllowPrivate, Loopback, LinkLocal and Metadata with
// Policy.AllowLoopback; the rest never. Name is an ordinary DNS name: what it
// resolves to decides.
const (
	// Invalid is not an address nor a host name sipbridge accepts.
	Invalid Class = iota
	// Public is a global unicast address.
	Public
	// Documentation is an example range (192.0.2.0/24, 198.51.100.0/24,
	// 203.0.113.0/24, 2001:db8::/32, 3fff::/20): never routed, so harmless,
	// and used in examples.
	Documentation
	// Private is a private network: RFC 1918, fc00::/7, carrier-grade NAT
	// 100.64.0.0/10, the benchmark range 198.18.0.0/15, site-local fec0::/10,
	// NAT64 local-use 64:ff9b:1::/48.
	Private
	// Loopback is 127.0.0.0/8, ::1 and the names localhost and *.localhost.
	Loopback
	// LinkLocal is 169.254.0.0/16 and fe80::/10.
	LinkLocal
	// Metadata is a cloud instance metadata service: its names
	// (metadata.google.internal, metadata, instance-data, …) and addresses
	// (169.254.169.254, fd00:ec2::254, 100.100.100.200, 168.63.129.16, …).
	Metadata
	// Multicast is 224.0.0.0/4 and ff00::/8.
	Multicast
	// Unspecified is 0.0.0.0/8 ("this network": connecting to 0.0.0.0
	// reaches the local host) and ::.
	Unspecified
	// Broadcast is 255.255.255.255.
	Broadcast
	// Reserved is a special-purpose range: 240.0.0.0/4, 192.0.0.0/24,
	// 192.88.99.0/24, IPv4-compatible ::a.b.c.d, 100::/64, ::ffff:0:a.b.c.d.
	Reserved
	// Ambiguous is a host written as a number that net/netip does not read
	// as an address but that resolvers, dialers or browsers might
	// (2130706433, 0x7f.1, 0177.0.0.1, 127.1, 127.0.0.1., example.123).
	Ambiguous
	// Name is an ordinary DNS name; resolve it to know.
	Name
)

var classNames = [...]string{
	Invalid: "invalid", Public: "public", Documentation: "documentation", Private: "private-network",
	Loopback: "loopback", LinkLocal: "link-local", Metadata: "cloud metadata", Multicast: "multicast",
	Unspecified: "unspecified", Broadcast: "broadcast", Reserved: "reserved", Ambiguous: "ambiguous numeric",
	Name: "name",
}

// Describe is the class in a sentence: "a loopback address", "a cloud
// metadata service", …
func (c Class) Describe() string {
	switch c {
	case Metadata:
		return "a cloud metadata service"
	case Unspecified:
		return "an unspecified address"
	case Ambiguous:
		return "an ambiguous numeric host"
	case Invalid:
		return "an invalid host"
	case Name:
		return "a host name"
	}
	return "a " + c.String() + " address"
}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func mustAddrs(ss ...string) map[netip.Addr]bool {
	out := make(map[netip.Addr]bool, len(ss))
	for _, s := range ss {
		out[netip.MustParseAddr(s)] = true
	}
	return out
}

var (
	// metadataAddrs are instance metadata services (and their kin) of the
	// clouds: AWS (IMDS, ECS task metadata, EKS pod identity, IMDS over
	// IPv6), GCP and Azure (169.254.169.254), Azure WireServer, Alibaba,
	// Oracle.
	metadataAddrs = mustAddrs("169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254",
		"fd00:ec2::23", "168.63.129.16", "100.100.100.200", "192.0.0.192")

	v4Table = []struct {
		p []netip.Prefix
		c Class
	}{
		{mustPrefixes("0.0.0.0/8"), Unspecified},
		{mustPrefixes("127.0.0.0/8"), Loopback},
		{mustPrefixes("169.254.0.0/16"), LinkLocal},
		{mustPrefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "198.18.0.0/15"), Private},
		{mustPrefixes("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"), Documentation},
		{mustPrefixes("224.0.0.0/4"), Multicast},
		{mustPrefixes("255.255.255.255/32"), Broadcast},
		{mustPrefixes("240.0.0.0/4", "192.0.0.0/24", "192.88.99.0/24"), Reserved},
	}
	v6Table = []struct {
		p []netip.Prefix
		c Class
	}{
		{mustPrefixes("fe80::/10"), LinkLocal},
		{mustPrefixes("fc00::/7", "fec0::/10", "64:ff9b:1::/48"), Private},
		{mustPrefixes("2001:db8::/32", "3fff::/20"), Documentation},
		{mustPrefixes("ff00::/8"), Multicast},
		{mustPrefixes("100::/64", "::ffff:0:0:0/96"), Reserved},
	}
	ipv4Compatible = netip.MustParsePrefix("::/96")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

// ClassifyIP tells what an address is. An IPv4-mapped IPv6 address
// (::ffff:127.0.0.1) is classified as its IPv4 address, and so are the
// IPv4 addresses embedded in NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
// addresses, when they are not public. A zone is ignored.
func ClassifyIP(a netip.Addr) Class {
	if !a.IsValid() {
		return Invalid
	}
	a = a.WithZone("").Unmap()
	if metadataAddrs[a] {
		return Metadata
	}
	if a.Is4() {
		for _, row := range v4Table {
			for _, p := range row.p {
				if p.Contains(a) {
					return row.c
				}
			}
		}
		return Public
	}
	switch {
	case a == netip.IPv6Unspecified():
		return Unspecified
	case a == netip.IPv6Loopback():
		return Loopback
	case ipv4Compatible.Contains(a):
		return Reserved
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return embedded(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case sixToFour.Contains(a):
		return embedded(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	for _, row := range v6Table {
		for _, p := range row.p {
			if p.Contains(a) {
				return row.c
			}
		}
	}
	return Public
}

// embedded classifies the IPv4 address inside a translation prefix: what
// it reaches is what counts.
func embedded(v4 netip.Addr) Class {
	return ClassifyIP(v4)
}

// metadataNames are the host names of instance metadata services; a
// single-label name ("metadata") reaches them through the search domain.
var metadataNames = map[string]bool{
	"metadata.google.internal": true, "metadata.goog": true, "metadata": true,
	"instance-data": true, "instance-data.ec2.internal": true,
	"metadata.azure.com": true, "metadata.tencentyun.com": true,
}

// loopbackNames are names every resolver maps to the local host
// (/etc/hosts on Debian and friends); *.localhost is reserved for it too
// (RFC 6761).
var loopbackNames = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "ip6-localhost": true, "ip6-loopback": true,
}

// ClassifyHost tells what a host (no port) is. An IP address (IPv6 with
// or without brackets) gets its address's class and the address; a name
// gets Loopback (localhost, *.localhost), Metadata (metadata service
// names), Ambiguous (numeric forms: 2130706433, 0x7f.1, 0177.0.0.1, 127.1,
// a trailing dot after an address, a last label that is a number), Invalid
// (anything but letters, digits, '-' and '_' in dot-separated labels of at
// most 63 characters, 253 in all) or Name. Names are compared without case
// and without one trailing dot.
func ClassifyHost(host string) (Class, netip.Addr) {
	bracketed := strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") && len(host) >= 2
	if bracketed {
		host = host[1 : len(host)-1]
	}
	if host == "" || len(host) > 253+1 {
		return Invalid, netip.Addr{}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if bracketed && !a.Is6() {
			return Invalid, netip.Addr{}
		}
		return ClassifyIP(a), a
	}
	if bracketed || strings.ContainsAny(host, ":%[]") {
		return Invalid, netip.Addr{}
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "" || len(name) > 253 {
		return Invalid, netip.Addr{}
	}
	labels := strings.Split(name, ".")
	numeric := true
	for _, l := range labels {
		if !validLabel(l) {
			return Invalid, netip.Addr{}
		}
		if !numericLabel(l) {
			numeric = false
		}
	}
	// Every label a number (inet_aton's forms: 1 to 4 parts, decimal,
	// octal, hex), or a last label that is one (a browser reads such a host
	// as an IPv4 address): refuse rather than guess what a resolver does.
	if numeric || numericLabel(labels[len(labels)-1]) {
		return Ambiguous, netip.Addr{}
	}
	if loopbackNames[name] || strings.HasSuffix(name, ".localhost") {
		return Loopback, netip.Addr{}
	}
	if metadataNames[name] {
		return Metadata, netip.Addr{}
	}
	return Name, netip.Addr{}
}

// validLabel: 1–63 of letters, digits, '-' and '_', not starting or ending
// with '-'.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// numericLabel: all decimal digits, or 0x followed by hex digits (or
// nothing: inet_aton takes "0x" as 0).
func numericLabel(l string) bool {
	if len(l) >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X') {
		for i := 2; i < len(l); i++ {
			c := l[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return l != ""
}

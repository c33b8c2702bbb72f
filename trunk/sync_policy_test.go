package trunk_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/trunk"
)

// TestACLLeavesOutRefusedAddresses: a registration trunk's ACL list is
// made of what its hosts resolve to, less what the address policy
// refuses; AllowLoopback lets loopback in.
func TestACLLeavesOutRefusedAddresses(t *testing.T) {
	resolver := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "carrier.example":
			return []netip.Addr{netip.MustParseAddr("198.51.100.20"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("169.254.169.254")}, nil
		case "local.example":
			return []netip.Addr{netip.MustParseAddr("::1")}, nil
		}
		return nil, errors.New("no such host")
	}
	trunks := []db.SIPTrunk{
		{ID: "t1", OrgID: 1, Name: "Carrier", GatewayName: "o1_carrier", Gateway: "carrier.example:5060", Username: "u", Enabled: true, Register: true, Transport: "udp"},
		{ID: "t2", OrgID: 1, Name: "Literal", GatewayName: "o1_literal", Gateway: "127.0.0.1:5080", Proxy: "local.example", Username: "u", Enabled: true, Register: true, Transport: "udp"},
		{ID: "t3", OrgID: 1, Name: "Meta", GatewayName: "o1_meta", Gateway: "metadata.google.internal", Username: "u", Enabled: true, Register: true, Transport: "udp"},
	}
	render := func(p *netpolicy.Policy) (map[string][]byte, map[string]string) {
		ts := trunk.NewSync(db.NewStore(nil, dbtest.Keyring(t), nil), nil, trunk.SyncOptions{GenDir: t.TempDir(), Resolver: resolver, AddressPolicy: p})
		files, notes, err := ts.Render(context.Background(), trunks)
		if err != nil {
			t.Fatal(err)
		}
		return files, notes
	}

	files, notes := render(nil) // the default policy
	acl := string(files["acl/o1_carrier.xml"])
	if !strings.Contains(acl, "198.51.100.20/32") || strings.Contains(acl, "127.0.0.1") || strings.Contains(acl, "169.254.169.254") {
		t.Fatalf("carrier ACL:\n%s", acl)
	}
	if n := notes["t1"]; !strings.Contains(n, "carrier.example resolves to 127.0.0.1, a loopback address") ||
		!strings.Contains(n, "resolves to 169.254.169.254, a cloud metadata service") {
		t.Fatalf("carrier notes: %q", n)
	}
	if acl := string(files["acl/o1_literal.xml"]); strings.Contains(acl, "127.0.0.1") || strings.Contains(acl, "::1") {
		t.Fatalf("literal ACL:\n%s", acl)
	}
	if n := notes["t2"]; !strings.Contains(n, "127.0.0.1 is a loopback address") || !strings.Contains(n, "local.example resolves to ::1") {
		t.Fatalf("literal notes: %q", n)
	}
	if n := notes["t3"]; !strings.Contains(n, "metadata.google.internal is a cloud metadata service") {
		t.Fatalf("metadata notes: %q", n)
	}

	files, notes = render(&netpolicy.Policy{AllowPrivate: true, AllowLoopback: true})
	if acl := string(files["acl/o1_carrier.xml"]); !strings.Contains(acl, "127.0.0.1/32") || !strings.Contains(acl, "198.51.100.20/32") {
		t.Fatalf("carrier ACL with loopback allowed:\n%s", acl)
	}
	if acl := string(files["acl/o1_literal.xml"]); !strings.Contains(acl, "127.0.0.1/32") || !strings.Contains(acl, "::1/128") {
		t.Fatalf("literal ACL with loopback allowed:\n%s", acl)
	}
	if notes["t1"] != "" || notes["t2"] != "" {
		t.Fatalf("warnings with loopback allowed: %q", notes)
	}
}

// TestProxyACLList: with SIP fronts the reconciler renders their ACL list
// and the profile applies it besides every trunk's; without, no such list.
func TestProxyACLList(t *testing.T) {
	trunks := []db.SIPTrunk{{ID: "t1", OrgID: 1, Name: "Carrier", GatewayName: "o1_carrier", Gateway: "198.51.100.20",
		Enabled: true, Transport: "udp", AllowedAddresses: db.StringList{"198.51.100.0/24"}}}
	render := func(proxies []string) map[string][]byte {
		ts := trunk.NewSync(db.NewStore(nil, dbtest.Keyring(t), nil), nil, trunk.SyncOptions{GenDir: t.TempDir(), Proxies: proxies})
		files, _, err := ts.Render(context.Background(), trunks)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	files := render([]string{"10.0.0.5/32", "10.1.0.0/16"})
	want := "<include>\n  <list name=\"sipbridge_proxies\" default=\"deny\">\n    <node type=\"allow\" cidr=\"10.0.0.5/32\"/>\n" +
		"    <node type=\"allow\" cidr=\"10.1.0.0/16\"/>\n  </list>\n</include>\n"
	if got := string(files["acl/sipbridge_proxies.xml"]); got != want {
		t.Fatalf("proxy list:\n%s\nwant:\n%s", got, want)
	}
	params := string(files["profile/inbound-acl.xml"])
	if !strings.Contains(params, `value="o1_carrier"`) || !strings.Contains(params, `value="sipbridge_proxies"`) {
		t.Fatalf("profile params:\n%s", params)
	}
	files = render(nil)
	if _, ok := files["acl/sipbridge_proxies.xml"]; ok || strings.Contains(string(files["profile/inbound-acl.xml"]), "sipbridge_proxies") {
		t.Fatalf("no proxies, yet a proxy list: %q", files["profile/inbound-acl.xml"])
	}
}

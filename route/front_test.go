package route_test

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/route"
)

func TestParseFront(t *testing.T) {
	f, err := route.ParseFront(" 10.0.0.5, 10.1.0.0/16 ,::ffff:10.2.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Header != route.DefaultSourceHeader || strings.Join(f.CIDRs(), ",") != "10.0.0.5/32,10.1.0.0/16,10.2.0.1/32" {
		t.Fatalf("%+v", f)
	}
	if f, err = route.ParseFront("", ""); err != nil || len(f.Proxies) != 0 {
		t.Fatalf("empty: %+v %v", f, err)
	}
	for _, c := range []struct{ proxies, header, want string }{
		{"kamailio.example", "", `SIP_PROXIES: "kamailio.example" is not an address or CIDR`},
		{"10.0.0.0/33", "", `SIP_PROXIES: "10.0.0.0/33"`},
		{"", "Via", `SIP_PROXY_SOURCE_HEADER: "Via" is not an X- header name`},
		{"", "X-Source: x", `SIP_PROXY_SOURCE_HEADER`},
		{"", "X-", `SIP_PROXY_SOURCE_HEADER`},
	} {
		if _, err := route.ParseFront(c.proxies, c.header); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseFront(%q, %q) = %v, want %q", c.proxies, c.header, err, c.want)
		}
	}
}

func TestParseSourceHeader(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.5": "203.0.113.5", " 203.0.113.5:5060 ": "203.0.113.5", "[2001:db8::1]:5060": "2001:db8::1",
		"::ffff:203.0.113.5": "203.0.113.5", "2001:db8::2": "2001:db8::2",
	} {
		if a, err := route.ParseSourceHeader(in); err != nil || a.String() != want {
			t.Errorf("%q: %v %v, want %s", in, a, err, want)
		}
	}
	for _, in := range []string{"", "carrier.example", "203.0.113.5, 198.51.100.1", "fe80::1%eth0", "203.0.113.256"} {
		if a, err := route.ParseSourceHeader(in); err == nil {
			t.Errorf("%q: %v, want an error", in, a)
		}
	}
}

// FuzzParseSourceHeader: any header value parses to a valid, unmapped,
// zoneless address or is refused, without panicking.
func FuzzParseSourceHeader(f *testing.F) {
	for _, s := range []string{"203.0.113.5", "[::1]:5060", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3.4:99999", "a,b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := route.ParseSourceHeader(s)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("long error for %q", s)
			}
			return
		}
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("%q → %v", s, a)
		}
	})
}

// TestFrontIdentification: through a trusted SIP front the trunk is the
// one allowing the carrier's address in the front's header; FreeSWITCH's
// ACL list (the proxies') names no trunk. The header from anywhere else is
// ignored, and a proxied call without a usable header is refused.
func TestFrontIdentification(t *testing.T) {
	dbtest.Each(t, testFrontIdentification)
}

func testFrontIdentification(t *testing.T, g *gorm.DB) {
	ctx := context.Background()
	store, tr, asst := carrierNumber(t, g, "203.0.113.1")
	front, err := route.ParseFront("10.0.0.5", "")
	if err != nil {
		t.Fatal(err)
	}
	router := route.New(store, route.Options{Front: front})
	decide := func(kv ...string) *route.Route {
		t.Helper()
		kv = append(kv, "variable_sip_req_user", "+16478491000", "variable_sip_to_user", "+16478491000")
		r, err := router.Decide(ctx, vars(kv...))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const hdr = "variable_sip_h_X-Sipbridge-Source"

	// Through the proxy, from the carrier: its trunk, by source address.
	r := decide("variable_sip_network_ip", "10.0.0.5", "variable_sip_acl_authed_by", "sipbridge_proxies", hdr, "203.0.113.9")
	if r.Refused != nil || r.Trunk == nil || r.Trunk.ID != tr.ID || r.TrunkBy != "source_address" || r.AssistantID != asst.ID ||
		r.Source != "203.0.113.9 via proxy 10.0.0.5" {
		t.Fatalf("via proxy: %+v %+v", r, r.Refused)
	}
	// Through the proxy from an address no trunk allows: refused, both
	// addresses named.
	r = decide("variable_sip_network_ip", "10.0.0.5", "variable_sip_acl_authed_by", "sipbridge_proxies", hdr, "198.51.100.7")
	if r.Refused == nil || *r.Refused != route.RefuseUnknownTrunk || r.Detail != "source 198.51.100.7 via proxy 10.0.0.5" {
		t.Fatalf("unknown via proxy: %+v %+v", r, r.Refused)
	}
	// The request URI's gateway does not stand in for the address.
	r = decide("variable_sip_network_ip", "10.0.0.5", "variable_sip_gateway", "o1_carrier", "variable_sipbridge_trunk_id", tr.ID, hdr, "198.51.100.7")
	if r.Refused == nil || *r.Refused != route.RefuseUnknownTrunk {
		t.Fatalf("gateway via proxy: %+v %+v", r, r.Refused)
	}
	// Spoofed: a carrier's header sent straight to FreeSWITCH is ignored;
	// the source is the address the INVITE came from.
	r = decide("variable_sip_network_ip", "198.51.100.7", hdr, "203.0.113.9")
	if r.Refused == nil || *r.Refused != route.RefuseUnknownTrunk || r.Detail != "source 198.51.100.7" {
		t.Fatalf("spoofed: %+v %+v", r, r.Refused)
	}
	r = decide("variable_sip_network_ip", "203.0.113.9", "variable_sip_acl_authed_by", "o1_carrier", hdr, "198.51.100.7")
	if r.Refused != nil || r.Trunk.ID != tr.ID || r.TrunkBy != "acl" || r.Source != "203.0.113.9" {
		t.Fatalf("direct with a header: %+v %+v", r, r.Refused)
	}
	// A proxied call without the header, or with one that is no address:
	// refused as from an unknown trunk, the header named.
	for _, v := range [][]string{nil, {hdr, "carrier.example"}, {hdr, "203.0.113.9", hdr, "203.0.113.10"}} {
		r = decide(append([]string{"variable_sip_network_ip", "10.0.0.5", "variable_sip_acl_authed_by", "sipbridge_proxies"}, v...)...)
		if r.Refused == nil || *r.Refused != route.RefuseUnknownTrunk || r.Trunk != nil ||
			!strings.HasPrefix(r.Detail, "source header X-Sipbridge-Source from proxy 10.0.0.5: ") {
			t.Fatalf("header %q: %+v %+v", v, r, r.Refused)
		}
	}
	// No front configured: the header is nobody's word.
	r, err = route.New(store, route.Options{}).Decide(ctx, vars("variable_sip_network_ip", "10.0.0.5", hdr, "203.0.113.9",
		"variable_sip_req_user", "+16478491000"))
	if err != nil || r.Refused == nil || r.Detail != "source 10.0.0.5" {
		t.Fatalf("no front: %+v %v", r, err)
	}
}

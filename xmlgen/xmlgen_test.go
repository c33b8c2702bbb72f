package xmlgen

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func TestGolden(t *testing.T) {
	reg := Trunk{ID: "3f1c0e9a-0000-4000-8000-000000000001", OrgID: 12, GatewayName: "o12_zadarma_main", Register: true,
		Username: "123456", Password: "s3cret", Gateway: "sip.zadarma.com", Transport: "udp", ExpireSeconds: 120, RetrySeconds: 30, PingSeconds: 25}
	ip := Trunk{ID: "3f1c0e9a-0000-4000-8000-000000000002", OrgID: 12, GatewayName: "o12_carrier_ip", Gateway: "203.0.113.10:5060",
		Transport: "tcp", FromUser: "+14165550100", FromDomain: "carrier.example", CallerIDInFrom: true, Codecs: []string{"PCMU", "PCMA"}}
	hostile := Trunk{ID: "id", GatewayName: "o1_x", Register: true, Username: `a"b'c<d>e&f`, Password: "pa$${domain}ss${x}", Gateway: "h.example", Realm: "r$${var}.example"}
	// A TLS trunk with SRTP required and wideband codecs first.
	secure := Trunk{ID: "3f1c0e9a-0000-4000-8000-000000000003", OrgID: 12, GatewayName: "o12_carrier_tls", Gateway: "sip.carrier.example:5061",
		Transport: "tls", Codecs: []string{"G722", "opus@48000h@20i", "PCMU"}, SRTP: "mandatory"}
	for name, tr := range map[string]Trunk{"register.xml": reg, "ipauth.xml": ip, "escaping.xml": hostile, "tls-srtp.xml": secure} {
		b, err := RenderGateway(tr)
		if err != nil {
			t.Fatal(err)
		}
		testkit.Golden(t, "golden/"+name, b)
	}
	acl, err := RenderACLList("o12_carrier_ip", []string{"203.0.113.10", "198.51.100.7/24", "2001:db8::1", "198.51.100.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "golden/acl.xml", acl)
	empty, _ := RenderACLList("o12_none", nil)
	testkit.Golden(t, "golden/acl-empty.xml", empty)
	params, _ := RenderInboundACLParams([]string{"o12_zadarma_main", "o12_carrier_ip", "o12_carrier_ip"})
	testkit.Golden(t, "golden/profile-params.xml", params)
}

func TestGatewayNames(t *testing.T) {
	used := map[string]bool{}
	taken := func(n string) bool { return used[n] }
	cases := map[string]string{
		"Zadarma Main":          "o12_zadarma_main",
		"  --Twilio//SIP--  ":   "o12_twilio_sip",
		"Ünïcødé Trunk":         "o12_n_c_d_trunk",
		"":                      "o12_trunk",
		"!!!":                   "o12_trunk",
		strings.Repeat("a", 99): "o12_" + strings.Repeat("a", maxSlug),
	}
	for in, want := range cases {
		got := GatewayName(12, in, taken)
		if got != want || !ValidGatewayName(got) {
			t.Errorf("GatewayName(%q) = %q, want %q", in, got, want)
		}
	}
	used["o12_main"] = true
	used["o12_main_2"] = true
	if got := GatewayName(12, "Main", taken); got != "o12_main_3" {
		t.Fatalf("uniqueness: %q", got)
	}
	for _, bad := range []string{"org1 space", "org1/slash", "", "a\nb", strings.Repeat("x", 65)} {
		if ValidGatewayName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestIsOurGateway: every name GatewayName makes is recognised as ours;
// an operator's gateways (even one starting with "o" and holding "_") are not.
func TestIsOurGateway(t *testing.T) {
	for _, in := range []string{"Zadarma Main", "", "!!!", "BYOC +15551234567", strings.Repeat("b", 99)} {
		if name := GatewayName(7, in, nil); !IsOurGateway(name) {
			t.Errorf("IsOurGateway(%q) = false for a name GatewayName made", name)
		}
	}
	for _, name := range []string{"office_pbx", "o_12", "oX_main", "o12", "carrier", "o12_a b", ""} {
		if IsOurGateway(name) {
			t.Errorf("IsOurGateway(%q) = true for a name GatewayName never makes", name)
		}
	}
}

func TestRefusals(t *testing.T) {
	base := Trunk{ID: "x", GatewayName: "o1_a", Gateway: "h.example"}
	for name, mutate := range map[string]func(*Trunk){
		"lf in password":   func(t *Trunk) { t.Password = "a\nb" },
		"cr in username":   func(t *Trunk) { t.Username = "a\rb" },
		"nul in realm":     func(t *Trunk) { t.Realm = "a\x00" },
		"bad name":         func(t *Trunk) { t.GatewayName = "o1 a" },
		"no host":          func(t *Trunk) { t.Gateway = "" },
		"comma in codec":   func(t *Trunk) { t.Codecs = []string{"PCMU,evil"} },
		"invalid utf8":     func(t *Trunk) { t.FromUser = "\xff" },
		"tab in from_user": func(t *Trunk) { t.FromUser = "a\tb" },
		"unknown srtp":     func(t *Trunk) { t.SRTP = "required\"/><x" },
	} {
		tr := base
		mutate(&tr)
		if _, err := RenderGateway(tr); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := RenderACLList("o1_a", []string{"10.0.0.0/33"}); !errors.Is(err, ErrInvalid) {
		t.Error("bad CIDR accepted")
	}
}

// parsedGateway is what FreeSWITCH's XML parser sees in a gateway file.
type parsedGateway struct {
	XMLName xml.Name `xml:"include"`
	Gateway struct {
		Name   string `xml:"name,attr"`
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"param"`
		Vars []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
			Dir   string `xml:"direction,attr"`
		} `xml:"variables>variable"`
	} `xml:"gateway"`
}

// checkGateway parses out and proves the values equal the input and that no
// value added an element, an attribute or a preprocessor expansion.
func checkGateway(t *testing.T, tr Trunk, out []byte) {
	t.Helper()
	var g parsedGateway
	if err := xml.Unmarshal(out, &g); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, out)
	}
	if g.Gateway.Name != tr.GatewayName {
		t.Fatalf("name %q", g.Gateway.Name)
	}
	params := map[string]string{}
	for _, p := range g.Gateway.Params {
		if _, dup := params[p.Name]; dup {
			t.Fatalf("param %s twice", p.Name)
		}
		params[p.Name] = p.Value
	}
	want := map[string]string{"username": tr.Username, "password": tr.Password, "from-user": tr.FromUser, "from-domain": tr.FromDomain,
		"realm": first(tr.Realm, tr.Gateway, tr.Proxy), "proxy": first(tr.Proxy, tr.Gateway)}
	for k, v := range want {
		if v != "" && params[k] != v {
			t.Fatalf("param %s = %q, want %q", k, params[k], v)
		}
	}
	if len(g.Gateway.Vars) < 1 || g.Gateway.Vars[0].Value != tr.ID {
		t.Fatalf("trunk id variable: %+v", g.Gateway.Vars)
	}
	// Structure: every line is one of the fixed shapes.
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if strings.Count(line, "<") != 1 || strings.Count(line, ">") != 1 {
			t.Fatalf("a value changed the markup: %q", line)
		}
		if strings.Count(line, `="`) > 3 {
			t.Fatalf("a value added an attribute: %q", line)
		}
	}
	// FreeSWITCH's preprocessor expands $${…} on raw lines: no '$' may remain.
	if strings.Contains(string(out), "$") {
		t.Fatalf("raw '$' in output:\n%s", out)
	}
}

func FuzzRenderGateway(f *testing.F) {
	f.Add("o1_a", "user", "pa$${domain}ss", "h.example:5060", "", "fu", "fd", "id-1", true)
	f.Add("o1_b", `"><x y='`, "&amp;", "[2001:db8::1]", "r", "", "", "", false)
	f.Add("o1_c", "\u00e9\u4e16", "${x}", "h", "p", "a b", "&#36;", "z", true)
	f.Fuzz(func(t *testing.T, name, user, pw, gw, realm, fromUser, fromDomain, id string, register bool) {
		tr := Trunk{ID: id, GatewayName: name, Register: register, Username: user, Password: pw, Gateway: gw, Realm: realm,
			FromUser: fromUser, FromDomain: fromDomain, Codecs: []string{"PCMU"}}
		out, err := RenderGateway(tr)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		checkGateway(t, tr, out)
	})
}

func FuzzRenderACLList(f *testing.F) {
	f.Add("o1_a", "10.0.0.1,192.0.2.0/24")
	f.Add("o1_b", "2001:db8::/32,::1")
	f.Fuzz(func(t *testing.T, name, list string) {
		out, err := RenderACLList(name, strings.Split(list, ","))
		if err != nil {
			return
		}
		var l struct {
			List struct {
				Name  string `xml:"name,attr"`
				Nodes []struct {
					Type string `xml:"type,attr"`
					CIDR string `xml:"cidr,attr"`
				} `xml:"node"`
			} `xml:"list"`
		}
		if err := xml.Unmarshal(out, &l); err != nil || l.List.Name != name {
			t.Fatalf("bad list %v\n%s", err, out)
		}
		for _, n := range l.List.Nodes {
			if n.Type != "allow" {
				t.Fatalf("node %+v", n)
			}
		}
	})
}

func TestDeterministic(t *testing.T) {
	tr := Trunk{ID: "i", GatewayName: "o1_a", Gateway: "h", Codecs: []string{"opus", "PCMU"}}
	a, _ := RenderGateway(tr)
	b, _ := RenderGateway(tr)
	x, _ := RenderACLList("o1_a", []string{"10.0.0.2", "10.0.0.1"})
	y, _ := RenderACLList("o1_a", []string{"10.0.0.1", "10.0.0.2", "10.0.0.1/32"})
	if string(a) != string(b) || string(x) != string(y) {
		t.Fatal("output not deterministic")
	}
}

func BenchmarkRender10kTrunks(b *testing.B) {
	trunks := make([]Trunk, 10000)
	names := make([]string, len(trunks))
	for i := range trunks {
		names[i] = fmt.Sprintf("o%d_trunk_%d", i%97, i)
		trunks[i] = Trunk{ID: fmt.Sprintf("id-%d", i), GatewayName: names[i], Register: i%2 == 0, Username: "user", Password: "secret",
			Gateway: "sip.carrier.example:5060", Transport: "udp", ExpireSeconds: 120, PingSeconds: 30, ACL: []string{"198.51.100.0/24", "203.0.113.7"}}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, tr := range trunks {
			if _, err := RenderGateway(tr); err != nil {
				b.Fatal(err)
			}
			if _, err := RenderACLList(tr.GatewayName, tr.ACL); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := RenderInboundACLParams(names); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProxyACLListName: the proxies' list renders under a name FreeSWITCH
// accepts, which no trunk's gateway name can take and the reconciler never
// treats as its gateway.
func TestProxyACLListName(t *testing.T) {
	if !ValidGatewayName(ProxyACLList) || IsOurGateway(ProxyACLList) {
		t.Fatalf("%q: valid %v, ours %v", ProxyACLList, ValidGatewayName(ProxyACLList), IsOurGateway(ProxyACLList))
	}
	if GatewayName(1, ProxyACLList, nil) == ProxyACLList {
		t.Fatal("a trunk can be named like the proxy list")
	}
	b, err := RenderInboundACLParams([]string{"o2_b", ProxyACLList, "o1_a"})
	if err != nil {
		t.Fatal(err)
	}
	want := "<include>\n  <param name=\"apply-inbound-acl\" value=\"o1_a\"/>\n  <param name=\"apply-inbound-acl\" value=\"o2_b\"/>\n" +
		"  <param name=\"apply-inbound-acl\" value=\"sipbridge_proxies\"/>\n</include>\n"
	if string(b) != want {
		t.Fatalf("got\n%s", b)
	}
}

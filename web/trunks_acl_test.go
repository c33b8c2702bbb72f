package web_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

// newACLEnv is the trunks API with an ACL policy (MAX_ACL_PREFIX,
// SHARED_CARRIER_CIDRS); nil: the defaults.
func newACLEnv(t *testing.T, policy *trunkapi.ACLPolicy) *env {
	t.Helper()
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := db.NewStore(dbtest.Postgres(t), dbtest.Keyring(t), log)
	s := newApp(t, app.Config{Store: store, Log: log, ACL: policy}).Web
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, web: s, store: store, logs: logs, bodies: &testkit.LogBuffer{}}
	e.addOrgs()
	return e
}

func ipTrunk(name string, addrs ...string) map[string]any {
	return map[string]any{"name": name, "gateway": "sip.carrier.example.com", "register": false, "allowed_addresses": addrs}
}

// The reproduction of "Safe for many tenants": allow-lists that admit the
// whole Internet, and typos silently widened, are refused with 400 naming
// allowed_addresses, on create and on update, and nothing is rewritten.
func TestTrunkACLSanity(t *testing.T) {
	e := newACLEnv(t, nil)
	for _, tc := range []struct {
		addrs []string
		want  int
		got   []any // the stored list, for 201
	}{
		{[]string{"0.0.0.0/0"}, 400, nil},
		{[]string{"::/0"}, 400, nil},
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, 400, nil},
		{[]string{"1.2.3.4/0"}, 400, nil},   // a typo, never 0.0.0.0/0
		{[]string{"10.0.0.1/24"}, 400, nil}, // host bits, never 10.0.0.0/24
		{[]string{"198.51.100.7/24"}, 400, nil},
		{[]string{"10.0.0.0/15"}, 400, nil},
		{[]string{"2001:db8::/31"}, 400, nil},
		{[]string{"2001:db8::1/64"}, 400, nil},
		{[]string{"::ffff:203.0.113.10"}, 400, nil},
		{[]string{"fe80::1%eth0"}, 400, nil},
		{[]string{"203.0.113.10/33"}, 400, nil},
		{[]string{"10.0.0.0/16"}, 201, []any{"10.0.0.0/16"}},
		{[]string{"2001:db8::/32", "203.0.113.10"}, 201, []any{"2001:db8::/32", "203.0.113.10/32"}},
	} {
		name := "T" + strings.NewReplacer("/", "_", ":", "_", "%", "_", ".", "_").Replace(strings.Join(tc.addrs, "+"))
		r := e.do("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk(name, tc.addrs...))
		if r.Status != tc.want {
			t.Errorf("%v: %d %s, want %d", tc.addrs, r.Status, r.Raw, tc.want)
			continue
		}
		if tc.want == 400 && (r.errField() != "allowed_addresses" || r.errCode() != "validation_failed") {
			t.Errorf("%v: %s, want validation_failed on allowed_addresses", tc.addrs, r.Raw)
		}
		if tc.want == 201 && !reflect.DeepEqual(r.Body["allowed_addresses"], tc.got) {
			t.Errorf("%v stored as %v", tc.addrs, r.Body["allowed_addresses"])
		}
	}
	// The message says what to write instead.
	r := e.do("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("Typo", "10.0.0.1/24"))
	if !strings.Contains(r.Raw, "10.0.0.0/24") || !strings.Contains(r.Raw, "10.0.0.1/32") {
		t.Errorf("host bits message: %s", r.Raw)
	}
	if r := e.do("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("Wide", "10.0.0.0/8")); !strings.Contains(r.Raw, "MAX_ACL_PREFIX") {
		t.Errorf("bound message: %s", r.Raw)
	}

	// Update: refused the same way, the stored list unchanged.
	tr := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("Carrier", "203.0.113.0/24"), 201)
	id := tr.Body["id"].(string)
	for _, bad := range [][]string{{"0.0.0.0/0"}, {"1.2.3.4/0"}, {"203.0.113.1/24"}, {"0.0.0.0/1", "128.0.0.0/1"}} {
		r := e.do("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"allowed_addresses": bad})
		if r.Status != 400 || r.errField() != "allowed_addresses" {
			t.Errorf("update to %v: %d %s", bad, r.Status, r.Raw)
		}
	}
	if got := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200).Body["allowed_addresses"]; !reflect.DeepEqual(got, []any{"203.0.113.0/24"}) {
		t.Fatalf("after refused updates: %v", got)
	}
}

// MAX_ACL_PREFIX widens (or narrows) the bound; host bits stay refused.
func TestTrunkACLOperatorBound(t *testing.T) {
	p, err := trunkapi.ParseACLPolicy("v4=8,v6=24", "")
	if err != nil {
		t.Fatal(err)
	}
	e := newACLEnv(t, &p)
	for _, tc := range []struct {
		addr string
		want int
	}{
		{"10.0.0.0/8", 201}, {"2400::/24", 201}, {"8.0.0.0/7", 400}, {"2400::/23", 400}, {"11.0.0.1/8", 400}, {"0.0.0.0/0", 400},
	} {
		r := e.do("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("T "+strings.NewReplacer("/", " ", ":", " ", ".", " ").Replace(tc.addr), tc.addr))
		if r.Status != tc.want || (tc.want == 400 && r.errField() != "allowed_addresses") {
			t.Errorf("%s: %d %s, want %d", tc.addr, r.Status, r.Raw, tc.want)
		}
	}
	any, _ := trunkapi.ParseACLPolicy("v4=0,v6=0", "")
	e = newACLEnv(t, &any)
	e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("Anything", "0.0.0.0/0", "::/0"), 201)
	if r := e.do("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("Typo", "1.2.3.4/0")); r.Status != 400 {
		t.Fatalf("host bits with no bound: %d %s", r.Status, r.Raw)
	}
}

func TestParseACLPolicy(t *testing.T) {
	for _, tc := range []struct {
		max, shared string
		v4, v6      int
		n           int
		ok          bool
	}{
		{"", "", 16, 32, 0, true},
		{"8", "", 8, 32, 0, true},
		{"v4=8,v6=24", "", 8, 24, 0, true},
		{" V6=48 ", "", 16, 48, 0, true},
		{"v4=0", "", 0, 32, 0, true},
		{"", "203.0.113.0/24, 2001:db8:5::/48", 16, 32, 2, true},
		{"33", "", 0, 0, 0, false},
		{"v4=33", "", 0, 0, 0, false},
		{"v6=129", "", 0, 0, 0, false},
		{"v5=8", "", 0, 0, 0, false},
		{"v4", "", 0, 0, 0, false},
		{"-1", "", 0, 0, 0, false},
		{"", "203.0.113.1/24", 0, 0, 0, false},
		{"", "carrier.example.com", 0, 0, 0, false},
	} {
		p, err := trunkapi.ParseACLPolicy(tc.max, tc.shared)
		if (err == nil) != tc.ok {
			t.Errorf("%q %q: err %v", tc.max, tc.shared, err)
			continue
		}
		if tc.ok && (p.MaxPrefixV4 != tc.v4 || p.MaxPrefixV6 != tc.v6 || len(p.SharedCarrier) != tc.n) {
			t.Errorf("%q %q: %+v", tc.max, tc.shared, p)
		}
	}
}

// An address belongs to one organization's trunks: another organization
// claiming it (the same address, a range holding it, a range inside it) is
// 409 on create and update, without naming the first tenant. The same
// organization may repeat it (a registration trunk and an IP-auth trunk to
// one carrier); shared carrier space may be in several organizations.
func TestTrunkAddressesAcrossOrganizations(t *testing.T) {
	p, err := trunkapi.ParseACLPolicy("", "192.0.2.0/24")
	if err != nil {
		t.Fatal(err)
	}
	e := newACLEnv(t, &p)
	a := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("Secret Carrier of A", "203.0.113.0/24", "2001:db8:a::/48"), 201)
	e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("A again", "203.0.113.10"), 201)

	b := e.mustDo("POST", "/api/v1/sip-trunks", e.keyB, ipTrunk("B", "198.51.100.0/24"), 201)
	bID := b.Body["id"].(string)
	for _, addrs := range [][]string{{"203.0.113.10"}, {"203.0.112.0/23"}, {"203.0.113.128/25"}, {"198.51.100.5", "2001:db8:a:1::/64"}} {
		r := e.do("POST", "/api/v1/sip-trunks", e.keyB, ipTrunk("B2", addrs...))
		if r.Status != 409 || r.errField() != "allowed_addresses" || r.errCode() != "conflict" {
			t.Errorf("create %v: %d %s, want 409 on allowed_addresses", addrs, r.Status, r.Raw)
		}
		for _, leak := range []string{"org-a", "Secret Carrier", a.Body["id"].(string), a.Body["gateway_name"].(string)} {
			if strings.Contains(r.Raw, leak) {
				t.Errorf("the conflict names the other tenant (%q): %s", leak, r.Raw)
			}
		}
		r = e.do("PUT", "/api/v1/sip-trunks/"+bID, e.keyB, map[string]any{"allowed_addresses": append([]string{"198.51.100.0/24"}, addrs...)})
		if r.Status != 409 || r.errField() != "allowed_addresses" {
			t.Errorf("update %v: %d %s, want 409", addrs, r.Status, r.Raw)
		}
	}
	if got := e.mustDo("GET", "/api/v1/sip-trunks/"+bID, e.keyB, nil, 200).Body["allowed_addresses"]; !reflect.DeepEqual(got, []any{"198.51.100.0/24"}) {
		t.Fatalf("B's trunk after refused updates: %v", got)
	}
	// A cannot take B's address either (the check is symmetric).
	if r := e.do("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("A3", "198.51.100.77")); r.Status != 409 {
		t.Fatalf("A claiming B's address: %d %s", r.Status, r.Raw)
	}
	// Shared carrier space: both organizations, and ranges inside it.
	e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("Shared A", "192.0.2.10"), 201)
	e.mustDo("POST", "/api/v1/sip-trunks", e.keyB, ipTrunk("Shared B", "192.0.2.10", "192.0.2.0/25"), 201)
	// A range that holds shared space is shared where it overlaps only.
	if r := e.do("POST", "/api/v1/sip-trunks", e.keyB, ipTrunk("Wide B", "192.0.0.0/22")); r.Status != 201 {
		t.Fatalf("shared overlap only: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/api/v1/sip-trunks", e.keyA, ipTrunk("Wide A", "192.0.0.0/22")); r.Status != 409 {
		t.Fatalf("overlap with B's non-shared 192.0.0.0/22: %d %s", r.Status, r.Raw)
	}
	// Unchanged addresses are not checked again: A renames, disables and
	// enables its trunk freely.
	aID := a.Body["id"].(string)
	e.mustDo("PUT", "/api/v1/sip-trunks/"+aID, e.keyA, map[string]any{"name": "Renamed"}, 200)
	e.mustDo("POST", "/api/v1/sip-trunks/"+aID+"/disable", e.keyA, nil, 200)
	e.mustDo("POST", "/api/v1/sip-trunks/"+aID+"/enable", e.keyA, nil, 200)
	// A deleted trunk frees its addresses.
	e.mustDo("DELETE", "/api/v1/sip-trunks/"+aID, e.keyA, nil, 204)
	for _, tr := range e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200).List {
		if m := tr.(map[string]any); m["name"] == "A again" {
			e.mustDo("DELETE", "/api/v1/sip-trunks/"+m["id"].(string), e.keyA, nil, 204)
		}
	}
	e.mustDo("POST", "/api/v1/sip-trunks", e.keyB, ipTrunk("B now", "203.0.113.10"), 201)
}

// Two organizations racing for one address: exactly one wins.
func TestTrunkAddressRace(t *testing.T) {
	e := newACLEnv(t, nil)
	res := make(chan int, 2)
	for _, key := range []string{e.keyA, e.keyB} {
		go func() {
			r := e.do("POST", "/api/v1/sip-trunks", key, ipTrunk("Race", "203.0.113.50"))
			res <- r.Status
		}()
	}
	got := []int{<-res, <-res}
	if !(got[0] == 201 && got[1] == 409 || got[0] == 409 && got[1] == 201) {
		t.Fatalf("statuses %v, want one 201 and one 409", got)
	}
	var n int
	for _, org := range []int64{e.orgA, e.orgB} {
		trunks, _, _ := e.store.ListTrunks(context.Background(), org, db.Page{Limit: 10})
		for _, tr := range trunks {
			for _, a := range tr.AllowedAddresses {
				if netip.MustParsePrefix(a).Contains(netip.MustParseAddr("203.0.113.50")) {
					n++
				}
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d trunks hold the address", n)
	}
}

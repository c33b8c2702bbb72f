package route_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/route"
)

// TestDecideStatements: routing an accepted call from an IP-auth trunk is
// done in five statements (its trunk, the trunks allowing its address, the
// organization, the trunk's numbers, the called number), each number
// looked up once and no count: every statement is a round trip the caller
// waits for before the answer, at 50 calls a second.
func TestDecideStatements(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store, _, asst := carrierNumber(t, g, "sip.example.com")
		var mu sync.Mutex
		var stmts []string
		count := func(tx *gorm.DB) {
			mu.Lock()
			stmts = append(stmts, tx.Statement.SQL.String())
			mu.Unlock()
		}
		for _, reg := range []error{
			g.Callback().Query().After("gorm:query").Register("test:count_query", count),
			g.Callback().Row().After("gorm:row").Register("test:count_row", count),
			g.Callback().Raw().After("gorm:raw").Register("test:count_raw", count),
		} {
			if reg != nil {
				t.Fatal(reg)
			}
		}
		r, err := route.NewRouter(store, nil).Decide(ctx, vars("variable_sip_acl_authed_by", "o1_carrier",
			"variable_sip_network_ip", "203.0.113.9", "variable_sip_req_user", "+16478491000", "variable_sip_to_user", "+16478491000",
			"Caller-Caller-ID-Number", "+14165550100"))
		if err != nil || r.Refused != nil || r.AssistantID != asst.ID {
			t.Fatalf("route %+v, refused %+v, err %v", r, r.Refused, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(stmts) > 5 {
			t.Errorf("routing made %d statements, want at most 5:\n%s", len(stmts), strings.Join(stmts, "\n"))
		}
	})
}

// carrierNumber stores organization "a" with an IP-auth trunk o1_carrier
// (gateway, allowing 203.0.113.0/24), an assistant and the number
// +16478491000 on that trunk for it.
func carrierNumber(t testing.TB, g *gorm.DB, gateway string) (*db.Store, *db.SIPTrunk, *db.Assistant) {
	t.Helper()
	ctx := context.Background()
	store := db.NewStore(g, dbtest.Keyring(t), nil)
	org, _, _ := store.EnsureOrg(ctx, "a")
	tr := &db.SIPTrunk{ID: db.NewID(), OrgID: org.ID, Name: "carrier", GatewayName: "o1_carrier", Gateway: gateway,
		Enabled: true, Transport: "udp", AllowedAddresses: db.StringList{"203.0.113.0/24"}}
	if err := store.CreateTrunk(ctx, tr); err != nil {
		t.Fatal(err)
	}
	asst := &db.Assistant{OrgID: org.ID, Name: "Front"}
	if err := store.SaveAssistant(ctx, asst, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	n := &db.PhoneNumber{OrgID: org.ID, PhoneNumber: "+16478491000", Provider: db.ProviderBYOSIP, IsActive: true,
		AssistantID: &asst.ID, SIPTrunkID: &tr.ID}
	if err := store.SaveNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	return store, tr, asst
}

package db_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

func newStore(t *testing.T, g *gorm.DB) *db.Store {
	t.Helper()
	return db.NewStore(g, dbtest.Keyring(t), nil)
}

// trunk returns a trunk of org named name (gateway o<org>_<name>).
func trunk(org int64, name string, mutate func(*db.SIPTrunk)) *db.SIPTrunk {
	tr := &db.SIPTrunk{ID: db.NewID(), OrgID: org, Name: name, GatewayName: fmt.Sprintf("o%d_%s", org, name),
		Gateway: "sip.example.com", Priority: 1, Enabled: true, Register: true, Transport: "udp", TransferMode: "bridge"}
	if mutate != nil {
		mutate(tr)
	}
	return tr
}

func mustCreateTrunk(t *testing.T, s *db.Store, tr *db.SIPTrunk) *db.SIPTrunk {
	t.Helper()
	if err := s.CreateTrunk(context.Background(), tr); err != nil {
		t.Fatalf("create trunk %s: %v", tr.Name, err)
	}
	return tr
}

// The reconciler skips a pass when the fingerprint did not change: it must
// change with every trunk write and only then.
func TestTrunksFingerprint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		fp := func() string {
			t.Helper()
			f, err := s.TrunksFingerprint(ctx)
			if err != nil {
				t.Fatalf("fingerprint: %v", err)
			}
			return f
		}
		seen := map[string]string{}
		changed := func(what string) {
			t.Helper()
			f := fp()
			if prev, ok := seen[f]; ok {
				t.Fatalf("after %s the fingerprint is %q, as after %s", what, f, prev)
			}
			seen[f] = what
			if again := fp(); again != f {
				t.Fatalf("after %s, with nothing changed: %q then %q", what, f, again)
			}
		}
		changed("nothing")
		a := mustCreateTrunk(t, s, trunk(org.ID, "a", nil))
		changed("creating a")
		b := mustCreateTrunk(t, s, trunk(org.ID, "b", nil))
		changed("creating b")

		// Status writes (the reconciler's own and FreeSWITCH's) are not trunk changes.
		before := fp()
		if err := s.SetSyncResults(ctx, []db.SyncResult{{TrunkID: a.ID, State: "applied"}, {TrunkID: b.ID, State: "error", Message: "x"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetGatewayLive(ctx, db.GatewayLive{GatewayName: a.GatewayName, State: "REGED", PingStatus: "UP", LastStatusCode: 200}); err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureTrunkStatus(ctx, []db.SIPTrunk{*a, *b}); err != nil {
			t.Fatal(err)
		}
		if after := fp(); after != before {
			t.Fatalf("status writes changed the fingerprint: %q → %q", before, after)
		}

		a.ExpireSeconds = 120
		a.Status = nil
		if err := s.UpdateTrunk(ctx, a); err != nil {
			t.Fatal(err)
		}
		changed("updating a (not the latest written)")
		if err := s.DeleteTrunk(ctx, org.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		changed("deleting b")
		// One deleted and one created between two passes: same count.
		if err := s.DeleteTrunk(ctx, org.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		mustCreateTrunk(t, s, trunk(org.ID, "c", nil))
		changed("replacing a by c")
	})
}

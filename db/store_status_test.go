package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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

// The reconciler's writes: what GET /sip-trunks shows as sync and gateway state.
func TestTrunkStatusWrites(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		b := mustCreateTrunk(t, s, trunk(org.ID, "b", nil))
		a := mustCreateTrunk(t, s, trunk(org.ID, "a", func(tr *db.SIPTrunk) { tr.Enabled = false }))
		// A trunk written before status rows existed.
		old := trunk(org.ID, "c", func(tr *db.SIPTrunk) { tr.AllowedAddresses, tr.Codecs = db.StringList{}, db.StringList{} })
		if err := g.Omit("Status").Create(old).Error; err != nil {
			t.Fatal(err)
		}
		status := func(tr *db.SIPTrunk) db.TrunkStatus {
			t.Helper()
			got, err := s.GetTrunk(ctx, org.ID, tr.ID)
			if err != nil || got.Status == nil {
				t.Fatalf("trunk %s: %+v %v", tr.Name, got, err)
			}
			return *got.Status
		}

		if err := s.SetSyncResults(ctx, []db.SyncResult{{TrunkID: b.ID, State: "applied"}}); err != nil {
			t.Fatal(err)
		}
		all, err := s.AllTrunks(ctx)
		if err != nil || len(all) != 3 {
			t.Fatalf("all trunks: %d %v", len(all), err)
		}
		if all[0].Name != "a" || all[1].Name != "b" || all[2].Name != "c" || all[2].Status != nil {
			t.Fatalf("by gateway name, c without status: %s %s %s %+v", all[0].Name, all[1].Name, all[2].Name, all[2].Status)
		}
		if err := s.EnsureTrunkStatus(ctx, all); err != nil {
			t.Fatal(err)
		}
		if st := status(old); st.SyncState != "pending" {
			t.Fatalf("missing status row: %+v", st)
		}
		if st := status(b); st.SyncState != "applied" {
			t.Fatalf("EnsureTrunkStatus overwrote an existing row: %+v", st)
		}

		applied := status(b)
		if applied.AppliedAt == nil || applied.AppliedAt.IsZero() {
			t.Fatalf("applied without applied_at: %+v", applied)
		}
		// The same result again is not written (updated_at unchanged).
		s.Now = func() time.Time { return time.Now().UTC().Add(time.Hour) }
		if err := s.SetSyncResults(ctx, []db.SyncResult{{TrunkID: b.ID, State: "applied"}, {TrunkID: a.ID, State: "pending", Message: "disabled"}}); err != nil {
			t.Fatal(err)
		}
		if st := status(b); !st.UpdatedAt.Equal(applied.UpdatedAt) || !st.AppliedAt.Equal(*applied.AppliedAt) {
			t.Fatalf("unchanged result rewritten: %v → %v", applied.UpdatedAt, st.UpdatedAt)
		}
		if st := status(a); st.SyncMessage != "disabled" || st.AppliedAt != nil {
			t.Fatalf("disabled trunk: %+v", st)
		}
		if err := s.SetSyncResults(ctx, []db.SyncResult{{TrunkID: b.ID, State: "error", Message: "rescan: -ERR"}}); err != nil {
			t.Fatal(err)
		}
		if st := status(b); st.SyncState != "error" || st.SyncMessage != "rescan: -ERR" || !st.AppliedAt.Equal(*applied.AppliedAt) {
			t.Fatalf("error result: %+v", st)
		}

		// FreeSWITCH's view, by gateway name; an event without ping status or
		// SIP code keeps the last known ones.
		if err := s.SetGatewayLive(ctx, db.GatewayLive{GatewayName: b.GatewayName, State: "REGED", PingStatus: "UP", LastStatusCode: 200}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetGatewayLive(ctx, db.GatewayLive{GatewayName: b.GatewayName, State: "FAIL_WAIT"}); err != nil {
			t.Fatal(err)
		}
		if st := status(b); st.GatewayState != "FAIL_WAIT" || st.PingStatus != "UP" || st.LastStatusCode != 200 || st.SyncState != "error" {
			t.Fatalf("live state: %+v", st)
		}
		if err := s.SetGatewayLive(ctx, db.GatewayLive{GatewayName: "o9_gone", State: "REGED"}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("unknown gateway: %v", err)
		}
		// Editing the trunk makes it pending again.
		b.Status = nil
		if err := s.UpdateTrunk(ctx, b); err != nil {
			t.Fatal(err)
		}
		if st := status(b); st.SyncState != "pending" || st.SyncMessage != "" {
			t.Fatalf("after edit: %+v", st)
		}
	})
}

package trunk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/trunk"
)

// benchSync loads n IP-auth trunks and applies them once.
func benchSync(b *testing.B, n int) (*trunk.Sync, *db.Store, *fstest.Switch, []db.SIPTrunk) {
	ctx := context.Background()
	store := db.NewStore(dbtest.Postgres(b), dbtest.Keyring(b), nil)
	org, _, _ := store.EnsureOrg(ctx, "bench")
	trunks := make([]db.SIPTrunk, n)
	status := make([]db.TrunkStatus, n)
	now := time.Now().UTC()
	for i := range trunks {
		trunks[i] = db.SIPTrunk{ID: db.NewID(), OrgID: org.ID, Name: fmt.Sprintf("t%d", i), GatewayName: fmt.Sprintf("o%d_t%d", org.ID, i),
			Gateway: "203.0.113.1:5060", Priority: 1, Enabled: true, Register: false, Transport: "udp",
			AllowedAddresses: db.StringList{"203.0.113.0/24"}, Codecs: db.StringList{}, CreatedAt: now, UpdatedAt: now}
		status[i] = db.TrunkStatus{TrunkID: trunks[i].ID, OrgID: org.ID, SyncState: "pending", UpdatedAt: now}
	}
	if err := store.DB.CreateInBatches(trunks, 1000).Error; err != nil {
		b.Fatal(err)
	}
	if err := store.DB.CreateInBatches(status, 1000).Error; err != nil {
		b.Fatal(err)
	}
	sw := fstest.New(fstest.Options{GenDir: b.TempDir(), Step: time.Millisecond})
	if err := sw.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sw.Close() })
	cmd := esl.New(sw.Addr(), "ClueCon")
	ev := esl.New(sw.Addr(), "ClueCon", esl.WithEvents(trunk.GatewayEventSubclasses...))
	s := trunk.NewSync(store, cmd, trunk.SyncOptions{GenDir: sw.Options().GenDir, DeleteTimeout: 10 * time.Second})
	ev.OnEvent(func(e *esl.Event) {
		if ge, ok := trunk.GatewayEventFrom(e); ok {
			s.HandleGatewayEvent(ctx, ge)
		}
	})
	for _, c := range []*esl.Client{cmd, ev} {
		c.Start(ctx)
		if err := c.WaitConnected(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
	}
	if _, err := s.Pass(ctx); err != nil {
		b.Fatal(err)
	}
	if len(sw.Gateways()) != n {
		b.Fatalf("%d gateways loaded, want %d", len(sw.Gateways()), n)
	}
	return s, store, sw, trunks
}

// BenchmarkReconcileNoop10k: a pass over 10,000 applied trunks with nothing to change.
func BenchmarkReconcileNoop10k(b *testing.B) {
	s, _, sw, _ := benchSync(b, 10000)
	sw.ResetCommands()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Pass(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if cmds := sw.Commands(); len(cmds) != 0 {
		b.Fatalf("no-op passes sent %v", cmds)
	}
}

// BenchmarkReconcileOneChanged10k: one trunk of 10,000 changes per pass:
// exactly one killgw and one rescan each time.
func BenchmarkReconcileOneChanged10k(b *testing.B) {
	s, store, sw, trunks := benchSync(b, 10000)
	ctx := context.Background()
	passes := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		t := trunks[passes%len(trunks)]
		t.ExpireSeconds = 100 + passes
		if err := store.UpdateTrunk(ctx, &t); err != nil {
			b.Fatal(err)
		}
		sw.ResetCommands()
		b.StartTimer()
		if _, err := s.Pass(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cmds := sw.Commands()
		if count(cmds, "sofia profile external killgw") != 1 || count(cmds, "sofia profile external rescan") != 1 {
			b.Fatalf("one change sent %v", cmds)
		}
		passes++
		b.StartTimer()
	}
}

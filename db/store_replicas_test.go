package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// A replica's presence lasts its ttl from each announce. Once it has
// expired, another replica closes that replica's open hosted calls (not
// its ended ones, not a SIP call, not another replica's) and forgets it;
// a replica that announced again keeps its calls. A replica restarting
// under its name closes the hosted calls its previous run left open.
func TestReplicaPresenceAndItsHostedCalls(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s, ctx := newStore(t, g), context.Background()
		org, _, err := s.EnsureOrg(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now().UTC()
		const ttl = 10 * time.Second
		for _, r := range []string{"a", "b"} {
			if err := s.Announce(ctx, r, "http://"+r+":8080", t0, ttl); err != nil {
				t.Fatal(err)
			}
		}
		rec := func(provider, replica, status string) *db.Call {
			t.Helper()
			c := &db.Call{OrgID: org.ID, Provider: provider, Replica: replica, Direction: db.DirectionInbound, Status: status}
			if status == db.CallCompleted {
				c.EndedAt = &t0
			}
			if err := s.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		aOpen, aRinging := rec("twilio", "a", db.CallInProgress), rec("telnyx", "a", db.CallRinging)
		aEnded, aSIP := rec("twilio", "a", db.CallCompleted), rec("sip", "a", db.CallInProgress)
		bOpen := rec("vonage", "b", db.CallInProgress)

		if r, err := s.LiveReplica(ctx, "a", t0.Add(ttl-time.Second)); err != nil || r.Addr != "http://a:8080" {
			t.Fatalf("a within its ttl: %+v %v", r, err)
		}
		if _, err := s.LiveReplica(ctx, "a", t0.Add(ttl+time.Second)); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("a past its ttl: %v, want not found", err)
		}
		// b renews; a does not.
		if err := s.Announce(ctx, "b", "http://b:8080", t0.Add(8*time.Second), ttl); err != nil {
			t.Fatal(err)
		}
		if n, err := s.CloseDeadReplicasCalls(ctx, t0.Add(5*time.Second), "stopped"); err != nil || len(n) != 0 {
			t.Fatalf("before any presence expired: %v %v", n, err)
		}
		n, err := s.CloseDeadReplicasCalls(ctx, t0.Add(ttl+time.Second), "the replica holding the call stopped")
		if err != nil || len(n) != 1 || n["a"] != 2 {
			t.Fatalf("a expired: closed %v %v, want a's 2 open hosted calls", n, err)
		}
		status := func(c *db.Call) (string, string) {
			got, err := s.GetCall(ctx, org.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (got.EndedAt != nil) != (got.Status != db.CallInProgress && got.Status != db.CallRinging) {
				t.Errorf("call %s: status %s ended_at %v", c.ID, got.Status, got.EndedAt)
			}
			return got.Status, got.Reason
		}
		for _, c := range []*db.Call{aOpen, aRinging} {
			if st, reason := status(c); st != db.CallFailed || reason != "the replica holding the call stopped" {
				t.Errorf("a's open %s call: %s %q, want failed with the reason", c.Provider, st, reason)
			}
		}
		for c, want := range map[*db.Call]string{aEnded: db.CallCompleted, aSIP: db.CallInProgress, bOpen: db.CallInProgress} {
			if st, _ := status(c); st != want {
				t.Errorf("%s call of %s: %s, want %s", c.Provider, c.Replica, st, want)
			}
		}
		if n, err := s.CloseDeadReplicasCalls(ctx, t0.Add(ttl+2*time.Second), "stopped"); err != nil || len(n) != 0 {
			t.Fatalf("a forgotten: %v %v, want nothing more", n, err)
		}

		// b's presence expires, but b announces again before the sweep's
		// close: its call stays.
		late := t0.Add(30 * time.Second)
		if err := s.Announce(ctx, "b", "http://b:8080", late, ttl); err != nil {
			t.Fatal(err)
		}
		if n, err := s.CloseDeadReplicasCalls(ctx, late.Add(-time.Second), "stopped"); err != nil || n["b"] != 0 {
			t.Fatalf("b back: %v %v", n, err)
		}
		if st, _ := status(bOpen); st != db.CallInProgress {
			t.Errorf("b's call after b announced again: %s", st)
		}

		// b restarts under its name: its previous run's open hosted calls
		// are closed, nobody else's.
		aNew := rec("twilio", "a", db.CallInProgress)
		if n, err := s.CloseReplicaCalls(ctx, "b", "sipbridge restarted while the call was live"); err != nil || n != 1 {
			t.Fatalf("b's restart closed %d %v, want 1", n, err)
		}
		if st, reason := status(bOpen); st != db.CallFailed || reason != "sipbridge restarted while the call was live" {
			t.Errorf("b's call after b restarted: %s %q", st, reason)
		}
		if st, _ := status(aNew); st != db.CallInProgress {
			t.Errorf("a's call after b restarted: %s", st)
		}
	})
}

package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// Two replicas and one node: the first takes the lease and renews it; the
// second cannot take it until it has expired, then takes it over (with its
// address); the first then can no longer renew. A release lets the other
// take it at once; a replica cannot release another's.
func TestNodeLeases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s, ctx := newStore(t, g), context.Background()
		t0 := time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)
		const ttl = 10 * time.Second
		take := func(owner string, at time.Duration) bool {
			t.Helper()
			ok, err := s.TakeLease(ctx, "fs1", owner, "http://"+owner+":8080", t0.Add(at), ttl)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !take("a", 0) {
			t.Fatal("a could not take a free lease")
		}
		if take("b", time.Second) {
			t.Fatal("b took a's live lease")
		}
		if !take("a", 3*time.Second) { // renewed: now until 13 s
			t.Fatal("a could not renew its lease")
		}
		if take("b", 12*time.Second) {
			t.Fatal("b took a's renewed lease before it expired")
		}
		if !take("b", 13*time.Second+time.Millisecond) {
			t.Fatal("b could not take a's expired lease")
		}
		if take("a", 14*time.Second) {
			t.Fatal("a renewed a lease b had taken over")
		}
		ls, err := s.Leases(ctx)
		if err != nil || len(ls) != 1 || ls[0].Owner != "b" || ls[0].OwnerAddr != "http://b:8080" ||
			!ls[0].ExpiresAt.Equal(t0.Add(23*time.Second+time.Millisecond)) {
			t.Fatalf("leases %+v %v, want b's until 23.001 s", ls, err)
		}
		if err := s.ReleaseLease(ctx, "fs1", "a"); err != nil {
			t.Fatal(err)
		}
		if take("a", 15*time.Second) {
			t.Fatal("a's release freed b's lease")
		}
		if err := s.ReleaseLease(ctx, "fs1", "b"); err != nil {
			t.Fatal(err)
		}
		if !take("a", 15*time.Second) {
			t.Fatal("a could not take the lease b released")
		}
	})
}

// Replicas racing for a free lease: exactly one wins.
func TestNodeLeaseRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s, ctx := newStore(t, g), context.Background()
		now := time.Now()
		var mu sync.Mutex
		won := map[string]bool{}
		var wg sync.WaitGroup
		for _, owner := range []string{"a", "b", "c", "d"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.TakeLease(ctx, "fs2", owner, "", now, time.Minute)
				if err != nil && !db.Unavailable(err) {
					t.Error(err)
				}
				mu.Lock()
				won[owner] = ok
				mu.Unlock()
			}()
		}
		wg.Wait()
		n := 0
		for _, ok := range won {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Errorf("winners %v, want exactly one", won)
		}
	})
}

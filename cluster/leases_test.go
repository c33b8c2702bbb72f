package cluster_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
)

// replica is one sipbridge replica's leases, with what it was told.
type replica struct {
	*cluster.Leases
	mu           sync.Mutex
	gained, lost []string
}

func (r *replica) told() (gained, lost []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.gained), slices.Clone(r.lost)
}

func newReplica(store cluster.LeaseStore, name string, now func() time.Time, prefer ...string) *replica {
	r := &replica{}
	r.Leases = cluster.NewLeases(store, cluster.LeaseOptions{Owner: name, Addr: "http://" + name, Nodes: []string{"fs1", "fs2"}, Prefer: prefer,
		TTL: 10 * time.Second, Renew: 3 * time.Second, Now: now,
		Gained: func(n string) { r.mu.Lock(); r.gained = append(r.gained, n); r.mu.Unlock() },
		Lost:   func(n string) { r.mu.Lock(); r.lost = append(r.lost, n); r.mu.Unlock() }})
	return r
}

// Two replicas on one database: the first takes both nodes, the second
// none while the first renews; when the first stops renewing, the second
// takes both over once they expire, and the first, back, is told at once
// that it lost them and does not take them back.
func TestLeasesTwoReplicas(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		store, ctx := db.NewStore(g, dbtest.Keyring(t), nil), context.Background()
		var mu sync.Mutex
		clock := time.Now()
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
		a, b := newReplica(store, "a", now), newReplica(store, "b", now)

		a.Pass(ctx)
		b.Pass(ctx)
		if g, _ := a.told(); !slices.Equal(g, []string{"fs1", "fs2"}) || !a.Holds("fs1") || !a.Holds("fs2") {
			t.Fatalf("a gained %v, want both nodes", g)
		}
		if g, _ := b.told(); len(g) != 0 || b.Holds("fs1") {
			t.Fatalf("b gained %v while a holds them", g)
		}
		advance(3 * time.Second)
		a.Pass(ctx) // renewed until 13 s
		advance(9 * time.Second)
		b.Pass(ctx)
		if g, _ := b.told(); len(g) != 0 {
			t.Fatalf("b gained %v before a's renewed leases expired", g)
		}
		advance(2 * time.Second) // 14 s: a missed its renewals
		if a.Holds("fs1") {
			t.Error("a still holds fs1 a TTL after its last renewal")
		}
		b.Pass(ctx)
		if g, _ := b.told(); !slices.Equal(g, []string{"fs1", "fs2"}) {
			t.Fatalf("b gained %v after a's leases expired, want both", g)
		}
		a.Pass(ctx)
		if _, l := a.told(); !slices.Equal(l, []string{"fs1", "fs2"}) || a.Holds("fs1") {
			t.Fatalf("a lost %v, want both at its first pass after the takeover", l)
		}
		ls, err := store.Leases(ctx)
		if err != nil || len(ls) != 2 || ls[0].Owner != "b" || ls[1].OwnerAddr != "http://b" {
			t.Fatalf("leases %+v %v, want both b's", ls, err)
		}
	})
}

// A replica whose lease is released when its Run ends hands the nodes over
// at once: the other takes them without waiting for the TTL.
func TestLeasesReleasedAtStop(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		store := db.NewStore(g, dbtest.Keyring(t), nil)
		a, b := newReplica(store, "a", time.Now), newReplica(store, "b", time.Now)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { a.Run(ctx); close(done) }()
		deadline := time.Now().Add(5 * time.Second)
		for !a.Holds("fs2") && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		if _, l := a.told(); !slices.Equal(l, []string{"fs1", "fs2"}) && !slices.Equal(l, []string{"fs2", "fs1"}) {
			t.Errorf("a lost %v at its end, want both", l)
		}
		b.Pass(context.Background())
		if g, _ := b.told(); !slices.Equal(g, []string{"fs1", "fs2"}) {
			t.Errorf("b gained %v right after a stopped, want both", g)
		}
	})
}

// failing is a lease store that fails from a point on.
type failing struct {
	cluster.LeaseStore
	fail bool
}

func (f *failing) TakeLease(ctx context.Context, node, owner, addr string, now time.Time, ttl time.Duration) (bool, error) {
	if f.fail {
		return false, errors.New("database unreachable")
	}
	return f.LeaseStore.TakeLease(ctx, node, owner, addr, now, ttl)
}

// slow is a lease store whose renewals take delay (until ctx ends).
type slow struct {
	cluster.LeaseStore
	mu    sync.Mutex
	delay time.Duration
}

func (s *slow) TakeLease(ctx context.Context, node, owner, addr string, now time.Time, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return s.LeaseStore.TakeLease(ctx, node, owner, addr, now, ttl)
}

// A renewal slower than the renew interval, but done before the held lease
// expires, keeps the node (a database slow for a moment); one that would
// end after is given up in time and the node dropped.
func TestLeaseSlowRenewalKeepsTheNode(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		st := &slow{LeaseStore: db.NewStore(g, dbtest.Keyring(t), nil)}
		var mu sync.Mutex
		var lost []string
		a := cluster.NewLeases(st, cluster.LeaseOptions{Owner: "a", Addr: "http://a", Nodes: []string{"fs1"}, TTL: 600 * time.Millisecond,
			Renew: 100 * time.Millisecond, Lost: func(n string) { mu.Lock(); lost = append(lost, n); mu.Unlock() }})
		ctx := context.Background()
		a.Pass(ctx)
		st.mu.Lock()
		st.delay = 250 * time.Millisecond // 2.5 renew intervals
		st.mu.Unlock()
		a.Pass(ctx)
		mu.Lock()
		n := len(lost)
		mu.Unlock()
		if n != 0 || !a.Holds("fs1") {
			t.Fatalf("a renewal of 250 ms (renew 100 ms, TTL 600 ms): lost %v, holds %v; want kept", lost, a.Holds("fs1"))
		}
		st.mu.Lock()
		st.delay = time.Second
		st.mu.Unlock()
		began := time.Now()
		a.Pass(ctx)
		if took := time.Since(began); took >= 600*time.Millisecond || a.Holds("fs1") {
			t.Errorf("a renewal that outlasts the lease: gave up after %v, holds %v; want dropped before the lease expires", took, a.Holds("fs1"))
		}
	})
}

// A renewal that fails drops the node at once (no waiting for the TTL).
func TestLeaseRenewalFailureDropsAtOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		f := &failing{LeaseStore: db.NewStore(g, dbtest.Keyring(t), nil)}
		a := newReplica(f, "a", time.Now)
		a.Pass(context.Background())
		f.fail = true
		a.Pass(context.Background())
		if _, l := a.told(); !slices.Equal(l, []string{"fs1", "fs2"}) || a.Holds("fs1") {
			t.Errorf("lost %v after a failed renewal, want both at once", l)
		}
	})
}

// Replicas started together with their own preferred nodes (REPLICA_NODES)
// each take their own; a preferred node's owner gone, the other takes it
// too, once it has run for a TTL and the lease is free.
func TestLeasesPreferredNodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		store, ctx := db.NewStore(g, dbtest.Keyring(t), nil), context.Background()
		var mu sync.Mutex
		clock := time.Now()
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
		a := newReplica(store, "a", now, "fs1")
		a.Pass(ctx) // b not started yet: a takes its own only
		if g, _ := a.told(); !slices.Equal(g, []string{"fs1"}) {
			t.Fatalf("a gained %v at its first pass, want its own fs1 only", g)
		}
		advance(2 * time.Second)
		b := newReplica(store, "b", now, "fs2")
		b.Pass(ctx)
		if g, _ := b.told(); !slices.Equal(g, []string{"fs2"}) {
			t.Fatalf("b gained %v, want its own fs2", g)
		}
		advance(9 * time.Second) // a has run for a TTL; b keeps renewing
		b.Pass(ctx)
		a.Pass(ctx)
		if g, _ := a.told(); !slices.Equal(g, []string{"fs1"}) {
			t.Fatalf("a gained %v while b renews fs2, want fs1 only", g)
		}
		if err := store.ReleaseLease(ctx, "fs2", "b"); err != nil { // b stopped
			t.Fatal(err)
		}
		a.Pass(ctx)
		if g, _ := a.told(); !slices.Equal(g, []string{"fs1", "fs2"}) {
			t.Fatalf("a gained %v once fs2 was free, want fs2 too", g)
		}
	})
}

package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

type presenceStore struct {
	mu       sync.Mutex
	announce []time.Time // each announce's expiry
	sweeps   []string    // each sweep's reason
	before   []time.Time // each sweep's cutoff
	fail     bool
}

func (s *presenceStore) Announce(_ context.Context, name, addr string, now time.Time, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("database unreachable")
	}
	if name != "a" || addr != "http://a:8080" {
		return errors.New("wrong replica")
	}
	s.announce = append(s.announce, now.Add(ttl))
	return nil
}

func (s *presenceStore) CloseDeadReplicasCalls(_ context.Context, before time.Time, reason string) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeps, s.before = append(s.sweeps, reason), append(s.before, before)
	return map[string]int64{"x": 1}, nil
}

func (s *presenceStore) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.announce), len(s.sweeps)
}

// A replica's presence is renewed every Renew, lasting TTL from each
// renewal, and each renewal closes the dead replicas' hosted calls with
// the reason given; a failed renewal is retried at the next.
func TestPresenceRenewsAndSweeps(t *testing.T) {
	st := &presenceStore{}
	p := cluster.NewPresence(st, cluster.PresenceOptions{Name: "a", Addr: "http://a:8080", TTL: 100 * time.Millisecond, Renew: 20 * time.Millisecond,
		Reason: "the sipbridge replica holding the call stopped"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	testkit.Eventually(t, 2*time.Second, "three renewals and sweeps", func() bool { a, s := st.counts(); return a >= 3 && s >= 3 }, nil)
	st.mu.Lock()
	st.fail = true
	n := len(st.announce)
	st.mu.Unlock()
	time.Sleep(60 * time.Millisecond)
	st.mu.Lock()
	st.fail = false
	st.mu.Unlock()
	testkit.Eventually(t, 2*time.Second, "renewals again after the failures", func() bool { a, _ := st.counts(); return a > n }, nil)
	cancel()
	<-done
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.announce) < 2 || st.announce[1].Sub(st.announce[0]) > 500*time.Millisecond || st.sweeps[0] != "the sipbridge replica holding the call stopped" {
		t.Errorf("announces %v, sweeps %q", st.announce, st.sweeps)
	}
}

// A replica judges the others dead only once its own renewals have gone
// through for a TTL without a break (after an outage of the database every
// live replica has announced itself again first), and only those whose
// presence expired more than a TTL ago (its clock may be ahead of theirs,
// their renewal late).
func TestPresenceSweepsAfterATTLOfItsOwnRenewals(t *testing.T) {
	st := &presenceStore{}
	clock := testkit.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	ttl := 3 * time.Second
	p := cluster.NewPresence(st, cluster.PresenceOptions{Name: "a", Addr: "http://a:8080", TTL: ttl, Renew: time.Second, Now: clock.Now})
	ctx := context.Background()
	tick := func() {
		clock.Advance(time.Second)
		if p.Announce(ctx) {
			p.Sweep(ctx)
		}
	}
	p.Announce(ctx) // at start
	for range 2 {
		tick()
	}
	if _, s := st.counts(); s != 0 {
		t.Fatalf("swept after 2 s of renewals (TTL 3 s): %d", s)
	}
	tick()
	if _, s := st.counts(); s != 1 || !st.before[0].Equal(clock.Now().Add(-ttl)) {
		t.Fatalf("after a TTL of renewals: %d sweeps, cutoff %v, want 1 at %v", s, st.before, clock.Now().Add(-ttl))
	}
	st.mu.Lock()
	st.fail = true
	st.mu.Unlock()
	tick()
	st.mu.Lock()
	st.fail = false
	st.mu.Unlock()
	for range 2 {
		tick()
	}
	p.Sweep(ctx)
	if _, s := st.counts(); s != 1 {
		t.Fatalf("swept %d times within a TTL of the renewal that failed, want still 1", s)
	}
	for range 2 {
		tick()
	}
	if _, s := st.counts(); s != 2 {
		t.Errorf("a TTL after the renewals came back: %d sweeps, want 2", s)
	}
}

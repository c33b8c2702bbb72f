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

func (s *presenceStore) CloseDeadReplicasCalls(_ context.Context, _ time.Time, reason string) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeps = append(s.sweeps, reason)
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
	p := cluster.NewPresence(st, cluster.PresenceOptions{Name: "a", Addr: "http://a:8080", TTL: time.Second, Renew: 20 * time.Millisecond,
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

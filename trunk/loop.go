package trunk

import (
	"context"
	"errors"
	"time"

	"github.com/robfig/cron/v3"
)

// RunOptions configures the reconcile loop.
type RunOptions struct {
	// Changed is signalled after trunk writes (Service.ChangedC).
	Changed <-chan struct{}
	// Debounce coalesces bursts of writes into one pass (default 200ms).
	Debounce time.Duration
	// Every is the cron tick (default 60s); each tick re-resolves gateway hosts and passes.
	Every time.Duration
	// Ready reports whether the Event Socket is connected; passes wait for it.
	Ready func() bool
	// ReadyPoll is how often a pass that waits for Ready looks again
	// (default 250ms).
	ReadyPoll time.Duration
}

// Run reconciles until ctx ends: after trunk writes (debounced), on every
// Kick (ESL connect, POST /sip-trunks/sync), and on the cron tick. A failed
// pass is retried with backoff.
func (s *Sync) Run(ctx context.Context, o RunOptions) error {
	if o.Debounce == 0 {
		o.Debounce = 200 * time.Millisecond
	}
	if o.Every == 0 {
		o.Every = time.Minute
	}
	if o.ReadyPoll == 0 {
		o.ReadyPoll = 250 * time.Millisecond
	}
	ticks := make(chan struct{}, 1)
	c := cron.New(cron.WithSeconds())
	if _, err := c.AddFunc("@every "+o.Every.String(), func() {
		select {
		case ticks <- struct{}{}:
		default:
		}
	}); err != nil {
		return err
	}
	c.Start()
	defer c.Stop()

	var debounce <-chan time.Time
	var retry <-chan time.Time
	backoff := time.Second
	pass := func() {
		if o.Ready != nil && !o.Ready() {
			// Wanted, but the switch is not (all) connected: look again soon.
			// The connect hooks kick too, but the last connection to come
			// back need not be one with a hook.
			retry = time.After(o.ReadyPoll)
			return
		}
		res, err := s.Pass(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.log.Error("trunk sync pass failed", "err", err, "retry_in_ms", backoff.Milliseconds(), "commands", res.Commands)
			retry = time.After(backoff)
			backoff = min(backoff*2, 30*time.Second)
			return
		}
		backoff, retry = time.Second, nil
		if len(res.Commands) > 0 || len(res.Written) > 0 {
			s.log.Info("trunk sync applied", "files", len(res.Written), "commands", res.Commands)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-o.Changed:
			if debounce == nil {
				debounce = time.After(o.Debounce)
			}
		case <-s.kickC():
			debounce = nil
			pass()
		case <-debounce:
			debounce = nil
			pass()
		case <-retry:
			retry = nil
			pass()
		case <-ticks:
			s.RefreshDNS()
			s.mu.Lock()
			for _, n := range s.nodes {
				n.known = false // re-read FreeSWITCH's gateways: catch drift
			}
			s.dirtyLocked()
			s.mu.Unlock()
			pass()
		}
	}
}

// Kick asks the loop for a pass now.
func (s *Sync) Kick() {
	select {
	case s.kickCh() <- struct{}{}:
	default:
	}
}

func (s *Sync) kickCh() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kick == nil {
		s.kick = make(chan struct{}, 1)
	}
	return s.kick
}

func (s *Sync) kickC() <-chan struct{} { return s.kickCh() }

package cluster

import (
	"context"
	"log/slog"
	"time"
)

// PresenceStore keeps the replicas' presence (db.Store).
type PresenceStore interface {
	Announce(ctx context.Context, name, addr string, now time.Time, ttl time.Duration) error
	CloseDeadReplicasCalls(ctx context.Context, now time.Time, reason string) (map[string]int64, error)
}

// PresenceOptions configure a replica's presence.
type PresenceOptions struct {
	Name, Addr string        // REPLICA_NAME, REPLICA_ADDR
	TTL, Renew time.Duration // as the leases' (zero: DefaultLeaseTTL, DefaultLeaseRenew)
	// Reason is the end reason of a dead replica's hosted calls.
	Reason string
	Log    *slog.Logger
	Now    func() time.Time
}

// Presence tells the other replicas that this one runs (a row renewed
// every Renew, lasting TTL), and closes the open hosted calls of a replica
// whose presence expired more than a TTL ago: those calls lived in its
// memory, and nobody else can end them. The TTL of grace covers the
// replicas' clocks (each writes its expiry by its own) and a renewal
// late by less than a TTL.
//
// It sweeps only once its own renewals have gone through without a break
// for a TTL: after the database was out of reach for everyone, every live
// replica has then announced itself again before any of them judges the
// others dead.
type Presence struct {
	store PresenceStore
	opts  PresenceOptions
	since time.Time // the first renewal of the unbroken run (zero: the last failed)
}

// NewPresence returns the replica's presence; Run keeps it.
func NewPresence(store PresenceStore, opts PresenceOptions) *Presence {
	defaults(&opts.TTL, &opts.Renew, &opts.Log, &opts.Now)
	return &Presence{store: store, opts: opts}
}

// TTL is how long one renewal lasts.
func (p *Presence) TTL() time.Duration { return p.opts.TTL }

// Announce renews the presence once; it tells whether it did.
func (p *Presence) Announce(ctx context.Context) bool {
	now := p.opts.Now()
	if err := p.store.Announce(ctx, p.opts.Name, p.opts.Addr, now, p.opts.TTL); err != nil {
		if ctx.Err() == nil {
			p.opts.Log.Warn("replica presence not renewed", "err", err)
		}
		p.since = time.Time{}
		return false
	}
	if p.since.IsZero() {
		p.since = now
	}
	return true
}

// Sweep closes once the open hosted calls of the replicas whose presence
// expired more than a TTL ago, when this replica's own renewals have gone
// through for a TTL.
func (p *Presence) Sweep(ctx context.Context) {
	now := p.opts.Now()
	if p.since.IsZero() || now.Sub(p.since) < p.opts.TTL {
		return
	}
	closed, err := p.store.CloseDeadReplicasCalls(ctx, now.Add(-p.opts.TTL), p.opts.Reason)
	if err != nil && ctx.Err() == nil {
		p.opts.Log.Warn("hosted calls of stopped replicas not closed", "err", err)
	}
	for name, n := range closed {
		if n > 0 {
			p.opts.Log.Warn("a replica's presence expired: its open hosted calls closed", "replica", name, "calls", n)
		} else {
			p.opts.Log.Info("a replica's presence expired: no open hosted call of it", "replica", name)
		}
	}
}

// Run announces and sweeps every Renew until ctx is done (it follows the
// first Announce, on the same goroutine or after it). The presence is
// left to expire at the end: a stopping replica's hosted calls that its
// own close missed are then closed by another.
func (p *Presence) Run(ctx context.Context) {
	t := time.NewTicker(p.opts.Renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, p.opts.Renew)
		if p.Announce(rctx) {
			p.Sweep(rctx)
		}
		cancel()
	}
}

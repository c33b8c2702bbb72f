package cluster

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Lease defaults: a lease lasts DefaultLeaseTTL and its owner renews it
// every DefaultLeaseRenew, so two renewals may fail before another replica
// can take the node over.
const (
	DefaultLeaseTTL   = 10 * time.Second
	DefaultLeaseRenew = 3 * time.Second
)

// LeaseStore keeps the nodes' leases (db.Store).
type LeaseStore interface {
	TakeLease(ctx context.Context, node, owner, addr string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, node, owner string) error
}

// LeaseOptions configure a replica's leases.
type LeaseOptions struct {
	Owner string // this replica's name (REPLICA_NAME)
	Addr  string // its internal URL (REPLICA_ADDR), for the others to forward to
	Nodes []string
	// Prefer are the nodes this replica takes from its start (REPLICA_NODES;
	// empty: all); it tries the others only once it has run for a TTL, so
	// replicas started together each take their own.
	Prefer []string
	TTL    time.Duration // default DefaultLeaseTTL
	Renew  time.Duration // default DefaultLeaseRenew
	// Gained and Lost are told, from Run's goroutine, when this replica
	// takes a node's lease and when it no longer holds it (a renewal
	// refused or failed, or not done within the TTL, or Run ending).
	Gained, Lost func(node string)
	Log          *slog.Logger
	Now          func() time.Time
}

// Leases takes and renews this replica's leases on the nodes.
type Leases struct {
	store LeaseStore
	opts  LeaseOptions

	mu      sync.Mutex
	held    map[string]time.Time // node → when its lease was last taken or renewed
	started time.Time            // when the others' nodes' grace began (NewLeases, Run)
}

// defaults fills what the leases' and the presence's options leave zero:
// the TTL, a renewal every third of it (at most DefaultLeaseRenew), no
// log, the clock.
func defaults(ttl, renew *time.Duration, log **slog.Logger, now *func() time.Time) {
	if *ttl <= 0 {
		*ttl = DefaultLeaseTTL
	}
	if *renew <= 0 || *renew >= *ttl {
		*renew = min(DefaultLeaseRenew, *ttl/3)
	}
	if *log == nil {
		*log = slog.New(slog.DiscardHandler)
	}
	if *now == nil {
		*now = time.Now
	}
}

// NewLeases returns the replica's leases; Run takes and keeps them.
func NewLeases(store LeaseStore, opts LeaseOptions) *Leases {
	defaults(&opts.TTL, &opts.Renew, &opts.Log, &opts.Now)
	for _, f := range []*func(string){&opts.Gained, &opts.Lost} {
		if *f == nil {
			*f = func(string) {}
		}
	}
	return &Leases{store: store, opts: opts, held: map[string]time.Time{}, started: opts.Now()}
}

// Holds tells whether this replica holds the node's lease.
func (l *Leases) Holds(node string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.held[node]
	return ok && l.opts.Now().Sub(at) < l.opts.TTL
}

// Run takes and renews the leases until ctx is done, then releases the
// ones held.
func (l *Leases) Run(ctx context.Context) {
	l.mu.Lock()
	l.started = l.opts.Now()
	l.mu.Unlock()
	t := time.NewTicker(l.opts.Renew)
	defer t.Stop()
	for {
		l.Pass(ctx)
		select {
		case <-ctx.Done():
			l.releaseAll()
			return
		case <-t.C:
		}
	}
}

// Pass tries once to take or renew every node's lease.
func (l *Leases) Pass(ctx context.Context) {
	for _, node := range l.opts.Nodes {
		if ctx.Err() != nil {
			return
		}
		if l.tries(node) {
			l.renew(ctx, node)
		}
	}
}

// tries tells whether this pass takes or renews the node's lease: always
// a preferred node's or one held, another's once the replica has run for a
// TTL.
func (l *Leases) tries(node string) bool {
	if len(l.opts.Prefer) == 0 || slices.Contains(l.opts.Prefer, node) {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, held := l.held[node]
	return held || l.opts.Now().Sub(l.started) >= l.opts.TTL
}

// renew takes or renews one node's lease: a refusal or an error while the
// lease is held loses it at once.
func (l *Leases) renew(ctx context.Context, node string) {
	at := l.opts.Now()
	rctx, cancel := context.WithTimeout(ctx, l.renewTimeout(node, at))
	ok, err := l.store.TakeLease(rctx, node, l.opts.Owner, l.opts.Addr, at, l.opts.TTL)
	cancel()
	l.mu.Lock()
	_, had := l.held[node]
	if ok && err == nil {
		l.held[node] = at
	} else {
		delete(l.held, node)
	}
	l.mu.Unlock()
	switch {
	case ok && err == nil && !had:
		l.opts.Log.Info("node lease taken: this replica controls the node's calls", "node", node, "ttl_ms", l.opts.TTL.Milliseconds())
		l.opts.Gained(node)
	case had && err != nil:
		l.opts.Log.Warn("node lease not renewed: control of the node's calls dropped", "node", node, "err", err)
		l.opts.Lost(node)
	case had && !ok:
		l.opts.Log.Warn("node lease taken by another replica: control of the node's calls dropped", "node", node)
		l.opts.Lost(node)
	case err != nil && ctx.Err() == nil:
		l.opts.Log.Debug("node lease not taken", "node", node, "err", err)
	}
}

// renewTimeout is how long taking or renewing the node's lease may take:
// the renew interval to take it; to renew it, until half a renew interval
// before the held lease expires (a database slow for a moment is not a
// lost node; a renewal that ends later fails, and the node is dropped
// before another replica can take it).
func (l *Leases) renewTimeout(node string, at time.Time) time.Duration {
	l.mu.Lock()
	heldAt, had := l.held[node]
	l.mu.Unlock()
	if had {
		if left := heldAt.Add(l.opts.TTL).Sub(at) - l.opts.Renew/2; left > l.opts.Renew {
			return left
		}
	}
	return l.opts.Renew
}

// releaseAll gives up the leases held (Run's end), so another replica
// takes the nodes over without waiting for them to expire.
func (l *Leases) releaseAll() {
	l.mu.Lock()
	var nodes []string
	for n := range l.held {
		nodes = append(nodes, n)
	}
	l.held = map[string]time.Time{}
	l.mu.Unlock()
	for _, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.Renew)
		if err := l.store.ReleaseLease(ctx, n, l.opts.Owner); err != nil {
			l.opts.Log.Warn("node lease not released: another replica takes the node once it expires", "node", n, "err", err)
		}
		cancel()
		l.opts.Lost(n)
	}
}

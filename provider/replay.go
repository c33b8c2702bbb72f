package provider

import (
	"sync"
	"time"
)

// ReplayTolerance is the accepted age of a signed webhook token (the iat of
// a Vonage JWT, vonage.Tolerance): ReplayCache keeps an id for twice as long.
const ReplayTolerance = 5 * time.Minute

// ReplayCache remembers the ids of signed webhook tokens (Vonage's JWT jti)
// for the tolerance window, so a captured token cannot be used twice while
// its timestamp is still accepted. It is safe for concurrent use; the zero
// value is ready.
type ReplayCache struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	sweep time.Time
}

// Seen records id at now and reports whether it was already recorded
// within ReplayTolerance. An empty id is never "seen": a token without one
// is left to the other checks.
func (r *ReplayCache) Seen(id string, now time.Time) bool {
	if id == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]time.Time{}
	}
	if now.Sub(r.sweep) > ReplayTolerance {
		for k, at := range r.seen {
			if now.Sub(at) > 2*ReplayTolerance {
				delete(r.seen, k)
			}
		}
		r.sweep = now
	}
	if at, ok := r.seen[id]; ok && now.Sub(at) <= 2*ReplayTolerance {
		return true
	}
	r.seen[id] = now
	return false
}

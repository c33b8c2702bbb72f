package call

import (
	"context"
	"sync"
)

// Registry is the set of live calls of a process, whichever path carries
// them: call id → organization and path. It also counts calls in progress
// (Begin) so a drain waits for the ones not yet registered (an outbound
// call being placed) as well as the registered ones.
//
// web asks it which path carries a call (PathOf) instead of trying each.
type Registry struct {
	mu       sync.Mutex
	live     map[string]liveEntry
	draining bool
	wg       sync.WaitGroup
}

type liveEntry struct {
	org  int64
	path Path
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{live: map[string]liveEntry{}} }

// Begin counts a call in progress; done ends its count (call it once).
// While draining it refuses with ErrDraining.
func (r *Registry) Begin() (done func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.draining {
		return nil, ErrDraining
	}
	r.wg.Add(1)
	var once sync.Once
	return func() { once.Do(r.wg.Done) }, nil
}

// Also counts more work of a call already begun (its goroutine, a bridge
// it dials): never refused, since the drain already waits for the call.
func (r *Registry) Also() (done func()) {
	r.wg.Add(1)
	var once sync.Once
	return func() { once.Do(r.wg.Done) }
}

// Add registers a live call of org carried by p.
func (r *Registry) Add(id string, org int64, p Path) {
	r.mu.Lock()
	r.live[id] = liveEntry{org: org, path: p}
	r.mu.Unlock()
}

// Remove forgets a call.
func (r *Registry) Remove(id string) {
	r.mu.Lock()
	delete(r.live, id)
	r.mu.Unlock()
}

// PathOf returns the path carrying a live call of the organization; a call
// of another organization is not found.
func (r *Registry) PathOf(org int64, id string) (Path, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.live[id]
	if !ok || e.org != org {
		return nil, ErrCallNotFound
	}
	return e.path, nil
}

// Len returns the number of registered live calls.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

// Draining tells whether new calls are refused.
func (r *Registry) Draining() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.draining
}

// StopAdmitting refuses new calls from now on.
func (r *Registry) StopAdmitting() {
	r.mu.Lock()
	r.draining = true
	r.mu.Unlock()
}

// Drain refuses new calls and waits until every call begun has ended or
// ctx is done.
func (r *Registry) Drain(ctx context.Context) error {
	r.StopAdmitting()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait waits for every call begun to end (Close, after the calls were told
// to end).
func (r *Registry) Wait() { r.wg.Wait() }

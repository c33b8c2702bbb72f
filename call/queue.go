package call

import (
	"slices"
	"sync"
)

// Queue is an unbounded FIFO with a wake-up channel: producers never block.
// A call's goroutine keeps its switch events, requests and stream notes in
// them.
type Queue[T any] struct {
	mu    sync.Mutex
	items []T
	wake  chan struct{}
}

// NewQueue returns an empty queue.
func NewQueue[T any]() *Queue[T] { return &Queue[T]{wake: make(chan struct{}, 1)} }

// Push adds v and wakes the consumer.
func (q *Queue[T]) Push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Wake receives after a Push (at most one wake-up is pending).
func (q *Queue[T]) Wake() <-chan struct{} { return q.wake }

// Has reports whether something queued satisfies f (nothing is taken).
func (q *Queue[T]) Has(f func(T) bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.ContainsFunc(q.items, f)
}

// Drain returns everything queued.
func (q *Queue[T]) Drain() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}

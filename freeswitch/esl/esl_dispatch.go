package esl

import (
	"hash/maphash"
	"log/slog"
	"sync"
)

// dispatcher delivers events to the handler on N worker goroutines. Events
// with the same UUID go to the same worker (hash of the UUID), so one
// channel's events are handled in order while different channels run
// concurrently; events without a UUID go to worker 0.
//
// Overflow policy: a worker's queue grows without bound (a slice) — the
// connection reader never blocks on a handler and no event is ever dropped.
// A slow handler therefore delays only later events of its own worker and
// costs memory; every time a queue doubles past 1024 events a warning is
// logged (shard, queue_len) so it shows up in the logs.
type dispatcher struct {
	seed    maphash.Seed
	shards  []*shard
	handle  func(*Event)
	log     *slog.Logger
	wg      sync.WaitGroup
	stopped sync.Once
}

type shard struct {
	id    int
	mu    sync.Mutex
	q     []*Event
	warn  int           // next queue length that logs a warning
	wake  chan struct{} // cap 1: "queue not empty"
	stop  chan struct{}
	spare []*Event // drained batch kept for reuse
}

const queueWarnStart = 1024

func newDispatcher(n int, handle func(*Event), log *slog.Logger) *dispatcher {
	d := &dispatcher{seed: maphash.MakeSeed(), handle: handle, log: log}
	for i := range n {
		s := &shard{id: i, warn: queueWarnStart, wake: make(chan struct{}, 1), stop: make(chan struct{})}
		d.shards = append(d.shards, s)
		d.wg.Add(1)
		go d.work(s)
	}
	return d
}

// enqueue never blocks.
func (d *dispatcher) enqueue(ev *Event) {
	s := d.shards[0]
	if id := ev.UUID(); id != "" && len(d.shards) > 1 {
		s = d.shards[maphash.String(d.seed, id)%uint64(len(d.shards))]
	}
	s.mu.Lock()
	s.q = append(s.q, ev)
	n := len(s.q)
	warn := n >= s.warn
	if warn {
		s.warn *= 2
	}
	s.mu.Unlock()
	if warn {
		d.log.Warn("esl: event handler is slow, queue growing", "shard", s.id, "queue_len", n)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) work(s *shard) {
	defer d.wg.Done()
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			// drain what is left, then exit
			for d.runBatch(s) {
			}
			return
		}
		d.runBatch(s)
	}
}

// runBatch handles every queued event of s; false when there was none.
func (d *dispatcher) runBatch(s *shard) bool {
	s.mu.Lock()
	batch := s.q
	s.q = s.spare[:0]
	s.spare = nil
	if len(batch) < queueWarnStart {
		s.warn = queueWarnStart
	}
	s.mu.Unlock()
	if len(batch) == 0 {
		return false
	}
	for i, ev := range batch {
		d.call(ev)
		batch[i] = nil
	}
	s.mu.Lock()
	if s.spare == nil && cap(batch) <= 4*queueWarnStart {
		s.spare = batch[:0]
	}
	s.mu.Unlock()
	return true
}

func (d *dispatcher) call(ev *Event) {
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("esl: event handler panicked", "event_name", ev.Name(), "call_uuid", ev.UUID(), "panic", r)
		}
	}()
	d.handle(ev)
}

// close stops the workers after they have handled every queued event.
func (d *dispatcher) close() {
	d.stopped.Do(func() {
		for _, s := range d.shards {
			close(s.stop)
		}
	})
	d.wg.Wait()
}

package call

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// outageQueue keeps, in order, the writes that could not be made because
// the database could not be reached, and makes them once it is back: a
// goroutine, running only while some are kept, tries the first every
// retry(). A write whose error is db.Unavailable is tried again later;
// any other failure is final, logged with the write's failed message (when
// it has one: else the write logged it itself). The call records' writes (Recorder) and the calls refused during
// an outage (HeldRefusals) each have one.
type outageQueue struct {
	max        int  // writes kept at most
	dropOldest bool // when full: drop the oldest kept (else the new write)
	retry      func() time.Duration
	msgs       outageMsgs

	mu      sync.Mutex
	queue   []outageWrite
	keys    map[string]bool // the keys of the writes kept
	running bool
	closed  bool
	dropped int // in this outage
	stop    chan struct{}
}

// outageMsgs are what a queue logs.
type outageMsgs struct {
	dropped string // once an outage, at the first write dropped
	back    string // when the last kept write is done
	count   string // the log key of back's count of writes done
}

// outageWrite is one write; key, when set, is unique among those kept (a
// second write of the same key is ignored). log is where the queue speaks
// of it.
type outageWrite struct {
	key    string
	log    *slog.Logger
	failed string // logged with a final error, if set
	write  func(context.Context) error
}

func newOutageQueue(max int, dropOldest bool, retry func() time.Duration, msgs outageMsgs) *outageQueue {
	return &outageQueue{max: max, dropOldest: dropOldest, retry: retry, msgs: msgs, keys: map[string]bool{}, stop: make(chan struct{})}
}

// keepIfBusy keeps w behind the writes kept, if there are any (a new write
// is never made before them), and reports whether it did.
func (q *outageQueue) keepIfBusy(w outageWrite) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) == 0 {
		return false
	}
	q.keepLocked(w)
	return true
}

// keep queues w; it reports whether w was the first kept of an outage.
func (q *outageQueue) keep(w outageWrite) (first bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.keepLocked(w)
}

func (q *outageQueue) keepLocked(w outageWrite) (first bool) {
	if q.closed || (w.key != "" && q.keys[w.key]) {
		return false
	}
	first = len(q.queue) == 0
	if len(q.queue) >= q.max {
		if q.dropped == 0 {
			w.log.Warn(q.msgs.dropped, "held", len(q.queue))
		}
		q.dropped++
		if !q.dropOldest {
			return false
		}
		delete(q.keys, q.queue[0].key)
		q.queue = q.queue[1:]
	}
	q.queue = append(q.queue, w)
	if w.key != "" {
		q.keys[w.key] = true
	}
	if !q.running {
		q.running = true
		go q.flush()
	}
	return first
}

// len is how many writes are kept.
func (q *outageQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// close stops the retries and forgets the writes kept; it returns how many
// there were, and how many were dropped in this outage.
func (q *outageQueue) close() (kept, dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, 0
	}
	q.closed = true
	close(q.stop)
	kept, dropped = len(q.queue), q.dropped
	q.queue, q.keys = nil, map[string]bool{}
	return kept, dropped
}

// flush makes the kept writes in order once the database answers again.
func (q *outageQueue) flush() {
	done := 0
	for {
		select {
		case <-q.stop:
			return
		case <-time.After(q.retry()):
		}
		for {
			q.mu.Lock()
			if len(q.queue) == 0 || q.closed {
				q.running = false
				q.mu.Unlock()
				return
			}
			w := q.queue[0]
			q.mu.Unlock()
			err := runWrite(w.write)
			if db.Unavailable(err) {
				break // still away
			}
			if err == nil {
				done++
			} else if w.failed != "" {
				w.log.Warn(w.failed, "err", err)
			}
			q.mu.Lock()
			if len(q.queue) > 0 && q.queue[0].key == w.key {
				delete(q.keys, w.key)
				q.queue = q.queue[1:]
			}
			last, dropped := len(q.queue) == 0, q.dropped
			if last {
				q.dropped = 0
			}
			q.mu.Unlock()
			if last {
				w.log.Info(q.msgs.back, q.msgs.count, done, "dropped", dropped)
				done = 0
			}
		}
	}
}

func runWrite(write func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	return write(ctx)
}

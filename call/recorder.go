package call

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// RecordStore is what a Recorder needs of the store.
type RecordStore interface {
	AddCallEvent(ctx context.Context, orgID int64, callID, typ string, detail db.JSONMap) error
	UpdateCall(ctx context.Context, orgID int64, callID string, cols map[string]any) error
}

// recordTimeout bounds one write of a call's record or timeline: a call's
// goroutine never waits longer than that on the database.
const recordTimeout = 5 * time.Second

// Recorder writes one call's record and timeline for both paths. A write
// that fails is logged on the call's logger and the call goes on: the
// caller keeps talking to the assistant while the database is away. A
// write that failed because the database could not be reached is kept, in
// order, and written once it is back (held): a call that ends during an
// outage still gets its end recorded.
type Recorder struct {
	Store  RecordStore
	Log    *slog.Logger
	OrgID  int64
	CallID string
}

// Event appends typ (one of events.go's names) to the call's timeline.
func (r Recorder) Event(typ string, detail db.JSONMap) {
	held.do(r.Log.With("type", typ), "call event", func(ctx context.Context) error {
		return r.Store.AddCallEvent(ctx, r.OrgID, r.CallID, typ, detail)
	})
}

// Update sets columns of the call's record. The write takes its own copy
// of cols: held, it is stored later by another goroutine (and the store
// adds to the columns it is given) while the caller still reads cols.
func (r Recorder) Update(cols map[string]any) {
	cols = maps.Clone(cols)
	held.do(r.Log, "call record update", func(ctx context.Context) error {
		return r.Store.UpdateCall(ctx, r.OrgID, r.CallID, cols)
	})
}

// heldWrites are the call writes made while the database could not be
// reached, in order; a goroutine retries the first every heldRetry, only
// while some are held. Once some are held, later writes queue behind them
// (without waiting for the database: the calls' goroutines go on at once).
// At most maxHeld: beyond, a write is dropped and logged.
type heldWrites struct {
	mu      sync.Mutex
	queue   []heldWrite
	running bool
}

type heldWrite struct {
	log   *slog.Logger
	what  string
	write func(context.Context) error
}

var held heldWrites

// heldRetry is how often held writes are tried again (tests shorten it).
var heldRetry = time.Second

const maxHeld = 100_000

func (h *heldWrites) do(log *slog.Logger, what string, write func(context.Context) error) {
	h.mu.Lock()
	if len(h.queue) > 0 {
		h.holdLocked(heldWrite{log, what, write})
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	err := runWrite(write)
	switch {
	case err == nil:
	case db.Unavailable(err):
		h.mu.Lock()
		if len(h.queue) == 0 {
			log.Warn("database unreachable: the calls' writes are kept until it is back", "err", err)
		}
		h.holdLocked(heldWrite{log, what, write})
		h.mu.Unlock()
	case what == "call event":
		log.Warn("call event not stored", "err", err)
	default:
		log.Warn("call record not updated", "err", err)
	}
}

func runWrite(write func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	return write(ctx)
}

func (h *heldWrites) holdLocked(w heldWrite) {
	if len(h.queue) >= maxHeld {
		w.log.Error(w.what+" dropped: too many writes kept while the database is unreachable", "held", len(h.queue))
		return
	}
	h.queue = append(h.queue, w)
	if !h.running {
		h.running = true
		go h.flush()
	}
}

// flush writes the held writes in order once the database answers again.
func (h *heldWrites) flush() {
	stored := 0
	for {
		time.Sleep(heldRetry)
		for {
			h.mu.Lock()
			if len(h.queue) == 0 {
				h.running = false
				h.mu.Unlock()
				return
			}
			w := h.queue[0]
			h.mu.Unlock()
			err := runWrite(w.write)
			if db.Unavailable(err) {
				break // still away
			}
			if err != nil {
				w.log.Warn(w.what+" not stored", "err", err)
			} else {
				stored++
			}
			h.mu.Lock()
			h.queue = h.queue[1:]
			last := len(h.queue) == 0
			h.mu.Unlock()
			if last {
				w.log.Info("database back: the calls' writes kept meanwhile are stored", "writes", stored)
			}
		}
	}
}

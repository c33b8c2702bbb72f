package call

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// RecordStore is what a Recorder needs of the store.
type RecordStore interface {
	AddCallEvent(ctx context.Context, orgID int64, callID, typ string, detail db.JSONMap) error
	UpdateCall(ctx context.Context, orgID int64, callID string, cols map[string]any) error
	CloseOpenCall(ctx context.Context, orgID int64, id string, cols map[string]any) (bool, error)
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
	hold(r.Log.With("type", typ), "call event not stored", func(ctx context.Context) error {
		return r.Store.AddCallEvent(ctx, r.OrgID, r.CallID, typ, detail)
	})
}

// Update sets columns of the call's record. The write takes its own copy
// of cols: held, it is stored later by another goroutine (and the store
// adds to the columns it is given) while the caller still reads cols.
func (r Recorder) Update(cols map[string]any) {
	cols = maps.Clone(cols)
	hold(r.Log, "call record not updated", func(ctx context.Context) error {
		return r.Store.UpdateCall(ctx, r.OrgID, r.CallID, cols)
	})
}

// UpdateOpen sets columns of the call's record only while it is still
// ringing or in progress: a record closed meanwhile by someone else (a
// replica closing the hosted calls of one it took for dead) is not
// opened again.
func (r Recorder) UpdateOpen(cols map[string]any) {
	cols = maps.Clone(cols)
	hold(r.Log, "call record not updated", func(ctx context.Context) error {
		if ok, err := r.Store.CloseOpenCall(ctx, r.OrgID, r.CallID, cols); err != nil || ok {
			return err
		}
		r.Log.Warn("call record not updated: it was closed meanwhile")
		return nil
	})
}

// held keeps the call writes made while the database could not be reached
// (outageQueue), in order; once some are kept, later writes queue behind
// them without waiting for the database: the calls' goroutines go on at
// once. At most maxHeld: beyond, new writes are dropped (one warning an
// outage, their count logged when it ends).
var held = newOutageQueue(maxHeld, false, func() time.Duration { return heldRetry }, outageMsgs{
	dropped: "call writes dropped: too many kept while the database is unreachable",
	back:    "database back: the calls' writes kept meanwhile are stored", count: "writes"})

// heldRetry is how often held writes are tried again (tests shorten it).
var heldRetry = time.Second

const maxHeld = 100_000

// hold makes a call write now, or keeps it in held while the database is
// away (or while earlier writes are kept). Any other failure is logged as
// failed and is final.
func hold(log *slog.Logger, failed string, write func(context.Context) error) {
	w := outageWrite{log: log, failed: failed, write: write}
	if held.keepIfBusy(w) {
		return
	}
	err := runWrite(write)
	switch {
	case err == nil:
	case db.Unavailable(err):
		if held.keep(w) {
			log.Warn("database unreachable: the calls' writes are kept until it is back", "err", err)
		}
	default:
		log.Warn(failed, "err", err)
	}
}

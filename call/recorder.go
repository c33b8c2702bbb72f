package call

import (
	"context"
	"log/slog"
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
// caller keeps talking to the assistant while the database is away.
type Recorder struct {
	Store  RecordStore
	Log    *slog.Logger
	OrgID  int64
	CallID string
}

// Event appends typ (one of events.go's names) to the call's timeline.
func (r Recorder) Event(typ string, detail db.JSONMap) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if err := r.Store.AddCallEvent(ctx, r.OrgID, r.CallID, typ, detail); err != nil {
		r.Log.Warn("call event not stored", "type", typ, "err", err)
	}
}

// Update sets columns of the call's record.
func (r Recorder) Update(cols map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if err := r.Store.UpdateCall(ctx, r.OrgID, r.CallID, cols); err != nil {
		r.Log.Warn("call record not updated", "err", err)
	}
}

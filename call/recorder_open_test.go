package call_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
)

// A write that must not reopen a call (UpdateOpen: a hosted call's answer)
// lands while the record is ringing, and is dropped with a warning once
// someone else closed it (a replica that took the holder for dead): the
// record stays failed, its end kept.
func TestRecorderUpdateOpenLeavesAClosedRecord(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store := db.NewStore(g, dbtest.Keyring(t), slog.New(slog.DiscardHandler))
		org, _, err := store.EnsureOrg(ctx, "org-a")
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		rec := func(status string) (*db.Call, call.Recorder) {
			c := &db.Call{OrgID: org.ID, Provider: "twilio", Direction: db.DirectionInbound, Status: status, CallSID: db.NewID()}
			if err := store.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c, call.Recorder{Store: store, Log: slog.New(slog.NewJSONHandler(&logs, nil)), OrgID: org.ID, CallID: c.ID}
		}
		ringing, r1 := rec(db.CallRinging)
		r1.UpdateOpen(map[string]any{"status": db.CallInProgress})
		if got, _ := store.GetCall(ctx, org.ID, ringing.ID); got.Status != db.CallInProgress {
			t.Errorf("a ringing call answered: %s, want in progress", got.Status)
		}
		closed, r2 := rec(db.CallRinging)
		if ok, err := store.CloseOpenCall(ctx, org.ID, closed.ID, map[string]any{"status": db.CallFailed, "reason": "the sipbridge replica holding the call stopped", "ended_at": store.Now()}); !ok || err != nil {
			t.Fatal(ok, err)
		}
		r2.UpdateOpen(map[string]any{"status": db.CallInProgress})
		if got, _ := store.GetCall(ctx, org.ID, closed.ID); got.Status != db.CallFailed || got.EndedAt == nil {
			t.Errorf("a closed call answered late: %s ended %v, want failed and ended", got.Status, got.EndedAt)
		}
		if !strings.Contains(logs.String(), "it was closed meanwhile") {
			t.Errorf("no warning for the dropped write: %s", logs.String())
		}
	})
}

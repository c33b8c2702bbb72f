package call

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
)

type fakeRecordStore struct {
	fail   error
	events []string
	cols   []map[string]any
	ctxOK  bool
}

func (f *fakeRecordStore) AddCallEvent(ctx context.Context, org int64, id, typ string, _ db.JSONMap) error {
	_, f.ctxOK = ctx.Deadline()
	f.events = append(f.events, typ+"@"+id)
	return f.fail
}

func (f *fakeRecordStore) UpdateCall(ctx context.Context, org int64, id string, cols map[string]any) error {
	f.cols = append(f.cols, cols)
	return f.fail
}

// A call's writes reach the store under the call's own organization and id,
// bounded in time; a failed write is one warning on the call's logger and
// the call goes on.
func TestRecorderWritesAndLogsFailures(t *testing.T) {
	st := &fakeRecordStore{}
	var logs bytes.Buffer
	r := Recorder{Store: st, Log: slog.New(slog.NewJSONHandler(&logs, nil)).With("call_id", "c1"), OrgID: 7, CallID: "c1"}
	r.Event(EventAnswered, nil)
	r.Update(map[string]any{"status": db.CallInProgress})
	if len(st.events) != 1 || st.events[0] != EventAnswered+"@c1" || len(st.cols) != 1 || !st.ctxOK {
		t.Fatalf("writes: events %v cols %v deadline %v", st.events, st.cols, st.ctxOK)
	}
	if logs.Len() != 0 {
		t.Fatalf("logged on success: %s", logs.String())
	}
	st.fail = errors.New("database is down")
	r.Event(EventHangup, nil)
	r.Update(map[string]any{"status": db.CallCompleted})
	out := logs.String()
	if strings.Count(out, `"level":"WARN"`) != 2 || !strings.Contains(out, `"msg":"call event not stored"`) ||
		!strings.Contains(out, `"type":"hangup"`) || !strings.Contains(out, `"call_id":"c1"`) || !strings.Contains(out, "database is down") {
		t.Fatalf("failure logs: %s", out)
	}
}

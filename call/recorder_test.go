package call

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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

func (f *fakeRecordStore) CloseOpenCall(ctx context.Context, org int64, id string, cols map[string]any) (bool, error) {
	return f.fail == nil, f.UpdateCall(ctx, org, id, cols)
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

// lockedStore is a RecordStore whose failure the test switches while the
// held writes' goroutine writes.
type lockedStore struct {
	mu     sync.Mutex
	fail   error
	writes []string
}

func (f *lockedStore) CloseOpenCall(ctx context.Context, org int64, id string, cols map[string]any) (bool, error) {
	return true, f.UpdateCall(ctx, org, id, cols)
}

func (f *lockedStore) AddCallEvent(_ context.Context, _ int64, id, typ string, _ db.JSONMap) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.writes = append(f.writes, typ+"@"+id)
	return nil
}

func (f *lockedStore) UpdateCall(_ context.Context, _ int64, id string, cols map[string]any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.writes = append(f.writes, fmt.Sprint(cols["status"])+"@"+id)
	return nil
}

func (f *lockedStore) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

// The database unreachable (a refused connection, a pooled connection
// found cut, the server shutting down): a call's writes are kept, in order,
// and written once it answers again, so a call that ends during an outage
// still has its end; meanwhile later writes queue behind without waiting
// for the database. One warning for the outage, one line once they are
// stored.
func TestRecorderKeepsWritesWhileDatabaseUnreachable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
	}{
		{"refused", fmt.Errorf("failed to connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})},
		{"cut", fmt.Errorf("commit: %w", pgconn.ErrConnClosed)},
		{"restarting", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}},
	} {
		t.Run(c.name, func(t *testing.T) { testRecorderKeepsWrites(t, c.err) })
	}
}

func testRecorderKeepsWrites(t *testing.T, unreachable error) {
	defer func(d time.Duration) { heldRetry = d }(heldRetry)
	heldRetry = 10 * time.Millisecond
	st := &lockedStore{fail: unreachable}
	var logs syncBuf
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	a := Recorder{Store: st, Log: log.With("call_id", "a"), OrgID: 7, CallID: "a"}
	b := Recorder{Store: st, Log: log.With("call_id", "b"), OrgID: 7, CallID: "b"}
	a.Event(EventDTMF, nil)
	b.Event(EventAnswered, nil)
	start := time.Now()
	a.Update(map[string]any{"status": db.CallCompleted})
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("a write behind held ones took %v: it must not wait for the database", d)
	}
	time.Sleep(50 * time.Millisecond)
	if got := st.got(); len(got) != 0 {
		t.Fatalf("written while the database is away: %v", got)
	}
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	want := []string{EventDTMF + "@a", EventAnswered + "@b", db.CallCompleted + "@a"}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(st.got(), want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := st.got(); !slices.Equal(got, want) {
		t.Fatalf("writes once the database is back: %v, want %v", got, want)
	}
	deadline = time.Now().Add(time.Second)
	for !strings.Contains(logs.String(), "database back") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	out := logs.String()
	if strings.Count(out, `"level":"WARN"`) != 1 || !strings.Contains(out, "database unreachable") ||
		!strings.Contains(out, `"writes":3`) {
		t.Errorf("logs: %s", out)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stampingStore adds updated_at to the columns it is given, as db.Store
// does, and keeps what it stored.
type stampingStore struct {
	lockedStore
	stored []map[string]any
}

func (f *stampingStore) UpdateCall(_ context.Context, _ int64, _ string, cols map[string]any) error {
	cols["updated_at"] = time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.stored = append(f.stored, cols)
	return nil
}

// A held record update is stored later by another goroutine while the call
// goes on with the columns it passed (the SIP path reads them again to
// post the call's end): the held write keeps its own copy, so neither
// sees the other's changes (with -race: no data race on the map).
func TestRecorderHeldUpdateKeepsItsOwnColumns(t *testing.T) {
	defer func(d time.Duration) { heldRetry = d }(heldRetry)
	heldRetry = 10 * time.Millisecond
	st := &stampingStore{lockedStore: lockedStore{fail: fmt.Errorf("commit: %w", pgconn.ErrConnClosed)}}
	r := Recorder{Store: st, Log: slog.New(slog.DiscardHandler), OrgID: 7, CallID: "c1"}
	cols := map[string]any{"status": db.CallCompleted, "hangup_cause": "NORMAL_CLEARING"}
	r.Update(cols)
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = cols["status"] // the call reads its columns meanwhile
		cols["reason"] = "hung up"
		st.mu.Lock()
		n := len(st.stored)
		st.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.stored) != 1 {
		t.Fatalf("held update stored %d times, want 1", len(st.stored))
	}
	if got := st.stored[0]; got["status"] != db.CallCompleted || got["reason"] != nil {
		t.Errorf("stored columns %v: want those the call passed (status completed, no reason)", got)
	}
	if _, ok := cols["updated_at"]; ok {
		t.Errorf("the call's own columns were changed by the held write: %v", cols)
	}
}

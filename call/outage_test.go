package call

import (
	"bytes"
	"context"
	"database/sql/driver"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A full queue that drops new writes keeps the first ones, in order, warns
// once an outage (not once a write) and says how many it dropped when the
// database is back; the next outage warns again.
func TestOutageQueueFullDropsNewWritesWithOneWarning(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs, mu: &mu}, nil))
	var down atomic.Bool
	var written []string
	write := func(name string) outageWrite {
		return outageWrite{log: log, failed: name + " not stored", write: func(context.Context) error {
			if down.Load() {
				return driver.ErrBadConn
			}
			mu.Lock()
			written = append(written, name)
			mu.Unlock()
			return nil
		}}
	}
	q := newOutageQueue(2, false, func() time.Duration { return 5 * time.Millisecond }, outageMsgs{
		dropped: "writes dropped", back: "database back", count: "writes"})
	for round := 1; round <= 2; round++ {
		down.Store(true)
		for _, n := range []string{"a", "b", "c", "d"} {
			if !q.keepIfBusy(write(n)) {
				q.keep(write(n))
			}
		}
		if q.len() != 2 {
			t.Fatalf("round %d: %d writes kept, want 2", round, q.len())
		}
		down.Store(false)
		waitLog(t, &mu, &logs, `"msg":"database back"`)
		mu.Lock()
		got, out := strings.Join(written, ","), logs.String()
		mu.Unlock()
		if want := "a,b"; got != want {
			t.Fatalf("round %d: written %s, want %s", round, got, want)
		}
		if n := strings.Count(out, `"msg":"writes dropped"`); n != 1 {
			t.Fatalf("round %d: %d drop warnings, want one an outage:\n%s", round, n, out)
		}
		if !strings.Contains(out, `"msg":"database back","writes":2,"dropped":2`) {
			t.Fatalf("round %d: no end-of-outage line with 2 stored and 2 dropped:\n%s", round, out)
		}
		if round == 1 {
			mu.Lock()
			logs.Reset()
			written = nil
			mu.Unlock()
		}
	}
}

// A write that fails for good during the flush is logged with its message
// and not counted as stored; the writes behind it go on.
func TestOutageQueueFinalFailureIsLoggedNotCounted(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs, mu: &mu}, nil))
	var down atomic.Bool
	down.Store(true)
	mk := func(final error) outageWrite {
		return outageWrite{log: log, failed: "call event not stored", write: func(context.Context) error {
			if down.Load() {
				return driver.ErrBadConn
			}
			return final
		}}
	}
	q := newOutageQueue(10, false, func() time.Duration { return 5 * time.Millisecond }, outageMsgs{
		dropped: "writes dropped", back: "database back", count: "writes"})
	q.keep(mk(nil))
	q.keepIfBusy(mk(driver.ErrSkip))
	q.keepIfBusy(mk(nil))
	down.Store(false)
	waitLog(t, &mu, &logs, `"msg":"database back"`)
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, `"msg":"call event not stored"`) || !strings.Contains(out, `"writes":2,"dropped":0`) {
		t.Fatalf("want the failed write logged and 2 of 3 counted stored:\n%s", out)
	}
}

type syncWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// waitLog waits until logs holds s (the queue logs its end after the last
// write is taken off it).
func waitLog(t *testing.T, mu *sync.Mutex, logs *bytes.Buffer, s string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		ok := strings.Contains(logs.String(), s)
		mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatalf("no %s logged in 5 s", s)
}

package forward

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// forwarderRig is a media forwarder whose writes go to send instead of an
// assistant, with its log kept.
type forwarderRig struct {
	f    *Forwarder
	logs *bytes.Buffer

	mu   sync.Mutex
	got  []byte // the first byte of each frame written, in order
	gate chan struct{}
}

// newForwarderRig: each write takes perWrite; with gated, a write also
// waits until gate is closed (an assistant that stopped reading).
func newForwarderRig(perWrite time.Duration, gated bool) *forwarderRig {
	r := &forwarderRig{logs: &bytes.Buffer{}, gate: make(chan struct{})}
	if !gated {
		close(r.gate)
	}
	r.f = New(func(m *Frame) {
		time.Sleep(perWrite)
		<-r.gate
		r.mu.Lock()
		r.got = append(r.got, m.Audio[0])
		r.mu.Unlock()
	}, slog.New(slog.NewJSONHandler(r.logs, nil)))
	return r
}

// pushAll pushes n one-byte frames 0, 1, … at once, as the reader does
// with a backlog of mod_audio_stream frames, and returns how long the
// slowest push took.
func (r *forwarderRig) pushAll(n int) time.Duration {
	var slowest time.Duration
	for i := range n {
		t0 := time.Now()
		r.f.Push([]byte{byte(i)}, t0)
		slowest = max(slowest, time.Since(t0))
	}
	return slowest
}

// TestForwarderBurstLosesNothing: a backlog of 200 frames (4 s) read at
// once, more than the 25 the queue holds, reaches an assistant that takes
// each frame in 1 ms, whole and in order: the writer being behind is not
// an assistant that stopped reading.
func TestForwarderBurstLosesNothing(t *testing.T) {
	r := newForwarderRig(time.Millisecond, false)
	r.pushAll(200)
	r.f.Close()
	if len(r.got) != 200 || r.f.Dropped() != 0 {
		t.Fatalf("%d of 200 frames written, %d dropped, want all written", len(r.got), r.f.Dropped())
	}
	for i, b := range r.got {
		if b != byte(i) {
			t.Fatalf("frame %d written as the %dth", b, i)
		}
	}
	if strings.Contains(r.logs.String(), "dropping frames") {
		t.Errorf("drops logged: %s", r.logs)
	}
}

// TestForwarderStalledAssistantDrops: an assistant whose write blocks
// (here for good) holds up the mod_audio_stream reader about StuckWrite,
// once, not for the write: of 100 frames
// pushed while a write is blocked, 25 wait in the queue (plus the one in
// the write), the rest are dropped and counted in the log, and what waited
// is written once the assistant reads again.
func TestForwarderStalledAssistantDrops(t *testing.T) {
	r := newForwarderRig(0, true)
	slowest := r.pushAll(100)
	if slowest > time.Second {
		t.Errorf("a push took %v behind a stalled assistant, want about %v (≤ 1 s on a busy machine)", slowest, StuckWrite)
	}
	close(r.gate)
	r.f.Close()
	if written := len(r.got); written+r.f.Dropped() != 100 || written > Queue+1 {
		t.Errorf("%d frames written, %d dropped, want at most %d written and the rest dropped", written, r.f.Dropped(), Queue+1)
	}
	for _, msg := range []string{"the assistant is not taking the caller's audio", `"frames_dropped":`} {
		if !strings.Contains(r.logs.String(), msg) {
			t.Errorf("log lacks %q: %s", msg, r.logs)
		}
	}
}

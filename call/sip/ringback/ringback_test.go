package ringback

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// fakeChannel starts the ringback after startAfter and stops it at the
// stopAt-th break (a break before the start is lost, as on a real switch).
type fakeChannel struct {
	mu         sync.Mutex
	begin      time.Time
	startAfter time.Duration
	stopAt     int
	breaks     int
	stopped    bool
}

func (f *fakeChannel) started() bool { return time.Since(f.begin) >= f.startAfter }

func (f *fakeChannel) Break() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started() {
		f.breaks++
		f.stopped = f.stopped || f.breaks >= f.stopAt
	}
	return true
}

func (f *fakeChannel) Seen(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "PLAYBACK_START" {
		return f.started()
	}
	return f.stopped
}

func (f *fakeChannel) HungUp() bool { return false }

// Stop returns once the ringback has stopped, breaking it again until it
// does, however late it started.
func TestStopBreaksUntilStopped(t *testing.T) {
	for _, late := range []time.Duration{0, 300 * time.Millisecond} {
		f := &fakeChannel{begin: time.Now(), startAfter: late, stopAt: 3}
		Stop(f, slog.New(slog.NewTextHandler(io.Discard, nil)))
		f.mu.Lock()
		if !f.stopped || f.breaks != 3 {
			t.Errorf("started %v late: returned with stopped %v after %d breaks, want stopped after 3", late, f.stopped, f.breaks)
		}
		f.mu.Unlock()
	}
	if !Is("%(2000,4000,440,480);loops=-1") || Is("") || Is("/tmp/hello.wav") {
		t.Error("Is: want the tone's path only")
	}
}

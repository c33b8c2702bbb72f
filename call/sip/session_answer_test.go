package sip

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/ringback"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// ringbackSwitch plays the ringback as FreeSWITCH does under load: the
// queued playback starts (PLAYBACK_START) startAfter after the sendmsg,
// and a uuid_break sent before it started is lost (the switch had taken
// the command off its queue: switch_core_session_exec clears the break
// flag as the playback begins). A uuid_break after the start stops the
// tone on the next frame (PLAYBACK_STOP). gone: the channel hangs up
// instead of playing.
type ringbackSwitch struct {
	s          *callSession
	startAfter time.Duration
	gone       bool

	mu      sync.Mutex
	started bool
	stopped bool
	cmds    []string
}

func (f *ringbackSwitch) event(name, path string) {
	f.s.events.Push(&esl.Event{Headers: map[string]string{"Event-Name": name, "Unique-ID": f.s.uuid, "Playback-File-Path": path}})
}

func (f *ringbackSwitch) SendMsg(_ context.Context, uuid string, m esl.SendMsg) error {
	f.mu.Lock()
	f.cmds = append(f.cmds, "sendmsg "+uuid+" "+m.App+" "+m.Arg)
	f.mu.Unlock()
	time.AfterFunc(f.startAfter, func() {
		if f.gone {
			f.event("CHANNEL_HANGUP", "")
			return
		}
		f.mu.Lock()
		f.started = true
		f.mu.Unlock()
		f.event("PLAYBACK_START", m.Arg)
	})
	return nil
}

func (f *ringbackSwitch) API(_ context.Context, cmd string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, cmd)
	if strings.HasPrefix(cmd, "uuid_break ") && f.started && !f.stopped {
		f.stopped = true
		time.AfterFunc(20*time.Millisecond, func() { f.event("PLAYBACK_STOP", ringback.Tone) })
	}
	return "+OK\n", nil
}

func (f *ringbackSwitch) BGAPI(ctx context.Context, cmd string) (string, error) {
	return f.API(ctx, cmd)
}

func ringbackSession(t *testing.T, f *ringbackSwitch) *callSession {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &callSession{c: &Calls{sw: f, log: log}, uuid: "2f8e3a9c-4b1d-4c2e-9f0a-1b2c3d4e5f60", log: log, events: call.NewQueue[*esl.Event]()}
	f.s = s
	if err := s.playFile(ringback.Tone); err != nil {
		t.Fatal(err)
	}
	s.ringback = true
	return s
}

// The assistant connects at once and the ringback starts late (a loaded
// switch): stopRingback returns only once the ringback has stopped, so
// the answer and the assistant's audio come after its last frame.
func TestStopRingbackWaitsForALateStart(t *testing.T) {
	for _, late := range []time.Duration{0, 150 * time.Millisecond, 600 * time.Millisecond} {
		f := &ringbackSwitch{startAfter: late}
		s := ringbackSession(t, f)
		s.stopRingback()
		f.mu.Lock()
		started, stopped, cmds := f.started, f.stopped, f.cmds
		f.mu.Unlock()
		if !started || !stopped || !s.events.Has(func(e *esl.Event) bool { return e.Name() == "PLAYBACK_STOP" }) {
			t.Fatalf("ringback starting %v late: stopRingback returned with the ringback still playing (started %v, broken %v); commands %q",
				late, started, stopped, cmds)
		}
	}
}

// A channel that hangs up before its ringback starts does not hold
// stopRingback for its whole wait.
func TestStopRingbackOnAHungUpChannel(t *testing.T) {
	f := &ringbackSwitch{startAfter: 50 * time.Millisecond, gone: true}
	s := ringbackSession(t, f)
	begin := time.Now()
	s.stopRingback()
	if d := time.Since(begin); d > ringback.StartWait/2 {
		t.Fatalf("stopRingback took %v on a channel that hung up", d)
	}
}

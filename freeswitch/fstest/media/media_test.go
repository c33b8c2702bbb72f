package media

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// The media side on its own, against a host and a channel that are not
// the simulator's: what it needs of them is the two interfaces.

type fakeHost struct {
	t    *testing.T
	ch   *fakeChan
	done chan struct{}
	wg   sync.WaitGroup

	mu  sync.Mutex
	evs []*eslserver.Event
}

func newFakeHost(t *testing.T) *fakeHost {
	h := &fakeHost{t: t, ch: &fakeChan{id: "chan-1", vars: map[string]string{}}, done: make(chan struct{})}
	t.Cleanup(func() { close(h.done); h.wg.Wait() })
	return h
}

func (h *fakeHost) Channel(id string) (Channel, bool) {
	if id != h.ch.id {
		return nil, false
	}
	return h.ch, true
}

func (h *fakeHost) NewEvent(name, _ string, extra ...eslserver.Header) *eslserver.Event {
	return &eslserver.Event{Headers: append([]eslserver.Header{{Name: "Event-Name", Value: name}}, extra...)}
}

func (h *fakeHost) Publish(e *eslserver.Event) {
	h.mu.Lock()
	h.evs = append(h.evs, e)
	h.mu.Unlock()
}

func (h *fakeHost) Go(f func()) bool {
	h.wg.Add(1)
	go func() { defer h.wg.Done(); f() }()
	return true
}

func (h *fakeHost) Done() <-chan struct{}         { return h.done }
func (h *fakeHost) TempDir() (string, error)      { return h.t.TempDir(), nil }
func (h *fakeHost) Unsupported(cmd string) string { return "-ERR not simulated: " + cmd + "\n" }

// names lists the events published so far by name.
func (h *fakeHost) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.evs {
		out = append(out, e.Name())
	}
	return out
}

type fakeChan struct {
	id   string
	mu   sync.Mutex
	vars map[string]string
}

func (c *fakeChan) UUID() string               { return c.id }
func (c *fakeChan) CallerAudio() func([]int16) { return nil }

func (c *fakeChan) Var(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vars[name]
	return v, ok
}

func (c *fakeChan) SetVar(name string, value *string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if value == nil {
		delete(c.vars, name)
		return
	}
	c.vars[name] = *value
}

func (c *fakeChan) VarTrue(name string) bool { v, _ := c.Var(name); return v == "true" }

func (c *fakeChan) Event(name, _ string, extra map[string]any, body string, _ bool) *eslserver.Event {
	e := &eslserver.Event{Headers: []eslserver.Header{{Name: "Event-Name", Value: name}}, Body: body}
	for k, v := range extra {
		e.Headers = append(e.Headers, eslserver.Header{Name: k, Value: v})
	}
	return e
}

// reply is a command's batch: its events go out after the reply.
type reply struct {
	h     *fakeHost
	after []func()
}

func (r *reply) Fire(e *eslserver.Event) { r.h.Publish(e) }
func (r *reply) Then(f func())           { r.after = append(r.after, f) }

func run(t *testing.T, md *Media, h *fakeHost, cmd, args string) string {
	t.Helper()
	r := &reply{h: h}
	out := md.API()[cmd](r, args)
	for _, f := range r.after {
		f()
	}
	return out
}

// A broadcast and a stereo recording on a channel: the events of each in
// the recorded order, the caller hears the tone, the WAV holds the caller
// on the left and the tone on the right, the record_* variables are set.
func TestBroadcastAndRecordThroughTheInterfaces(t *testing.T) {
	h := newFakeHost(t)
	md := New(h, slog.New(slog.DiscardHandler), 5, 2)
	path := filepath.Join(t.TempDir(), "r.wav")
	h.ch.SetVar("RECORD_STEREO", ptr("true"))
	if got := run(t, md, h, "uuid_record", "chan-1 start "+path); got != "+OK Success\n" {
		t.Fatalf("uuid_record start: %q", got)
	}
	if got := run(t, md, h, "uuid_broadcast", "chan-1 tone_stream://%(300,0,1000) aleg"); got != "+OK Message sent\n" {
		t.Fatalf("uuid_broadcast: %q", got)
	}
	testkit.Eventually(t, 3*time.Second, "the broadcast's PRIVATE_COMMAND",
		func() bool { return slices.Contains(h.names(), "PRIVATE_COMMAND") }, func() string { return fmt.Sprint(h.names()) })
	if got := run(t, md, h, "uuid_record", "chan-1 stop all"); got != "+OK Success\n" {
		t.Fatalf("uuid_record stop: %q", got)
	}
	want := []string{"RECORD_START", "MEDIA_BUG_START", "CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP",
		"CHANNEL_EXECUTE_COMPLETE", "PRIVATE_COMMAND", "RECORD_STOP", "MEDIA_BUG_STOP"}
	if got := h.names(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if heard := md.Heard("chan-1"); len(heard) != 2400 || tone.PowerShare(heard, 8000, 1000) < 0.9 {
		t.Errorf("heard %d samples, 1000 Hz share %.2f", len(heard), tone.PowerShare(heard, 8000, 1000))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pcm, rate, err := audiofile.ReadWAV(data)
	if err != nil || rate != 8000 || len(pcm) < 2400 || binary.LittleEndian.Uint16(data[22:]) != 2 {
		t.Fatalf("recording: %d samples at %d Hz, %d channels, %v", len(pcm), rate, binary.LittleEndian.Uint16(data[22:]), err)
	}
	var left, right []int16
	for i := 44; i+3 < len(data); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(data[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(data[i+2:])))
	}
	if tone.PowerShare(left, 8000, 440) < 0.8 || tone.PowerShare(right, 8000, 1000) < 0.8 {
		t.Errorf("left 440 Hz share %.2f, right 1000 Hz share %.2f", tone.PowerShare(left, 8000, 440), tone.PowerShare(right, 8000, 1000))
	}
	if v, _ := h.ch.Var("record_samples"); v != strconv.Itoa(len(pcm)) {
		t.Errorf("record_samples %s, the file has %d", v, len(pcm))
	}
	if got := run(t, md, h, "uuid_record", "chan-1 stop "+path); got != "-ERR Cannot stop record session!\n" {
		t.Errorf("second stop: %q", got)
	}
	md.Close()
}

func ptr(s string) *string { return &s }

// Package media is the media side of the FreeSWITCH simulator's calls
// (freeswitch/fstest): what the caller sends (the channel's caller
// audio), what FreeSWITCH plays to the caller (uuid_broadcast,
// uuid_break) and the media bugs that tap both (mod_audio_stream's
// uuid_audio_stream, uuid_record), as recorded in audio-stream-*,
// record-start-stop and inbound-answer-hangup and as the FreeSWITCH and
// amigniter/mod_audio_stream sources do it. The switch gives it its
// channels (Channel) and fires its events (Host, Batch).
//
// Emulated: uuid_audio_stream start|stop|pause|resume|send_text, a real
// websocket client (gorilla) sending the metadata first, then raw L16
// frames every 20 ms from the channel's caller audio (default a 440 Hz
// tone), streamAudio back → a file in the temp dir and ::play, other text
// → ::json, the server's close → ::disconnect, a failed dial or a lost
// connection → ::error and MEDIA_BUG_STOP (BreakStream triggers the
// latter); uuid_broadcast (queued, the 100 ms gap of the lead frames and
// the caller's audio lost at each PLAYBACK_START as measured, see
// playback.go; PLAYBACK_START/STOP, .PCMU/.PCMA files and named pipes read
// as they play with their stalls counted — PlaybackStalls —, what the
// caller heard in Heard/Playbacks), uuid_break [all], uuid_buglist; uuid_record
// start|stop to a real WAV (mono mixed, or stereo with RECORD_STEREO); the
// playback terminators of DTMF; the hangup stops all of it inside the
// recorded sequence (Hangup).
//
// Like a real session thread, every channel with media work runs one loop
// that ticks every 20 ms (the PCMU ptime of the recordings): each tick
// reads one frame of caller audio, advances the current playback by one
// frame, hands both to the stream and the recordings. Media time is wall
// time: the switch's Step does not scale it (a 0.5 s file plays in 0.5 s).
//
// Simplified: no pre-answer by uuid_audio_stream on an unanswered
// channel, no STREAM_BUFFER_SIZE/extra headers/TLS options, no playback
// of mp3/ogg, no bridge (b-leg broadcast), a pipe that runs short
// mid-frame pads the frame with silence (counted as a stall), while an
// empty pipe a writer holds open holds the loop up as the real switch's
// read() does (no caller audio to the bugs, no break, no next playback,
// each frame counted as a stall) until a byte or the writers' close comes
// (a hangup still ends it), `mixed` streams only while playing like `stereo`
// (not recorded), playback_* and record_* counts are exact frame counts
// (a real switch reads ahead and starts recording on the first frame).
package media

import (
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
)

// FrameDur is one media frame, as on the recorded calls (20 ms, 8 kHz PCMU).
const FrameDur = 20 * time.Millisecond

const (
	Samples8k  = 160 // one 20 ms frame at 8 kHz
	samples16k = 320 // at 16 kHz
)

// Host is the switch as the media side sees it.
type Host interface {
	// Channel returns a live channel.
	Channel(uuid string) (Channel, bool)
	// NewEvent builds an event with the standard headers (the COMMAND of
	// a broadcast).
	NewEvent(name, subclass string, extra ...eslserver.Header) *eslserver.Event
	// Publish fires an event at once.
	Publish(e *eslserver.Event)
	// Go runs f in a goroutine the switch's Close waits for; false once
	// the switch is closed.
	Go(f func()) bool
	// Done is closed when the switch closes.
	Done() <-chan struct{}
	// TempDir is FreeSWITCH's temp dir (streamAudio files).
	TempDir() (string, error)
	// Unsupported answers a command the simulator does not emulate.
	Unsupported(cmd string) string
}

// Channel is one live channel.
type Channel interface {
	UUID() string
	// CallerAudio is the caller's audio source (nil: the default tone).
	CallerAudio() func([]int16)
	Var(name string) (string, bool)
	SetVar(name string, value *string) // nil unsets
	VarTrue(name string) bool          // switch_true on the variable
	// Event builds a channel event of the media side: the channel's
	// headers (and variables with withVars), then extra, then body.
	Event(name, subclass string, extra map[string]any, body string, withVars bool) *eslserver.Event
}

// Batch collects the events of a command: the switch publishes them after
// its reply, then runs the Then funcs.
type Batch interface {
	Fire(e *eslserver.Event)
	Then(f func())
}

// Media is the media state of every channel of one switch.
type Media struct {
	h         Host
	log       *slog.Logger
	gap, mute int // BroadcastGap and PlaybackCallerMute, in frames

	mu   sync.Mutex
	live map[string]*chanMedia
	gone map[string]*chanMedia // media of hung-up channels, for Heard & co.
}

// New returns the media side; gap is the silence before each broadcast
// plays and mute the caller's frames lost at each PLAYBACK_START, both in
// frames.
func New(h Host, log *slog.Logger, gap, mute int) *Media {
	return &Media{h: h, log: log, gap: gap, mute: mute, live: map[string]*chanMedia{}, gone: map[string]*chanMedia{}}
}

// chanMedia is a channel's media state; mu guards all of it.
type chanMedia struct {
	md *Media
	ch Channel

	mu      sync.Mutex
	src     func([]int16) // caller audio, 16 kHz
	stream  *audioStream  // the audio_stream bug (nil: none attached)
	frames  int           // binary frames sent to websockets
	bugs    []string      // attach order of bugs: "audio_stream" or a record path
	records map[string]*recording

	queue    []*queued // broadcasts waiting (private events)
	leading  bool      // the head of queue is reading its lead frames
	lead     int       // lead frames left before the head of queue starts
	cur      *playing
	breakIt  bool // uuid_break seen: stop cur on the next frame
	heard    []int16
	inRun    bool // something was heard and more is playing or queued
	gapHeard int  // samples of silence heard since, not yet in heard
	started  []string
	muteLeft int // caller frames still lost to the last PLAYBACK_START
	stalls   int // frames a native file could not fill (PlaybackStalls)

	loop     bool
	stopLoop chan struct{}
	loopDone chan struct{}
}

// of returns the channel's media state, made on first use.
func (md *Media) of(ch Channel) *chanMedia {
	md.mu.Lock()
	defer md.mu.Unlock()
	id := ch.UUID()
	if m := md.live[id]; m != nil {
		return m
	}
	if m := md.gone[id]; m != nil {
		return m
	}
	src := ch.CallerAudio()
	if src == nil {
		src = toneSource(440, 8000, 16000)
	}
	m := &chanMedia{md: md, ch: ch, src: src, records: map[string]*recording{}}
	md.live[id] = m
	return m
}

// channel returns a live channel and its media state.
func (md *Media) channel(id string) (Channel, *chanMedia, bool) {
	ch, ok := md.h.Channel(id)
	if !ok {
		return nil, nil, false
	}
	return ch, md.of(ch), true
}

// peek returns the media state without creating it (also for a channel
// already hung up, for the test accessors).
func (md *Media) peek(id string) *chanMedia {
	md.mu.Lock()
	defer md.mu.Unlock()
	if m := md.live[id]; m != nil {
		return m
	}
	return md.gone[id]
}

// fire publishes e now, or after the reply when b is not nil.
func (md *Media) fire(b Batch, e *eslserver.Event) {
	if b != nil {
		b.Fire(e)
		return
	}
	md.h.Publish(e)
}

// event fires a channel event of the media side with the channel's
// variables.
func (md *Media) event(b Batch, ch Channel, name, subclass string, extra map[string]any, body string) {
	md.fire(b, ch.Event(name, subclass, extra, body, true))
}

// frameBatch holds the events of one tick, published once m.mu is
// released.
type frameBatch struct {
	evs   []*eslserver.Event
	after []func()
}

func (f *frameBatch) Fire(e *eslserver.Event) { f.evs = append(f.evs, e) }
func (f *frameBatch) Then(fn func())          { f.after = append(f.after, fn) }

func (f *frameBatch) flush(md *Media) {
	for _, e := range f.evs {
		md.h.Publish(e)
	}
	for _, fn := range f.after {
		fn()
	}
}

// API returns the media commands.
func (md *Media) API() map[string]func(b Batch, args string) string {
	return map[string]func(Batch, string) string{
		"uuid_audio_stream": md.apiAudioStream,
		"uuid_broadcast":    md.apiBroadcast,
		"uuid_break":        md.apiBreak,
		"uuid_buglist":      md.apiBuglist,
		"uuid_record":       md.apiRecord,
	}
}

// toneSource is the default caller: a continuous sine (the recordings'
// caller sent a 440 Hz PCMU tone) at rate, phase kept across calls.
func toneSource(freq, amp float64, rate int) func([]int16) {
	n := 0
	return func(dst []int16) {
		for i := range dst {
			dst[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(n)/float64(rate)))
			n++
		}
	}
}

// startLoopLocked starts the 20 ms media loop once (m.mu held).
func (m *chanMedia) startLoopLocked() {
	if m.loop {
		return
	}
	m.loop = true
	m.stopLoop, m.loopDone = make(chan struct{}), make(chan struct{})
	stop, done := m.stopLoop, m.loopDone
	md := m.md
	started := md.h.Go(func() {
		defer close(done)
		// Frames are due every 20 ms from the start; a late frame is caught
		// up at once, as the recording shows for jitter (no frame missing),
		// unless the loop fell more than a second behind.
		next := time.Now().Add(FrameDur)
		t := time.NewTimer(FrameDur)
		defer t.Stop()
		caller := make([]int16, samples16k)
		for {
			select {
			case <-stop:
				return
			case <-md.h.Done():
				return
			case <-t.C:
			}
			m.tick(caller)
			next = next.Add(FrameDur)
			if time.Since(next) > time.Second {
				next = time.Now().Add(FrameDur)
			}
			t.Reset(max(0, time.Until(next)))
		}
	})
	if !started {
		close(done)
	}
}

// halt ends the media loop and waits for it.
func (m *chanMedia) halt() {
	m.mu.Lock()
	if !m.loop {
		m.mu.Unlock()
		return
	}
	m.loop = false
	stop, done := m.stopLoop, m.loopDone
	m.mu.Unlock()
	close(stop)
	<-done
}

// tick is one 20 ms frame: caller audio in, playback out, taps fed. The
// events of the frame are published once m.mu is released, in order.
func (m *chanMedia) tick(caller16 []int16) {
	b := &frameBatch{}
	m.mu.Lock()
	if m.heldLocked() {
		// The session thread waits in the pipe's read: nothing is written
		// to the caller (silence), no caller audio reaches a bug, no break
		// or next playback is seen. libwsc's own thread still sends the
		// stream's pings.
		m.stalls++
		m.silentLocked()
		if st := m.stream; st != nil {
			st.heartbeat()
		}
		m.mu.Unlock()
		return
	}
	m.src(caller16)
	if m.muteLeft > 0 {
		m.muteLeft--
		clear(caller16)
	}
	caller8 := make([]int16, Samples8k)
	for i := range caller8 {
		caller8[i] = caller16[2*i]
	}
	played, playing := m.playFrameLocked(b)
	if st := m.stream; st != nil {
		if frame := st.frame(caller8, caller16, played, playing); frame != nil && st.send(frame) {
			m.frames++
		}
		st.heartbeat()
	}
	var full []*recording
	for _, bug := range m.bugs {
		if r := m.records[bug]; r != nil && r.add(caller8, played) {
			full = append(full, r)
		}
	}
	for _, r := range full {
		delete(m.records, r.path)
		m.dropBugLocked(r.path)
	}
	m.mu.Unlock()
	for _, r := range full {
		m.md.stopRecording(b, m.ch, r, "success-maxtime")
	}
	b.flush(m.md)
}

// Hangup tears the media down inside the hangup sequence. Phase 1
// runs after CHANNEL_HANGUP: the loop stops and a playback in progress
// ends (PLAYBACK_STOP done, EXECUTE_COMPLETE: its loop sees the channel
// down). Phase 2 runs after CHANNEL_STATE CS_HANGUP, where the recordings
// show MEDIA_BUG_STOP (audio-stream-during-playback): each bug in attach
// order — a recording stops with RECORD_STOP (no-input-timeout, as
// record_callback says for a hung-up channel), the stream closes its
// websocket with 1000 "Normal closure" and fires no ::disconnect.
func (md *Media) Hangup(b Batch, id string, phase int) {
	md.mu.Lock()
	m := md.live[id]
	if m != nil {
		delete(md.live, id)
		md.gone[id] = m
	} else {
		m = md.gone[id]
	}
	md.mu.Unlock()
	if m == nil {
		return
	}
	ch := m.ch
	if phase == 1 {
		m.halt()
		m.mu.Lock()
		m.queue, m.lead, m.leading = nil, 0, false
		if m.cur != nil {
			m.finishLocked(b, "done")
		}
		m.mu.Unlock()
		return
	}
	m.mu.Lock()
	bugs := m.bugs
	m.bugs = nil
	st := m.stream
	m.stream = nil
	recs := m.records
	m.records = map[string]*recording{}
	m.mu.Unlock()
	for _, bug := range bugs {
		if bug == streamBug {
			if st != nil {
				st.cleanup(nil, false)
				md.event(b, ch, "MEDIA_BUG_STOP", "", map[string]any{"Media-Bug-Function": streamBug, "Media-Bug-Target": "N/A"}, "")
			}
			continue
		}
		if r := recs[bug]; r != nil {
			md.stopRecording(b, ch, r, "no-input-timeout")
		}
	}
}

// Reset is Close for a switch that restarts: its channels are gone, and so
// is their media state.
func (md *Media) Reset() {
	md.Close()
	md.mu.Lock()
	md.live = map[string]*chanMedia{}
	md.mu.Unlock()
}

// Close stops every live channel's media (the switch's Close): loops end,
// websockets close, no events; the test accessors still answer.
func (md *Media) Close() {
	md.mu.Lock()
	var ms []*chanMedia
	for _, m := range md.live {
		ms = append(ms, m)
	}
	md.mu.Unlock()
	for _, m := range ms {
		m.halt()
		m.mu.Lock()
		st := m.stream
		m.stream = nil
		recs := m.records
		m.records = map[string]*recording{}
		if m.cur != nil && m.cur.file != nil {
			m.cur.file.Close()
		}
		m.mu.Unlock()
		if st != nil {
			st.cleanup(nil, true)
		}
		for _, r := range recs {
			r.finish()
		}
	}
}

// DTMF is a digit the caller pressed, after its DTMF event: the playback
// application's input callback (mod_dptools on_dtmf) breaks the file being
// played on a digit of playback_terminators (default "*", "any", "none").
func (md *Media) DTMF(ch Channel, d rune) {
	m := md.peek(ch.UUID())
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil {
		return
	}
	term, ok := ch.Var("playback_terminators")
	switch {
	case !ok:
		term = "*"
	case strings.EqualFold(term, "any"):
		term = "1234567890*#"
	case strings.EqualFold(term, "none"):
		term = ""
	}
	if strings.ContainsRune(term, d) {
		used := string(d)
		ch.SetVar("playback_terminator_used", &used)
		m.breakIt = true
	}
}

// StreamFrames counts the binary frames the channel's streams sent to
// their websockets so far (also after the hangup).
func (md *Media) StreamFrames(uuid string) int {
	m := md.peek(uuid)
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.frames
}

// Heard is what the caller heard of the playbacks, 8 kHz samples in
// order, from the first frame played until nothing plays or waits: the
// silence between queued broadcasts (Options.BroadcastGap) and the
// silence padding a stall of a pipe are in it, the time the channel is
// idle is not. A break cuts a file where it was.
func (md *Media) Heard(uuid string) []int16 {
	m := md.peek(uuid)
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int16(nil), m.heard...)
}

// PlaybackStalls counts the frames a .PCMU/.PCMA playback (a named pipe)
// could not fill while its writer was still there: on a real switch each
// is a read that blocks the channel's media thread (the caller hears a
// gap, the caller's own audio stops), here they are played padded with
// silence. Also after the hangup.
func (md *Media) PlaybackStalls(uuid string) int {
	m := md.peek(uuid)
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stalls
}

// Playbacks lists the files whose playback started (PLAYBACK_START), in
// order.
func (md *Media) Playbacks(uuid string) []string {
	m := md.peek(uuid)
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.started...)
}

package fstest

import (
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
)

// The media side of a channel: what the caller sends (InboundCall.
// CallerAudio), what FreeSWITCH plays to the caller (uuid_broadcast), and
// the media bugs that tap both (mod_audio_stream, uuid_record).
//
// Like a real session thread, every channel with media work runs one loop
// that ticks every 20 ms (the PCMU ptime of the recordings): each tick
// reads one frame of caller audio, advances the current playback by one
// frame, hands both to the stream and the recordings. Media time is wall
// time: Options.Step does not scale it (a 0.5 s file plays in 0.5 s).

// frameDur is one media frame, as on the recorded calls (20 ms, 8 kHz PCMU).
const frameDur = 20 * time.Millisecond

const (
	samples8k  = 160 // one 20 ms frame at 8 kHz
	samples16k = 320 // at 16 kHz
)

// ErrNoChannel means the uuid names no live channel.
var ErrNoChannel = errors.New("fstest: no such channel")

// ErrBadDTMF means a digit FreeSWITCH would not queue.
var ErrBadDTMF = errors.New("fstest: invalid DTMF digit")

// chanMedia is a channel's media state; mu guards all of it.
type chanMedia struct {
	s  *Switch
	ch *channel

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

// media returns the channel's media state, made on first use.
func (s *Switch) media(ch *channel) *chanMedia {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	if ch.media == nil {
		src := ch.callerAudio
		if src == nil {
			src = toneSource(440, 8000, 16000)
		}
		ch.media = &chanMedia{s: s, ch: ch, src: src, records: map[string]*recording{}}
	}
	return ch.media
}

// mediaOf returns the media state of a live channel (nil, false when none).
func (s *Switch) mediaOf(id string) (*chanMedia, bool) {
	ch, ok := s.channel(id)
	if !ok {
		return nil, false
	}
	return s.media(ch), true
}

// peekMedia returns the media state without creating it (also for a
// channel already hung up, for the test accessors).
func (s *Switch) peekMedia(id string) *chanMedia {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	if ch, ok := s.chans.byID[id]; ok {
		return ch.media
	}
	return s.chans.gone[id]
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
	s := m.s
	started := s.goTimerOK(func() {
		defer close(done)
		// Frames are due every 20 ms from the start; a late frame is caught
		// up at once, as the recording shows for jitter (no frame missing),
		// unless the loop fell more than a second behind.
		next := time.Now().Add(frameDur)
		t := time.NewTimer(frameDur)
		defer t.Stop()
		caller := make([]int16, samples16k)
		for {
			select {
			case <-stop:
				return
			case <-s.done:
				return
			case <-t.C:
			}
			m.tick(caller)
			next = next.Add(frameDur)
			if time.Since(next) > time.Second {
				next = time.Now().Add(frameDur)
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
	b := &batch{}
	m.mu.Lock()
	m.src(caller16)
	if m.muteLeft > 0 {
		m.muteLeft--
		clear(caller16)
	}
	caller8 := make([]int16, samples8k)
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
		m.s.stopRecording(b, m.ch, r, "success-maxtime")
	}
	m.s.flush(b)
}

// mediaAPI adds the media commands to the api table.
func (s *Switch) mediaAPI(m map[string]apiFunc) {
	m["uuid_setvar"] = s.apiSetvar
	m["uuid_getvar"] = s.apiGetvar
	m["uuid_audio_stream"] = s.apiAudioStream
	m["uuid_broadcast"] = s.apiBroadcast
	m["uuid_break"] = s.apiBreak
	m["uuid_record"] = s.apiRecord
}

// Channel events of the media side: the channel's headers and variables
// and the state of an executing (parked) channel, then extra (after the
// standard headers, sorted, as Emit does), then the body.
func (s *Switch) mediaEvent(b *batch, ch *channel, name, subclass string, extra map[string]any, body string) {
	s.fire(b, s.eventFromMap(s.mediaHeaders(ch, name, subclass, extra, true), body))
}

func (s *Switch) mediaHeaders(ch *channel, name, subclass string, extra map[string]any, withVars bool) map[string]any {
	h := map[string]any{"Event-Name": name, "Unique-ID": ch.uuid, "Channel-Call-UUID": ch.uuid, "Call-Direction": "inbound",
		"Channel-State": "CS_EXECUTE", "Channel-State-Number": "4", "Channel-HIT-Dialplan": "true"}
	if subclass != "" {
		h["Event-Subclass"] = subclass
	}
	s.chans.mu.Lock()
	if ch.answered {
		h["Channel-Call-State"], h["Answer-State"] = "ACTIVE", "answered"
		for k, v := range map[string]string{"Channel-Read-Codec-Name": "PCMU", "Channel-Read-Codec-Rate": "8000",
			"Channel-Read-Codec-Bit-Rate": "64000", "Channel-Write-Codec-Name": "PCMU", "Channel-Write-Codec-Rate": "8000",
			"Channel-Write-Codec-Bit-Rate": "64000"} {
			h[k] = v
		}
	} else {
		h["Channel-Call-State"], h["Answer-State"] = "RINGING", "ringing"
	}
	if ch.hangingUp != "" {
		h["Channel-State"], h["Channel-State-Number"], h["Answer-State"] = "CS_HANGUP", "10", "hangup"
		h["Channel-Call-State"], h["Hangup-Cause"] = ch.hangingUp, ch.hangupCause
	}
	for k, v := range ch.vars {
		if withVars || !strings.HasPrefix(k, "variable_") {
			h[k] = v
		}
	}
	s.chans.mu.Unlock()
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// Media events are fired where the recordings show them (Event-Calling-*).
func init() {
	for k, v := range map[string]eslserver.Site{
		"MEDIA_BUG_START":              {"switch_core_media_bug.c", "switch_core_media_bug_add", "1014"},
		"MEDIA_BUG_STOP":               {"switch_core_media_bug.c", "switch_core_media_bug_destroy", "84"},
		"PLAYBACK_START":               {"switch_ivr_play_say.c", "switch_ivr_play_file", "1649"},
		"PLAYBACK_STOP":                {"switch_ivr_play_say.c", "switch_ivr_play_file", "2023"},
		"PRIVATE_COMMAND":              {"switch_ivr.c", "switch_ivr_parse_next_event", "804"},
		"COMMAND":                      {"switch_ivr_async.c", "switch_ivr_broadcast", "5732"},
		"RECORD_START":                 {"switch_ivr_async.c", "record_callback", "1482"},
		"RECORD_STOP":                  {"switch_ivr_async.c", "send_record_stop_event", "1241"},
		"DTMF":                         {"switch_channel.c", "switch_channel_dequeue_dtmf", "678"}, // not recorded: FreeSWITCH master
		"mod_audio_stream::connect":    {"mod_audio_stream.c", "responseHandler", "16"},
		"mod_audio_stream::disconnect": {"mod_audio_stream.c", "responseHandler", "16"},
		"mod_audio_stream::error":      {"mod_audio_stream.c", "responseHandler", "16"},
		"mod_audio_stream::json":       {"mod_audio_stream.c", "responseHandler", "16"},
		"mod_audio_stream::play":       {"mod_audio_stream.c", "responseHandler", "16"},
	} {
		callSites[k] = v
	}
}

// mediaHangup tears the media down inside the hangup sequence. Phase 1
// runs after CHANNEL_HANGUP: the loop stops and a playback in progress
// ends (PLAYBACK_STOP done, EXECUTE_COMPLETE: its loop sees the channel
// down). Phase 2 runs after CHANNEL_STATE CS_HANGUP, where the recordings
// show MEDIA_BUG_STOP (audio-stream-during-playback): each bug in attach
// order — a recording stops with RECORD_STOP (no-input-timeout, as
// record_callback says for a hung-up channel), the stream closes its
// websocket with 1000 "Normal closure" and fires no ::disconnect.
func (s *Switch) mediaHangup(b *batch, ch *channel, phase int) {
	s.chans.mu.Lock()
	m := ch.media
	s.chans.mu.Unlock()
	if m == nil {
		return
	}
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
				s.mediaEvent(b, ch, "MEDIA_BUG_STOP", "", map[string]any{"Media-Bug-Function": streamBug, "Media-Bug-Target": "N/A"}, "")
			}
			continue
		}
		if r := recs[bug]; r != nil {
			s.stopRecording(b, ch, r, "no-input-timeout")
		}
	}
}

// closeMedia stops every channel's media (Close, Restart): loops end,
// websockets close, no events.
func (s *Switch) closeMedia() {
	s.chans.mu.Lock()
	var ms []*chanMedia
	for _, ch := range s.chans.byID {
		if ch.media != nil {
			ms = append(ms, ch.media)
		}
	}
	s.chans.mu.Unlock()
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

// tempDir is where mod_audio_stream writes the files of streamAudio
// (Options.TempDir; by default a directory made on first use and removed
// by Close).
func (s *Switch) tempDir() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.TempDir != "" {
		return s.o.TempDir, nil
	}
	if s.tmpDir == "" {
		d, err := os.MkdirTemp("", "fstest-temp-")
		if err != nil {
			return "", err
		}
		s.tmpDir = d
	}
	return s.tmpDir, nil
}

func (s *Switch) removeTempDir() {
	s.mu.Lock()
	d := s.tmpDir
	s.tmpDir = ""
	s.mu.Unlock()
	if d != "" {
		os.RemoveAll(d)
	}
}

// SendDTMF makes the caller press digits (RFC 2833 telephone-events, as
// the recordings' SDP offers): one DTMF event per digit with DTMF-Digit,
// DTMF-Duration (2000 samples, FreeSWITCH's default) and DTMF-Source RTP,
// the headers switch_channel_dequeue_dtmf adds. Digits are 0-9 * # A-D
// (and a-d, sent upper-case); anything else is refused before any event.
// During a playback a digit of playback_terminators (default "*") breaks
// it, as the playback application does.
func (s *Switch) SendDTMF(uuid, digits string) error {
	ch, ok := s.channel(uuid)
	if !ok {
		return ErrNoChannel
	}
	up := strings.ToUpper(digits)
	for _, d := range up {
		if !strings.ContainsRune("0123456789*#ABCD", d) {
			return ErrBadDTMF
		}
	}
	for _, d := range up {
		s.mediaEvent(nil, ch, "DTMF", "", map[string]any{"DTMF-Digit": string(d), "DTMF-Duration": "2000", "DTMF-Source": "RTP"}, "")
		s.chans.mu.Lock()
		m := ch.media
		s.chans.mu.Unlock()
		if m == nil {
			continue
		}
		// The playback application's input callback (mod_dptools on_dtmf):
		// a digit of playback_terminators (default "*", "any", "none")
		// breaks the file being played.
		m.mu.Lock()
		if m.cur != nil {
			term, ok := s.getVar(ch, "playback_terminators")
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
				s.setVar(ch, "playback_terminator_used", &used)
				m.breakIt = true
			}
		}
		m.mu.Unlock()
	}
	return nil
}

// StreamFrames counts the binary frames the channel's streams sent to
// their websockets so far (also after the hangup).
func (s *Switch) StreamFrames(uuid string) int {
	m := s.peekMedia(uuid)
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
func (s *Switch) Heard(uuid string) []int16 {
	m := s.peekMedia(uuid)
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
func (s *Switch) PlaybackStalls(uuid string) int {
	m := s.peekMedia(uuid)
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stalls
}

// Playbacks lists the files whose playback started (PLAYBACK_START), in
// order.
func (s *Switch) Playbacks(uuid string) []string {
	m := s.peekMedia(uuid)
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.started...)
}

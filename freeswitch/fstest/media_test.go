package fstest

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// TestBroadcastBreak: uuid_break all stops the file with PLAYBACK_STOP
// break (audio-stream-stereo-16k) and drops the queued one; the caller
// heard only the start of the file.
func TestBroadcastBreak(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	dir := t.TempDir()
	long := filepath.Join(dir, "long.r8")
	writeBytes(t, long, pcmBytes(tone.GenerateN(1000, 8000, 16000, 8000))) // 2 s
	next := filepath.Join(dir, "next.r16")
	writeBytes(t, next, pcmBytes(tone.GenerateN(500, 16000, 3200, 8000))) // 0.1 s
	l.api("uuid_broadcast " + id + " " + long + " aleg")
	l.api("uuid_broadcast " + id + " " + next + " aleg") // queued behind the first
	l.wait("PLAYBACK_START", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	want := recordedAPIReply(t, "audio-stream-stereo-16k.jsonl", "uuid_break ")
	if r := l.api("uuid_break " + id + " all"); r != want {
		t.Fatalf("uuid_break %q, want %q", r, want)
	}
	e := l.wait("PLAYBACK_STOP", 5*time.Second)
	if e.h["Playback-Status"] != "break" || e.h["Playback-File-Path"] != long {
		t.Errorf("PLAYBACK_STOP %q %q", e.h["Playback-Status"], e.h["Playback-File-Path"])
	}
	if e := l.wait("CHANNEL_EXECUTE_COMPLETE", 5*time.Second); e.h["Application-Response"] != "FILE PLAYED" {
		t.Errorf("after a break %q (FreeSWITCH: FILE PLAYED)", e.h["Application-Response"])
	}
	l.none("PLAYBACK_START", 400*time.Millisecond) // `all` dropped the queued file
	h := s.Heard(id)
	if len(h) >= 16000 || len(h) < 1600 {
		t.Errorf("heard %d samples of a 16000-sample file broken after ~0.3 s", len(h))
	}
	if f := tone.EstimateFrequency(h, 8000); f < 980 || f > 1020 {
		t.Errorf("heard %.0f Hz", f)
	}
	if !slices.Equal(s.Playbacks(id), []string{long}) {
		t.Errorf("Playbacks %v", s.Playbacks(id))
	}

	// Without `all` only the current one stops and the next one plays.
	l.api("uuid_broadcast " + id + " " + long + " aleg")
	l.api("uuid_broadcast " + id + " " + next + " aleg")
	l.wait("PLAYBACK_START", 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	l.api("uuid_break " + id)
	if e := l.wait("PLAYBACK_STOP", 5*time.Second); e.h["Playback-Status"] != "break" {
		t.Errorf("status %q", e.h["Playback-Status"])
	}
	if e := l.wait("PLAYBACK_START", 5*time.Second); e.h["Playback-File-Path"] != next {
		t.Errorf("next playback %q", e.h["Playback-File-Path"])
	}
	if e := l.wait("PLAYBACK_STOP", 5*time.Second); e.h["Playback-Status"] != "done" || e.h["variable_playback_samples"] != "3200" {
		t.Errorf("r16 file: %q, %q samples (at its 16 kHz)", e.h["Playback-Status"], e.h["variable_playback_samples"])
	}
	if got := s.Playbacks(id); !slices.Equal(got, []string{long, long, next}) {
		t.Errorf("Playbacks %v", got)
	}
	if r := body(l.api("uuid_break nope all")); r != "-ERR No such channel!\n" {
		t.Errorf("break unknown %q", r)
	}
	if r := body(l.api("uuid_broadcast nope " + long)); r != "-ERR invalid uuid\n" {
		t.Errorf("broadcast unknown %q", r)
	}
}

// TestBroadcastQueue: a second broadcast starts when the first ends, after
// the lead frames of its own: the caller hears 100 ms of silence between
// the two (a real switch: 100.2 ms between queued files).
func TestBroadcastQueue(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.r8"), filepath.Join(dir, "b.wav")
	writeBytes(t, a, pcmBytes(tone.GenerateN(700, 8000, 1600, 8000)))
	wavFile(t, b, tone.GenerateN(900, 8000, 1600, 8000), 8000)
	l.api("uuid_broadcast " + id + " " + a)
	l.api("uuid_broadcast " + id + " " + b + " aleg")
	var order []string
	for len(order) < 4 {
		e := l.wait("PLAYBACK_START", 5*time.Second)
		order = append(order, "start "+filepath.Base(e.h["Playback-File-Path"]))
		e = l.wait("PLAYBACK_STOP", 5*time.Second)
		order = append(order, "stop "+filepath.Base(e.h["Playback-File-Path"])+" "+e.h["Playback-Status"])
	}
	if want := []string{"start a.r8", "stop a.r8 done", "start b.wav", "stop b.wav done"}; !slices.Equal(order, want) {
		t.Errorf("order %v", order)
	}
	h := s.Heard(id)
	if len(h) != 4000 || tone.EstimateFrequency(h[:1600], 8000) < 680 || tone.EstimateFrequency(h[2400:], 8000) < 880 {
		t.Fatalf("heard %d samples, want 1600 + 800 of silence + 1600", len(h))
	}
	if slices.ContainsFunc(h[1600:2400], func(v int16) bool { return v != 0 }) {
		t.Error("the gap between the broadcasts is not silent")
	}
}

// TestSendMsgPlayback: `sendmsg <uuid>` execute playback queues like
// uuid_broadcast (same events, one after the other) but reads no lead
// frames: two files queued so play back to back, with no silence between.
func TestSendMsgPlayback(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.r8"), filepath.Join(dir, "b.wav")
	writeBytes(t, a, pcmBytes(tone.GenerateN(700, 8000, 1600, 8000)))
	wavFile(t, b, tone.GenerateN(900, 8000, 1600, 8000), 8000)
	c := login(t, s, "")
	for _, f := range []string{a, b} {
		c.send("sendmsg " + id + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: " + f + "\nevent-lock: true\n\n")
		if r := c.reply(); r != "Content-Type: command/reply\nReply-Text: +OK\n\n" {
			t.Fatalf("sendmsg: %q", r)
		}
	}
	var order []string
	for len(order) < 4 {
		e := l.wait("PLAYBACK_START", 5*time.Second)
		order = append(order, "start "+filepath.Base(e.h["Playback-File-Path"]))
		e = l.wait("PLAYBACK_STOP", 5*time.Second)
		order = append(order, "stop "+filepath.Base(e.h["Playback-File-Path"])+" "+e.h["Playback-Status"])
	}
	if want := []string{"start a.r8", "stop a.r8 done", "start b.wav", "stop b.wav done"}; !slices.Equal(order, want) {
		t.Errorf("order %v", order)
	}
	h := s.Heard(id)
	if len(h) != 3200 || tone.EstimateFrequency(h[:1600], 8000) < 680 || tone.EstimateFrequency(h[1600:], 8000) < 880 {
		t.Fatalf("heard %d samples, want the two files back to back (3200)", len(h))
	}
}

// TestPlaybackTimingOptions: BroadcastGap and PlaybackCallerMute set the
// gap between queued broadcasts and the caller's audio lost at each
// start; negative values turn them off.
func TestPlaybackTimingOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        Options
		gap, mut int // samples
	}{
		{"defaults", Options{}, 800, 640},
		{"off", Options{BroadcastGap: -1, PlaybackCallerMute: -1}, 0, 0},
		{"set", Options{BroadcastGap: 200 * time.Millisecond, PlaybackCallerMute: 60 * time.Millisecond}, 1600, 960},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSwitch(t, tc.o)
			l := newESLLog(t, s)
			w := newWSServer(t)
			id := answeredCall(t, s, l, InboundCall{})
			l.api("uuid_audio_stream " + id + " start " + w.url + " mono 8k")
			p := w.accept(t)
			l.wait("mod_audio_stream::connect", 5*time.Second)
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.r8"), filepath.Join(dir, "b.r8")
			writeBytes(t, a, pcmBytes(tone.GenerateN(700, 8000, 1600, 8000)))
			writeBytes(t, b, pcmBytes(tone.GenerateN(900, 8000, 1600, 8000)))
			l.api("uuid_broadcast " + id + " " + a + " aleg")
			l.api("uuid_broadcast " + id + " " + b + " aleg")
			l.wait("PLAYBACK_STOP", 5*time.Second)
			l.wait("PLAYBACK_STOP", 5*time.Second)
			time.Sleep(60 * time.Millisecond)
			l.api("uuid_audio_stream " + id + " stop")
			if h := s.Heard(id); len(h) != 3200+tc.gap {
				t.Errorf("heard %d samples, want 3200 + a gap of %d", len(h), tc.gap)
			}
			p.closeInfo(t)
			zero := 0
			for _, f := range p.rest {
				if len(f.data) == 320 && !slices.ContainsFunc(f.data, func(c byte) bool { return c != 0 }) {
					zero++
				}
			}
			if zero*160 != tc.mut {
				t.Errorf("%d caller frames of zeros, want %d (%d samples at each of the 2 starts)", zero, tc.mut/160, tc.mut/2)
			}
		})
	}
}

// TestBroadcastMissingFile: CHANNEL_EXECUTE, then EXECUTE_COMPLETE FILE NOT
// FOUND; no PLAYBACK_START/STOP (switch_ivr_play_file returns first).
func TestBroadcastMissingFile(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	if r := body(l.api("uuid_broadcast " + id + " /no/such/file.wav aleg")); r != "+OK Message sent\n" {
		t.Fatalf("broadcast %q", r)
	}
	l.wait("CHANNEL_EXECUTE", 5*time.Second)
	if e := l.wait("CHANNEL_EXECUTE_COMPLETE", 5*time.Second); e.h["Application-Response"] != "FILE NOT FOUND" {
		t.Errorf("response %q", e.h["Application-Response"])
	}
	l.wait("PRIVATE_COMMAND", 5*time.Second)
	l.none("PLAYBACK_START", 100*time.Millisecond)
	for _, e := range l.seen {
		if e.kind() == "PLAYBACK_STOP" {
			t.Error("PLAYBACK_STOP for a missing file")
		}
	}
	if len(s.Playbacks(id)) != 0 || len(s.Heard(id)) != 0 {
		t.Errorf("Playbacks %v", s.Playbacks(id))
	}
}

// TestRecordStartStopAsRecorded replays record-start-stop: replies, event
// sequence and the RECORD_STOP variables, and a valid WAV of that size.
func TestRecordStartStopAsRecorded(t *testing.T) {
	s := newSwitch(t, asRecorded(Options{}))
	l := newESLLog(t, s)
	path := filepath.Join(t.TempDir(), "x.wav")
	id, _ := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	l.api("uuid_answer " + id)
	if r := l.api("uuid_record " + id + " start " + path); r != recordedAPIReply(t, "record-start-stop.jsonl", "uuid_record ") {
		t.Fatalf("start %q", r)
	}
	if e := l.wait("RECORD_START", 5*time.Second); e.h["Record-File-Path"] != path {
		t.Errorf("RECORD_START %q", e.h["Record-File-Path"])
	}
	if e := l.wait("MEDIA_BUG_START", 5*time.Second); e.h["Media-Bug-Function"] != "session_record" || e.h["Media-Bug-Target"] != path {
		t.Errorf("MEDIA_BUG_START %q %q", e.h["Media-Bug-Function"], e.h["Media-Bug-Target"])
	}
	time.Sleep(time.Second)
	if r := l.api("uuid_record " + id + " stop " + path); r != recordedAPIReply(t, "record-start-stop.jsonl", "uuid_record e0859e17-db79-4dc6-91b9-815c13491240 stop") {
		t.Fatalf("stop %q", r)
	}
	stop := l.wait("RECORD_STOP", 5*time.Second)
	l.wait("MEDIA_BUG_STOP", 5*time.Second)
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("", 100*time.Millisecond)
	got, want := sequence(l.seen, id), recordedSequence(t, "record-start-stop.jsonl")
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got  %v\n want %v", got, want)
	}
	checkHeaderNames(t, "record-start-stop.jsonl", l.seen)
	// Wire order: the reply first, then RECORD_START and MEDIA_BUG_START
	// (and for stop RECORD_STOP, MEDIA_BUG_STOP), as recorded.
	wire := l.wireOrder()
	kinds := []string{"RECORD_START", "RECORD_STOP", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "API"}
	for _, prefix := range []string{"uuid_record e0859e17-db79-4dc6-91b9-815c13491240 start", "uuid_record e0859e17-db79-4dc6-91b9-815c13491240 stop"} {
		want := recordedWireAfter(t, "record-start-stop.jsonl", prefix, 3, kinds...)
		start := 0
		if strings.HasSuffix(prefix, "stop") {
			start = slices.Index(wire, "RECORD_START") // the second "+OK Success"
		}
		if got := wireAfter(wire[start:], "+OK Success\n", 3, kinds...); !slices.Equal(got, want) || len(want) != 4 {
			t.Errorf("%s on the wire: got %q, want %q", prefix, got, want)
		}
	}
	if stop.h["Record-File-Path"] != path || stop.h["Record-Completion-Cause"] != "success-maxtime" {
		t.Errorf("RECORD_STOP %q %q", stop.h["Record-File-Path"], stop.h["Record-Completion-Cause"])
	}
	samples, _ := strconv.Atoi(stop.h["variable_record_samples"])
	ms, _ := strconv.Atoi(stop.h["variable_record_ms"])
	size, _ := strconv.Atoi(stop.h["variable_record_file_size"])
	if samples < 7000 || samples > 12000 || ms != samples/8 || stop.h["variable_record_seconds"] != strconv.Itoa(samples/8000) || size != 44+2*samples {
		t.Errorf("record vars samples=%d ms=%d seconds=%s size=%d (recorded: 12160, 1520, 1, 24364 = 44+2×samples)",
			samples, ms, stop.h["variable_record_seconds"], size)
	}
	data := mustRead(t, path)
	ch, rate, pcm := parseTestWAV(t, data)
	if len(data) != size || ch != 1 || rate != 8000 || len(pcm) != samples {
		t.Errorf("wav %d bytes, %d ch, %d Hz, %d samples", len(data), ch, rate, len(pcm))
	}
	if f := tone.EstimateFrequency(pcm, 8000); f < 430 || f > 450 {
		t.Errorf("recorded caller at %.0f Hz", f)
	}
	if r := body(l.api("uuid_record " + id + " stop " + path)); r != "-ERR Cannot locate session!\n" {
		t.Errorf("after hangup %q", r)
	}
}

func parseTestWAV(t *testing.T, data []byte) (int, int, []int16) {
	t.Helper()
	if len(data) < 44 || string(data[:4]) != "RIFF" || string(data[8:16]) != "WAVEfmt " || string(data[36:40]) != "data" ||
		binary.LittleEndian.Uint32(data[4:]) != uint32(len(data)-8) || binary.LittleEndian.Uint32(data[40:]) != uint32(len(data)-44) ||
		binary.LittleEndian.Uint16(data[20:]) != 1 || binary.LittleEndian.Uint16(data[34:]) != 16 {
		t.Fatalf("not a PCM 16-bit WAV: % x", data[:min(44, len(data))])
	}
	return int(binary.LittleEndian.Uint16(data[22:])), int(binary.LittleEndian.Uint32(data[24:])), audiofile.L16(data[44:])
}

// TestRecordStereo: RECORD_STEREO=true gives the caller on the left and
// the played file on the right; the hangup finalizes the file. The
// caller's audio is lost for 40 ms as the playback starts (zeros on the
// left, as a real switch recorded it).
func TestRecordStereo(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	path := filepath.Join(t.TempDir(), "st.wav")
	file := filepath.Join(t.TempDir(), "p.r8")
	writeBytes(t, file, pcmBytes(tone.GenerateN(1000, 8000, 4000, 8000)))
	l.api("uuid_setvar " + id + " RECORD_STEREO true")
	if r := body(l.api("uuid_record " + id + " start " + path)); r != "+OK Success\n" {
		t.Fatal(r)
	}
	l.api("uuid_broadcast " + id + " " + file + " aleg")
	l.wait("PLAYBACK_STOP", 5*time.Second)
	l.api("uuid_kill " + id)
	stop := l.wait("RECORD_STOP", 5*time.Second)
	if stop.h["Record-Completion-Cause"] != "no-input-timeout" || stop.h["Channel-State"] != "CS_HANGUP" {
		t.Errorf("hangup stop: %q in %q", stop.h["Record-Completion-Cause"], stop.h["Channel-State"])
	}
	if e := l.wait("MEDIA_BUG_STOP", 5*time.Second); e.h["Media-Bug-Function"] != "session_record" {
		t.Errorf("MEDIA_BUG_STOP %q", e.h["Media-Bug-Function"])
	}
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	ch, rate, pcm := parseTestWAV(t, mustRead(t, path))
	if ch != 2 || rate != 8000 {
		t.Fatalf("%d channels at %d Hz", ch, rate)
	}
	var left, right []int16
	first, last := -1, -1
	for i := 0; i+1 < len(pcm); i += 2 {
		left = append(left, pcm[i])
		right = append(right, pcm[i+1])
		if pcm[i+1] != 0 {
			if first < 0 {
				first = i / 2
			}
			last = i / 2
		}
	}
	if first < 0 {
		t.Fatal("nothing on the right channel")
	}
	right = right[first : last+1] // the played file, silence around it
	// The longest run of zeros on the left.
	at, n := 0, 0
	for i := 0; i < len(left); {
		j := i
		for j < len(left) && left[j] == 0 {
			j++
		}
		if j-i > n {
			at, n = i, j-i
		}
		i = j + 1
	}
	// (The file's first sample is a zero crossing: it starts at first-1.)
	if n < 320 || n > 322 || at < first-1 || at > first {
		t.Errorf("caller muted for %d samples from %d, want the 320 from the file's start (%d)", n, at, first-1)
	}
	first = at
	heardCaller := slices.Concat(left[:first], left[first+320:])
	if f := tone.EstimateFrequency(heardCaller, 8000); f < 430 || f > 450 {
		t.Errorf("left channel at %.0f Hz, want the caller's 440", f)
	}
	if len(right) < 3900 || len(right) > 4000 || tone.PowerShare(right, 8000, 1000) < 0.8 {
		t.Errorf("right channel: %d samples played, 1000 Hz power %.2f", len(right), tone.PowerShare(right, 8000, 1000))
	}
	if r := body(l.api("uuid_record nope start " + path)); r != "-ERR Cannot locate session!\n" {
		t.Errorf("%q", r)
	}
}

func TestRecordErrors(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	path := filepath.Join(t.TempDir(), "r.wav")
	for _, tc := range []struct{ args, want string }{
		{id + " start", "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"},
		{id + " stop " + path, "-ERR Cannot stop record session!\n"},
		{id + " start /no/such/dir/x.wav", "-ERR Cannot record session!\n"},
		{id + " start " + path + " 1", "+OK Success\n"}, // 1 s limit
	} {
		if got := body(l.api("uuid_record " + tc.args)); got != tc.want {
			t.Errorf("uuid_record %s: %q, want %q", tc.args, got, tc.want)
		}
	}
	e := l.wait("RECORD_STOP", 3*time.Second) // the limit stops it
	if e.h["variable_record_samples"] != "8000" || e.h["Record-Completion-Cause"] != "success-maxtime" {
		t.Errorf("limit: %q samples, %q", e.h["variable_record_samples"], e.h["Record-Completion-Cause"])
	}
}

// TestDTMF: one DTMF event per digit with the headers
// switch_channel_dequeue_dtmf adds.
func TestDTMF(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	if err := s.SendDTMF(id, "1#x"); !errors.Is(err, ErrBadDTMF) {
		t.Fatalf("bad digit: %v", err)
	}
	if err := s.SendDTMF("nope", "1"); !errors.Is(err, ErrNoChannel) {
		t.Fatalf("no channel: %v", err)
	}
	if err := s.SendDTMF(id, "12*#a"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 5 {
		e := l.wait("DTMF", 5*time.Second)
		if e.h["DTMF-Duration"] != "2000" || e.h["DTMF-Source"] != "RTP" || e.h["Unique-ID"] != id || e.h["Caller-Caller-ID-Number"] != "+14165550100" {
			t.Errorf("DTMF headers %v", e.h)
		}
		got = append(got, e.h["DTMF-Digit"])
	}
	if !slices.Equal(got, []string{"1", "2", "*", "#", "A"}) {
		t.Errorf("digits %v", got)
	}
}

// TestUUIDSendDTMF: uuid_send_dtmf answers as FreeSWITCH 1.11.1 does (e2e
// dtmf_out and TestConformance check these replies on the real switch),
// sends what is a key, and fires no DTMF event on the channel (that is for
// keys received).
func TestUUIDSendDTMF(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	for _, tc := range []struct{ args, want string }{
		{"", "-USAGE: <uuid> <dtmf_data>\n"},
		{id, "-USAGE: <uuid> <dtmf_data>\n"},
		{"00000000-0000-0000-0000-000000000000 1", "-ERR Cannot locate session!\n"},
		{id + " xyz", "-ERR Operation failed\n"},
		{id + " " + strings.Repeat("1", 100), "-ERR Operation failed\n"},
		{id + " 12#", "+OK " + id + " sent DTMF 12#.\n"},
		{id + " *a@300", "+OK " + id + " sent DTMF *a@300.\n"},
	} {
		if got := body(l.api("uuid_send_dtmf " + tc.args)); got != tc.want {
			t.Errorf("uuid_send_dtmf %s: %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := s.SentDTMF(id); got != "12#*A" {
		t.Errorf("sent %q, want 12#*A", got)
	}
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	for _, e := range l.seen {
		if e.kind() == "DTMF" {
			t.Errorf("a DTMF event on the channel: %v", e.h)
		}
	}
}

// TestCallerAudioSource: InboundCall.CallerAudio feeds the stream and the
// recording.
func TestCallerAudioSource(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{CallerAudio: tone.New(300, 16000, 8000).Read})
	l.api("uuid_audio_stream " + id + " start " + w.url + " mono 8k")
	p := w.accept(t)
	var pcm []int16
	for len(pcm) < 8000 {
		pcm = append(pcm, audiofile.L16(p.next(t).data)...)
	}
	if f := tone.EstimateFrequency(pcm, 8000); f < 290 || f > 310 {
		t.Errorf("streamed %.0f Hz, want the source's 300", f)
	}
}

// TestNoGoroutineOutlivesClose: streams, playbacks and recordings end with
// Close, and the default temp dir is removed.
func TestNoGoroutineOutlivesClose(t *testing.T) {
	before := runtime.NumGoroutine()
	s := New(Options{GenDir: t.TempDir()})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	l.api("uuid_audio_stream " + id + " start " + w.url + " mono 16k")
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	p.sendText(t, streamAudioMsg(tone.GenerateN(500, 8000, 800, 8000), 8000))
	l.wait("mod_audio_stream::play", 5*time.Second)
	tmp := s.tempDirForTest(t)
	l.api("uuid_record " + id + " start " + filepath.Join(t.TempDir(), "c.wav"))
	l.api("uuid_broadcast " + id + " " + filepath.Join(tmp, id+"_0.tmp.r8"))
	l.nc.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temp dir %s left: %v", tmp, err)
	}
	p.closeInfo(t)
	w.srv.Close()
	testkit.Until(2*time.Second, func() bool { return runtime.NumGoroutine() <= before+2 })
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestHangupStopsMedia: the caller's BYE (Switch.Hangup) in the middle of
// a playback, a recording and a stream: the playback ends right after
// CHANNEL_HANGUP, the bugs stop after CHANNEL_STATE CS_HANGUP (as in
// audio-stream-during-playback), the websocket gets 1000 "Normal closure",
// the WAV is finalized, and nothing fires after CHANNEL_DESTROY.
func TestHangupStopsMedia(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	long := filepath.Join(t.TempDir(), "long.r8")
	writeBytes(t, long, pcmBytes(tone.GenerateN(1000, 8000, 80000, 8000)))
	rec := filepath.Join(t.TempDir(), "h.wav")
	l.api("uuid_audio_stream " + id + " start " + w.url + " mono 16k")
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	l.api("uuid_record " + id + " start " + rec)
	if r := l.api("uuid_broadcast " + id + " " + long + " aleg"); r != recordedAPIReply(t, "audio-stream-mono-8k.jsonl", "uuid_broadcast ") {
		t.Errorf("broadcast reply %q", r)
	}
	l.wait("PLAYBACK_START", 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	if !s.Hangup(id, "") {
		t.Fatal("Hangup")
	}
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("", 300*time.Millisecond)
	var tail []string
	on := false
	for _, e := range l.seen {
		if e.kind() == "CHANNEL_HANGUP" {
			on = true
		}
		if on {
			k := e.kind() + "/" + e.h["Channel-State"]
			if f := e.h["Media-Bug-Function"]; f != "" {
				k += "/" + f
			}
			tail = append(tail, k)
		}
	}
	want := []string{"CHANNEL_HANGUP/CS_EXECUTE", "PLAYBACK_STOP/CS_EXECUTE", "CHANNEL_EXECUTE_COMPLETE/CS_EXECUTE",
		"PRIVATE_COMMAND/CS_EXECUTE", "CHANNEL_UNPARK/CS_EXECUTE", "CHANNEL_EXECUTE_COMPLETE/CS_EXECUTE", "CHANNEL_STATE/CS_HANGUP",
		"MEDIA_BUG_STOP/CS_HANGUP/audio_stream", "RECORD_STOP/CS_HANGUP", "MEDIA_BUG_STOP/CS_HANGUP/session_record",
		"CHANNEL_CALLSTATE/CS_HANGUP", "CHANNEL_STATE/CS_REPORTING", "CHANNEL_HANGUP_COMPLETE/CS_REPORTING",
		"CHANNEL_DESTROY/CS_REPORTING", "CHANNEL_STATE/CS_DESTROY"}
	if !slices.Equal(tail, want) {
		t.Errorf("hangup sequence\n got  %v\n want %v", tail, want)
	}
	if ce := p.closeInfo(t); ce == nil || ce.Code != 1000 || ce.Text != "Normal closure" {
		t.Errorf("close %v", ce)
	}
	if _, _, pcm := parseTestWAV(t, mustRead(t, rec)); len(pcm) < 1600 {
		t.Errorf("recording of %d samples", len(pcm))
	}
	if h := s.Heard(id); len(h) == 0 || len(h) >= 80000 {
		t.Errorf("heard %d samples", len(h))
	}
	n := s.StreamFrames(id)
	time.Sleep(100 * time.Millisecond)
	if s.StreamFrames(id) != n || n == 0 {
		t.Errorf("frames %d then %d after the hangup", n, s.StreamFrames(id))
	}
}

// TestDTMFTerminatesPlayback: "*" (the default playback_terminators)
// breaks the file being played; other digits do not.
func TestDTMFTerminatesPlayback(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	long := filepath.Join(t.TempDir(), "l.r8")
	writeBytes(t, long, pcmBytes(tone.GenerateN(1000, 8000, 16000, 8000)))
	l.api("uuid_broadcast " + id + " " + long)
	l.wait("PLAYBACK_START", 5*time.Second)
	s.SendDTMF(id, "1")
	l.none("PLAYBACK_STOP", 200*time.Millisecond)
	s.SendDTMF(id, "*")
	e := l.wait("PLAYBACK_STOP", 5*time.Second)
	if e.h["Playback-Status"] != "break" || e.h["variable_playback_terminator_used"] != "*" {
		t.Errorf("PLAYBACK_STOP %q, terminator %q", e.h["Playback-Status"], e.h["variable_playback_terminator_used"])
	}
	l.api("uuid_setvar " + id + " playback_terminators none")
	l.api("uuid_broadcast " + id + " " + long)
	l.wait("PLAYBACK_START", 5*time.Second)
	s.SendDTMF(id, "*")
	l.none("PLAYBACK_STOP", 200*time.Millisecond)
}

// TestBroadcastToneStream: a tone_stream:// path plays like a file (the
// real switch in e2e TestConformance: PLAYBACK_START, PLAYBACK_STOP done,
// FILE PLAYED); loops=-1 plays until uuid_break; a script without a tone
// is not found.
func TestBroadcastToneStream(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	l.api("uuid_broadcast " + id + " tone_stream://%(300,0,1000) aleg")
	if e := l.wait("PLAYBACK_START", 5*time.Second); e.h["Playback-File-Type"] != "tone_stream" {
		t.Errorf("PLAYBACK_START Playback-File-Type %q", e.h["Playback-File-Type"])
	}
	if e := l.wait("PLAYBACK_STOP", 5*time.Second); e.h["Playback-Status"] != "done" || e.h["Playback-File-Type"] != "tone_stream" {
		t.Errorf("PLAYBACK_STOP %q %q", e.h["Playback-Status"], e.h["Playback-File-Type"])
	}
	if e := l.wait("CHANNEL_EXECUTE_COMPLETE", 5*time.Second); e.h["Application-Response"] != "FILE PLAYED" {
		t.Errorf("EXECUTE_COMPLETE %q", e.h["Application-Response"])
	}
	h := s.Heard(id)
	if len(h) != 2400 || math.Abs(tone.EstimateFrequency(h, 8000)-1000) > 20 {
		t.Errorf("heard %d samples at %.0f Hz, want 2400 at 1000 Hz", len(h), tone.EstimateFrequency(h, 8000))
	}
	l.api("uuid_broadcast " + id + " tone_stream://%(100,100,440);loops=-1 aleg")
	l.wait("PLAYBACK_START", 5*time.Second)
	l.none("PLAYBACK_STOP", 500*time.Millisecond)
	l.api("uuid_break " + id)
	if e := l.wait("PLAYBACK_STOP", 5*time.Second); e.h["Playback-Status"] != "break" {
		t.Errorf("looped tone: PLAYBACK_STOP %q", e.h["Playback-Status"])
	}
	l.wait("CHANNEL_EXECUTE_COMPLETE", 5*time.Second)
	l.api("uuid_broadcast " + id + " tone_stream://v=-7 aleg")
	if e := l.wait("CHANNEL_EXECUTE_COMPLETE", 5*time.Second); e.h["Application-Response"] != "FILE NOT FOUND" {
		t.Errorf("no tone: %q", e.h["Application-Response"])
	}
}

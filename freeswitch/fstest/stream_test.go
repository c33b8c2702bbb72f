package fstest

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sipbridge/sipbridge/internal/tone"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/media"
)

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAudioStreamRepliesAsRecorded: the replies of uuid_setvar and
// uuid_audio_stream start/stop are the recorded frames byte for byte.
func TestAudioStreamRepliesAsRecorded(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	for _, tc := range []struct{ rec, prefix, cmd string }{
		{"audio-stream-mono-8k.jsonl", "uuid_setvar ", "uuid_setvar " + id + " STREAM_MESSAGE_DEFLATE true"},
		{"audio-stream-mono-8k.jsonl", "uuid_audio_stream ", "uuid_audio_stream " + id + " start " + w.url + ` mono 8k {"call":"x"}`},
		{"audio-stream-mono-8k.jsonl", "uuid_audio_stream " + "06339eca-b552-47ba-bd51-6e66c39b4cde stop", "uuid_audio_stream " + id + " stop"},
		{"audio-stream-error.jsonl", "uuid_audio_stream " + "06ab6529-2e87-4113-93cc-b42ff9698d5d stop", "uuid_audio_stream " + id + " stop"},
		{"audio-stream-mono-8k.jsonl", "uuid_kill ", "uuid_kill " + id},
	} {
		want := recordedAPIReply(t, tc.rec, tc.prefix)
		if got := l.api(tc.cmd); got != want {
			t.Errorf("%s:\n got  %q\n want %q", tc.cmd, got, want)
		}
		if strings.Contains(tc.cmd, " start ") {
			w.accept(t)
			l.wait("mod_audio_stream::connect", 5*time.Second)
		}
	}
	if r := body(l.api("uuid_setvar " + id + " X y")); r != "-ERR No such channel!\n" {
		t.Errorf("setvar on a gone channel: %q", r)
	}
}

func TestSetvarGetvar(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	for _, tc := range []struct{ cmd, want string }{
		{"uuid_setvar " + id + " RECORD_STEREO true", "+OK\n"},
		{"uuid_getvar " + id + " RECORD_STEREO", "true"},
		{"uuid_setvar " + id + " greeting hello big world", "+OK\n"}, // the value keeps the rest of the line
		{"uuid_getvar " + id + " greeting", "hello big world"},
		{"uuid_setvar " + id + " greeting", "+OK\n"}, // no value: unset
		{"uuid_getvar " + id + " greeting", "_undef_"},
		{"uuid_getvar " + id + " sip_from_user", "+14165550100"},
		{"uuid_setvar " + id, "-USAGE: <uuid> <var> [value]\n"},
		{"uuid_setvar nope x y", "-ERR No such channel!\n"},
		{"uuid_getvar nope x", "-ERR No such channel!\n"},
	} {
		if got := body(l.api(tc.cmd)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
	l.api("uuid_setvar " + id + " SB_MARK 42")
	l.api("uuid_kill " + id)
	if e := l.wait("CHANNEL_HANGUP", 5*time.Second); e.h["variable_SB_MARK"] != "42" {
		t.Errorf("later events carry variable_SB_MARK: %q", e.h["variable_SB_MARK"])
	}
}

// TestAudioStreamMono16k streams a call the way sipbridge does (mono 16k
// with metadata) and checks what the websocket server receives.
func TestAudioStreamMono16k(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	l.api("uuid_setvar " + id + " STREAM_HEART_BEAT 1")
	if r := body(l.api("uuid_audio_stream " + id + " start " + w.url + ` mono 16k {"call":"x"}`)); r != "+OK Success\n" {
		t.Fatalf("start: %q", r)
	}
	if e := l.wait("MEDIA_BUG_START", 5*time.Second); e.h["Media-Bug-Function"] != "audio_stream" || e.h["Media-Bug-Target"] != "N/A" {
		t.Errorf("MEDIA_BUG_START %v", e.h)
	}
	p := w.accept(t)
	// The upgrade request has the recorded header names (audio-stream-ws-mono-8k):
	// no extension or subprotocol offer, no User-Agent, an Origin.
	var names []string
	for k := range p.req.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"Connection", "Origin", "Sec-Websocket-Key", "Sec-Websocket-Version", "Upgrade"}; !slices.Equal(names, want) {
		t.Errorf("upgrade request headers %v, recorded %v", names, want)
	}
	if o := p.req.Header.Get("Origin"); o != "http://"+p.req.Host {
		t.Errorf("Origin %q for host %q", o, p.req.Host)
	}
	if e := l.wait("mod_audio_stream::connect", 5*time.Second); e.h["_body"] != `{"status":"connected"}` {
		t.Errorf("connect body %q", e.h["_body"])
	}
	if f := p.next(t); f.typ != websocket.TextMessage || string(f.data) != `{"call":"x"}` {
		t.Fatalf("first frame %d %q, want the metadata text", f.typ, f.data)
	}
	var audio []int16
	var times []time.Time
	start := time.Now()
	for time.Since(start) < time.Second {
		f := p.next(t)
		if f.typ != websocket.BinaryMessage || len(f.data) != 640 {
			t.Fatalf("frame %d of %d bytes, want binary 640 (20 ms of 16 kHz L16)", f.typ, len(f.data))
		}
		times = append(times, f.at)
		for i := 0; i+1 < len(f.data); i += 2 {
			audio = append(audio, int16(binary.LittleEndian.Uint16(f.data[i:])))
		}
	}
	// ~50 frames in 1 s. On a starved machine frames come late and are
	// caught up at once (as the recording's jitter spots): then the total
	// must still match the time elapsed.
	if n := len(times); n < 45 || n > 55 {
		time.Sleep(300 * time.Millisecond)
		for len(p.frames) > 0 {
			p.next(t)
			n++
		}
		if want := int(time.Since(start) / media.FrameDur); n < want-8 || n > want+3 {
			t.Errorf("%d frames in %v, want ~%d (one per 20 ms)", n, time.Since(start), want)
		}
		t.Logf("late frames caught up: %d in the first second", len(times))
	} else if per := times[len(times)-1].Sub(times[0]) / time.Duration(len(times)-1); per < 17*time.Millisecond || per > 23*time.Millisecond {
		t.Errorf("mean gap %v, want 20 ms", per)
	}
	if f := tone.EstimateFrequency(audio, 16000); f < 430 || f > 450 {
		t.Errorf("caller audio at %.0f Hz, want the 440 Hz tone", f)
	}
	if g := tone.PowerShare(audio, 16000, 440); g < 0.8 {
		t.Errorf("440 Hz power %.2f", g)
	}
	if n := s.StreamFrames(id); n < len(times) {
		t.Errorf("StreamFrames %d < %d received", n, len(times))
	}
	pings := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.pings }
	if !s.WaitFor(func() bool { return pings() >= 1 }, time.Second) { // one per STREAM_HEART_BEAT seconds
		t.Errorf("no ping with STREAM_HEART_BEAT=1 after 2 s")
	}

	// streamAudio back → a file and ::play; other JSON → ::json.
	pcm := tone.GenerateN(660, 8000, 4000, 8000)
	p.sendText(t, streamAudioMsg(pcm, 8000))
	play := l.wait("mod_audio_stream::play", 5*time.Second)
	file := filepath.Join(s.tempDirForTest(t), id+"_0.tmp.r8")
	if want := `{"audioDataType":"raw","sampleRate":8000,"file":"` + file + `"}`; play.h["_body"] != want {
		t.Fatalf("play body %q, want %q", play.h["_body"], want)
	}
	if got := mustRead(t, file); !slices.Equal(got, pcmBytes(pcm)) {
		t.Errorf("file holds %d bytes, not the %d decoded", len(got), 2*len(pcm))
	}
	p.sendText(t, streamAudioMsg(tone.GenerateN(660, 16000, 320, 8000), 16000))
	if b := l.wait("mod_audio_stream::play", 5*time.Second).h["_body"]; !strings.Contains(b, id+"_1.tmp.r16") || !strings.Contains(b, `"sampleRate":16000`) {
		t.Errorf("second play %q", b)
	}
	p.sendText(t, `{"hello":"world"}`)
	if b := l.wait("mod_audio_stream::json", 5*time.Second).h["_body"]; b != `{"hello":"world"}` {
		t.Errorf("json body %q", b)
	}
	p.sendText(t, `{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":11025,"audioData":"AAAA"}}`)
	if b := l.wait("mod_audio_stream::json", 5*time.Second).h["_body"]; !strings.Contains(b, "11025") {
		t.Errorf("an unsupported rate falls back to ::json with the text: %q", b)
	}

	// stop: close 1000 "Normal closure", MEDIA_BUG_STOP, no ::disconnect, files deleted.
	if r := body(l.api("uuid_audio_stream " + id + " stop")); r != "+OK Success\n" {
		t.Fatalf("stop %q", r)
	}
	if e := l.wait("MEDIA_BUG_STOP", 5*time.Second); e.h["Media-Bug-Function"] != "audio_stream" {
		t.Errorf("MEDIA_BUG_STOP %v", e.h["Media-Bug-Function"])
	}
	if ce := p.closeInfo(t); ce == nil || ce.Code != 1000 || ce.Text != "Normal closure" {
		t.Errorf("close %v, want 1000 Normal closure", ce)
	}
	l.none("mod_audio_stream::disconnect", 300*time.Millisecond)
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("stop leaves %s (the module deletes its files): %v", file, err)
	}
	frames := s.StreamFrames(id)
	time.Sleep(100 * time.Millisecond)
	if s.StreamFrames(id) != frames {
		t.Error("frames counted after stop")
	}
	if r := body(l.api("uuid_audio_stream " + id + " stop")); r != "-ERR Operation Failed\n" {
		t.Errorf("second stop %q", r)
	}
}

// tempDirForTest is the simulator's temp dir (made on first use).
func (s *Switch) tempDirForTest(t *testing.T) string {
	d, err := s.tempDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAudioStreamMono8kAsRecorded replays audio-stream-mono-8k: the
// channel's event sequence equals the recording's.
func TestAudioStreamMono8kAsRecorded(t *testing.T) {
	s := newSwitch(t, asRecorded(Options{}))
	l := newESLLog(t, s)
	w := newWSServer(t)
	id, err := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	if err != nil {
		t.Fatal(err)
	}
	l.api("uuid_answer " + id)
	l.api("uuid_setvar " + id + " STREAM_MESSAGE_DEFLATE true")
	l.api("uuid_setvar " + id + " STREAM_HEART_BEAT 15")
	l.api("uuid_audio_stream " + id + " start " + w.url + ` mono 8k {"call":"x"}`)
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	p.next(t) // metadata
	for i := 0; i < 10; i++ {
		if f := p.next(t); len(f.data) != 320 {
			t.Fatalf("mono 8k frame of %d bytes, want 320", len(f.data))
		}
	}
	p.sendText(t, streamAudioMsg(tone.GenerateN(660, 8000, 4000, 8000), 8000))
	play := l.wait("mod_audio_stream::play", 5*time.Second)
	file := play.h["_body"][strings.Index(play.h["_body"], `"file":"`)+8 : len(play.h["_body"])-2]
	// The lead is counted in media frames, the channel's own clock (a
	// loaded machine's media thread catches late frames up at once, so the
	// wall time of five frames can be shorter than 100 ms).
	sent := s.StreamFrames(id)
	if r := body(l.api("uuid_broadcast " + id + " " + file + " aleg")); r != "+OK Message sent\n" {
		t.Fatalf("broadcast %q", r)
	}
	ex := l.wait("CHANNEL_EXECUTE", 5*time.Second)
	if n := s.StreamFrames(id) - sent; n < 4 {
		t.Errorf("playback executed %d media frames after the broadcast; lead-frames 5 make it 5", n)
	}
	if ex.h["Application"] != "playback" || ex.h["Application-Data"] != file {
		t.Errorf("CHANNEL_EXECUTE %q %q", ex.h["Application"], ex.h["Application-Data"])
	}
	if e := l.wait("PLAYBACK_START", 5*time.Second); e.h["Playback-File-Path"] != file {
		t.Errorf("PLAYBACK_START path %q", e.h["Playback-File-Path"])
	}
	began := time.Now()
	stop := l.wait("PLAYBACK_STOP", 5*time.Second)
	if d := time.Since(began); d < 420*time.Millisecond || d > 700*time.Millisecond {
		t.Errorf("0.5 s file played in %v", d)
	}
	if stop.h["Playback-Status"] != "done" || stop.h["variable_playback_ms"] != "500" || stop.h["variable_playback_samples"] != "4000" {
		t.Errorf("PLAYBACK_STOP %q ms=%q samples=%q", stop.h["Playback-Status"], stop.h["variable_playback_ms"], stop.h["variable_playback_samples"])
	}
	if e := l.wait("CHANNEL_EXECUTE_COMPLETE", 5*time.Second); e.h["Application-Response"] != "FILE PLAYED" {
		t.Errorf("EXECUTE_COMPLETE %q", e.h["Application-Response"])
	}
	if e := l.wait("PRIVATE_COMMAND", 5*time.Second); e.h["execute-app-arg"] != file || e.h["lead-frames"] != "5" || e.h["variable_uuid"] != "" {
		t.Errorf("PRIVATE_COMMAND %v", e.h)
	}
	p.sendText(t, `{"hello":"world"}`)
	l.wait("mod_audio_stream::json", 5*time.Second)
	l.api("uuid_audio_stream " + id + " stop")
	l.wait("MEDIA_BUG_STOP", 5*time.Second)
	l.none("mod_audio_stream::disconnect", 200*time.Millisecond)
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("", 100*time.Millisecond)
	got, want := sequence(l.seen, id), recordedSequence(t, "audio-stream-mono-8k.jsonl")
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got  %v\n want %v", got, want)
	}
	checkHeaderNames(t, "audio-stream-mono-8k.jsonl", l.seen)
	// On the wire: reply, MEDIA_BUG_START|STOP, then the API event (fired
	// when the command returns), as recorded.
	wire := l.wireOrder()
	kinds := []string{"MEDIA_BUG_START", "MEDIA_BUG_STOP", "API"}
	for i, prefix := range []string{"uuid_audio_stream ", "uuid_audio_stream 06339eca-b552-47ba-bd51-6e66c39b4cde stop"} {
		want := recordedWireAfter(t, "audio-stream-mono-8k.jsonl", prefix, 2, kinds...)
		from := 0
		if i == 1 {
			from = slices.Index(wire, "MEDIA_BUG_START")
		}
		if got := wireAfter(wire[from:], "+OK Success\n", 2, kinds...); !slices.Equal(got, want) {
			t.Errorf("%s on the wire: got %q, want %q", prefix, got, want)
		}
	}
	if h := s.Heard(id); len(h) != 4000 || tone.EstimateFrequency(h, 8000) < 640 || tone.EstimateFrequency(h, 8000) > 680 {
		t.Errorf("Heard %d samples at %.0f Hz, want the 4000 of the 660 Hz file", len(h), tone.EstimateFrequency(h, 8000))
	}
	if pb := s.Playbacks(id); !slices.Equal(pb, []string{file}) {
		t.Errorf("Playbacks %v", pb)
	}
}

// TestAudioStreamDuringPlaybackAsRecorded replays
// audio-stream-during-playback: mono 16k keeps streaming while a WAV plays
// (barge-in), and a hangup closes the websocket with 1000 "Normal closure"
// and fires MEDIA_BUG_STOP inside the hangup sequence.
func TestAudioStreamDuringPlaybackAsRecorded(t *testing.T) {
	s := newSwitch(t, asRecorded(Options{}))
	l := newESLLog(t, s)
	w := newWSServer(t)
	wav := filepath.Join(t.TempDir(), "tone.wav")
	wavFile(t, wav, tone.GenerateN(1000, 8000, 8000, 8000), 8000) // 1 s, 1000 Hz (the recording: 6 s)
	id, _ := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	l.api("uuid_answer " + id)
	l.api("uuid_setvar " + id + " STREAM_MESSAGE_DEFLATE true")
	l.api("uuid_setvar " + id + " STREAM_HEART_BEAT 15")
	l.api("uuid_audio_stream " + id + " start " + w.url + " mono 16k {}")
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	if f := p.next(t); string(f.data) != "{}" {
		t.Fatalf("metadata %q", f.data)
	}
	if r := body(l.api("uuid_broadcast " + id + " " + wav + " aleg")); r != "+OK Message sent\n" {
		t.Fatalf("broadcast %q", r)
	}
	l.wait("PLAYBACK_START", 5*time.Second)
	startAt := time.Now()
	l.wait("PLAYBACK_STOP", 5*time.Second)
	stopAt := time.Now()
	l.wait("PRIVATE_COMMAND", 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("", 100*time.Millisecond)
	if ce := p.closeInfo(t); ce == nil || ce.Code != 1000 || ce.Text != "Normal closure" {
		t.Errorf("hangup close %v, want 1000 Normal closure", ce)
	}
	during := 0
	total := 0
	for _, f := range p.rest {
		total++
		if len(f.data) != 640 {
			t.Fatalf("frame of %d bytes", len(f.data))
		}
		if f.at.After(startAt) && f.at.Before(stopAt) {
			during++
		}
	}
	if want := int(stopAt.Sub(startAt) / media.FrameDur); during < want-5 {
		t.Errorf("%d frames during the %v playback, want ~%d: the caller keeps streaming", during, stopAt.Sub(startAt), want)
	}
	// At PLAYBACK_START two of the caller's frames come as zeros (the
	// websocket log: ≈0 at 2168 and 2188 ms, the tone's phase going on
	// after them).
	zero := 0
	for _, f := range p.rest {
		if !slices.ContainsFunc(f.data, func(c byte) bool { return c != 0 }) {
			zero++
		}
	}
	if zero != 2 {
		t.Errorf("%d frames of zeros, want the 2 after PLAYBACK_START", zero)
	}
	got, want := sequence(l.seen, id), recordedSequence(t, "audio-stream-during-playback.jsonl")
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got  %v\n want %v", got, want)
	}
	checkHeaderNames(t, "audio-stream-during-playback.jsonl", l.seen)
	_ = total
}

// TestAudioStreamErrorAsRecorded replays audio-stream-error: nothing
// listens, so ::error with the recorded body and MEDIA_BUG_STOP at once;
// stop then answers -ERR Operation Failed; no retry.
func TestAudioStreamErrorAsRecorded(t *testing.T) {
	s := newSwitch(t, asRecorded(Options{}))
	l := newESLLog(t, s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	id, _ := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	l.api("uuid_answer " + id)
	if r := l.api("uuid_audio_stream " + id + " start ws://" + addr + "/ mono 8k"); r != recordedAPIReply(t, "audio-stream-error.jsonl", "uuid_audio_stream ") {
		t.Fatalf("start %q", r)
	}
	e := l.wait("mod_audio_stream::error", 5*time.Second)
	if want := `{"status":"error","message":{"code":6,"error":"Connection refused (system error 111)"}}`; e.h["_body"] != want {
		t.Errorf("error body %q, want %q", e.h["_body"], want)
	}
	l.wait("MEDIA_BUG_STOP", 5*time.Second)
	l.none("mod_audio_stream::connect", 300*time.Millisecond)
	if r := l.api("uuid_audio_stream " + id + " stop"); r != recordedAPIReply(t, "audio-stream-error.jsonl", "uuid_audio_stream 06ab6529-2e87-4113-93cc-b42ff9698d5d stop") {
		t.Errorf("stop %q", r)
	}
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("", 100*time.Millisecond)
	got, want := sequence(l.seen, id), recordedSequence(t, "audio-stream-error.jsonl")
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got  %v\n want %v", got, want)
	}
	checkHeaderNames(t, "audio-stream-error.jsonl", l.seen)
}

// TestAudioStreamServerClose: the server's close frame → ::disconnect
// with its code and reason; the bug stays until stop, which fires no
// second event (audio-stream-stereo-16k).
func TestAudioStreamServerClose(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	l.api("uuid_audio_stream " + id + " start " + w.url + " mono 16k")
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	p.next(t) // audio: no metadata was given, so the first frame is binary
	p.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
	e := l.wait("mod_audio_stream::disconnect", 5*time.Second)
	if want := `{"status":"disconnected","message":{"code":1000,"reason":"bye"}}`; e.h["_body"] != want {
		t.Errorf("disconnect body %q, want %q", e.h["_body"], want)
	}
	if ce := p.closeInfo(t); ce == nil || ce.Code != 1000 {
		t.Errorf("the client echoes the close: %v", ce)
	}
	l.none("MEDIA_BUG_STOP", 200*time.Millisecond)
	if r := body(l.api("uuid_audio_stream " + id + " start " + w.url + " mono 16k")); r != "-ERR Operation Failed\n" {
		t.Errorf("start with the bug still attached: %q", r)
	}
	if r := body(l.api("uuid_audio_stream " + id + " stop")); r != "+OK Success\n" {
		t.Errorf("stop %q", r)
	}
	l.wait("MEDIA_BUG_STOP", 5*time.Second)
	l.none("mod_audio_stream::disconnect", 200*time.Millisecond)
}

// TestBreakStream: a lost connection is libwsc's IO error: ::error code 1
// and MEDIA_BUG_STOP, no ::disconnect; the stream is gone.
func TestBreakStream(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	if s.BreakStream(id) {
		t.Error("BreakStream without a stream")
	}
	l.api("uuid_audio_stream " + id + " start " + w.url + " mono 8k")
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	p.next(t)
	if !s.BreakStream(id) {
		t.Fatal("BreakStream false")
	}
	e := l.wait("mod_audio_stream::error", 5*time.Second)
	if want := `{"status":"error","message":{"code":1,"error":"Connection closed without WebSocket CLOSE (abnormal EOF)"}}`; e.h["_body"] != want {
		t.Errorf("error body %q", e.h["_body"])
	}
	l.wait("MEDIA_BUG_STOP", 5*time.Second)
	l.none("mod_audio_stream::disconnect", 200*time.Millisecond)
	if ce := p.closeInfo(t); ce != nil {
		t.Errorf("a broken connection sends no close frame: %v", ce)
	}
	if r := body(l.api("uuid_audio_stream " + id + " stop")); r != "-ERR Operation Failed\n" {
		t.Errorf("stop after the break %q", r)
	}
	// A new stream may start (no reconnect by itself, but the bug is free).
	if r := body(l.api("uuid_audio_stream " + id + " start " + w.url + " mono 8k")); r != "+OK Success\n" {
		t.Errorf("restart %q", r)
	}
	w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
}

// TestAudioStreamStereo16k: stereo frames (1280 B) only while something
// plays to the caller, left the caller, right the played file.
func TestAudioStreamStereo16k(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	l.api("uuid_audio_stream " + id + " start " + w.url + ` stereo 16k {"call":"x"}`)
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	p.next(t) // metadata
	time.Sleep(300 * time.Millisecond)
	if n := s.StreamFrames(id); n != 0 {
		t.Fatalf("%d stereo frames with nothing playing; the recording has none", n)
	}
	wav := filepath.Join(t.TempDir(), "t.wav")
	wavFile(t, wav, tone.GenerateN(1000, 16000, 8000, 8000), 16000) // 0.5 s at 16 kHz
	l.api("uuid_broadcast " + id + " " + wav + " aleg")
	l.wait("PLAYBACK_STOP", 5*time.Second)
	var left, right []int16
	n := 0
	for len(p.frames) > 0 {
		f := p.next(t)
		if len(f.data) != 1280 {
			t.Fatalf("stereo 16k frame of %d bytes, want 1280", len(f.data))
		}
		n++
		for i := 0; i+3 < len(f.data); i += 4 {
			left = append(left, int16(binary.LittleEndian.Uint16(f.data[i:])))
			right = append(right, int16(binary.LittleEndian.Uint16(f.data[i+2:])))
		}
	}
	if n < 23 || n > 27 {
		t.Errorf("%d frames for a 0.5 s playback, want 25", n)
	}
	if tone.PowerShare(left, 16000, 440) < 0.7 || tone.PowerShare(right, 16000, 1000) < 0.5 {
		t.Errorf("left %.2f at 440 Hz, right %.2f at 1000 Hz", tone.PowerShare(left, 16000, 440), tone.PowerShare(right, 16000, 1000))
	}
}

func TestAudioStreamArgs(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	usage := "-USAGE: <uuid> [start | stop | send_text | pause | resume | graceful-shutdown ] [wss-url | path] [mono | mixed | stereo] [8000 | 16000] [metadata]\n"
	for _, tc := range []struct{ args, want string }{
		{"", usage},
		{id, usage},
		{id + " start " + w.url, usage},
		{id + " start " + w.url + " quad 8k", "-ERR Operation Failed\n"},
		{id + " start " + w.url + " mono 11k", "-ERR Operation Failed\n"},
		{id + " start " + w.url + " mono abc", "-ERR Operation Failed\n"},
		{id + " start http://127.0.0.1:1/ mono 8k", "-ERR Operation Failed\n"},
		{id + " start ws://127.0.0.1:8080?x=1 mono 8k", "-ERR Operation Failed\n"}, // a query needs a path
		{id + " start ws://under_score/ mono 8k", "-ERR Operation Failed\n"},
		{"no-such-uuid start " + w.url + " mono 8k", "-ERR Operation Failed\n"},
		{id + " dance", "-ERR Operation Failed\n"},
		{id + " pause", "-ERR Operation Failed\n"},
		{id + " start " + w.url + " mono 16k", "+OK Success\n"},
		{id + " start " + w.url + " mono 16k", "-ERR Operation Failed\n"}, // one stream per channel
		{id + " pause", "+OK Success\n"},
		{id + " resume", "+OK Success\n"},
	} {
		if got := body(l.api("uuid_audio_stream " + tc.args)); got != tc.want {
			t.Errorf("uuid_audio_stream %s: %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestHangupDuringConnectLeavesNothing(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	l.api("uuid_audio_stream " + id + " start " + w.url + " mono 16k")
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("mod_audio_stream::connect", 300*time.Millisecond)
	if s.Close() != nil {
		t.Fatal("close")
	}
}

// TestAudioStreamStereo16kAsRecorded replays audio-stream-stereo-16k:
// stereo frames only during the playbacks, a long file broken by
// uuid_break all, the server's close → ::disconnect, the bug kept until
// stop; event sequence and header names as recorded.
func TestAudioStreamStereo16kAsRecorded(t *testing.T) {
	s := newSwitch(t, asRecorded(Options{}))
	l := newESLLog(t, s)
	w := newWSServer(t)
	long := filepath.Join(t.TempDir(), "long_tone_12s.wav")
	wavFile(t, long, tone.GenerateN(800, 8000, 8000*12, 8000), 8000)
	id, _ := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	l.api("uuid_answer " + id)
	l.api("uuid_setvar " + id + " STREAM_MESSAGE_DEFLATE true")
	l.api("uuid_setvar " + id + " STREAM_HEART_BEAT 15")
	if r := l.api("uuid_audio_stream " + id + " start " + w.url + ` stereo 16k {"call":"x"}`); r != recordedAPIReply(t, "audio-stream-stereo-16k.jsonl", "uuid_audio_stream ") {
		t.Fatalf("start %q", r)
	}
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	p.sendText(t, streamAudioMsg(tone.GenerateN(660, 8000, 4000, 8000), 8000))
	play := l.wait("mod_audio_stream::play", 5*time.Second).h["_body"]
	file := play[strings.Index(play, `"file":"`)+8 : len(play)-2]
	l.api("uuid_broadcast " + id + " " + file + " aleg")
	l.wait("PRIVATE_COMMAND", 5*time.Second)
	p.sendText(t, `{"hello":"world"}`)
	l.wait("mod_audio_stream::json", 5*time.Second)
	l.api("uuid_broadcast " + id + " " + long + " aleg")
	l.wait("PLAYBACK_START", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	l.api("uuid_break " + id + " all")
	if e := l.wait("PLAYBACK_STOP", 5*time.Second); e.h["Playback-Status"] != "break" {
		t.Errorf("status %q", e.h["Playback-Status"])
	}
	l.wait("PRIVATE_COMMAND", 5*time.Second)
	p.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
	l.wait("mod_audio_stream::disconnect", 5*time.Second)
	if r := l.api("uuid_audio_stream " + id + " stop"); r != recordedAPIReply(t, "audio-stream-stereo-16k.jsonl", "uuid_audio_stream 5337436d-7297-405f-8715-bada535e15a7 stop") {
		t.Errorf("stop %q", r)
	}
	l.wait("MEDIA_BUG_STOP", 5*time.Second)
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("", 100*time.Millisecond)
	got, want := sequence(l.seen, id), recordedSequence(t, "audio-stream-stereo-16k.jsonl")
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got  %v\n want %v", got, want)
	}
	checkHeaderNames(t, "audio-stream-stereo-16k.jsonl", l.seen)
	p.closeInfo(t)
	if f := p.rest[0]; f.typ != websocket.TextMessage || string(f.data) != `{"call":"x"}` {
		t.Errorf("first frame %q", f.data)
	}
	frames := p.rest[1:]
	for _, f := range frames {
		if len(f.data) != 1280 {
			t.Fatalf("frame of %d bytes", len(f.data))
		}
	}
	// 0.5 s of streamAudio playback + ~0.3 s of the long file: ~40 frames
	// (the recording: 102 for 0.5 s + 1.5 s), none while nothing played.
	if n := len(frames); n < 32 || n > 48 {
		t.Errorf("%d stereo frames, want ~40", n)
	}
}

// TestTempDirOption: streamAudio files go to Options.TempDir, which Close
// leaves in place; Restart ends the streams like a dying switch.
func TestTempDirOption(t *testing.T) {
	dir := t.TempDir()
	s := newSwitch(t, Options{TempDir: dir})
	l := newESLLog(t, s)
	w := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	l.api("uuid_audio_stream " + id + " start " + w.url + " mono 8k")
	p := w.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	p.sendText(t, `{"type":"streamAudio","data":{"audioDataType":"wav","audioData":"UklGRg=="}}`)
	b := l.wait("mod_audio_stream::play", 5*time.Second).h["_body"]
	file := filepath.Join(dir, id+"_0.tmp.wav")
	if b != `{"audioDataType":"wav","file":"`+file+`"}` {
		t.Errorf("play body %q", b)
	}
	if got := string(mustRead(t, file)); got != "RIFF" {
		t.Errorf("file %q", got)
	}
	s.Restart()
	if ce := p.closeInfo(t); ce == nil || ce.Code != 1000 {
		t.Errorf("restart: close %v", ce)
	}
	if len(s.Channels()) != 0 {
		t.Error("channels survive Restart")
	}
	s.Close()
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("Close removed the given TempDir: %v", err)
	}
}

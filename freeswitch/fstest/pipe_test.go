package fstest

import (
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/media"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// encodeG711 encodes pcm with the code whose decoding (dec: audiofile.ULaw or audiofile.ALaw)
// is nearest, so decoding the result gives what a switch plays.
func encodeG711(pcm []int16, dec func(byte) int16) []byte {
	out := make([]byte, len(pcm))
	for i, v := range pcm {
		best, bestD := 0, 1<<30
		for c := 0; c < 256; c++ {
			if d := abs(int(dec(byte(c))) - int(v)); d < bestD {
				best, bestD = c, d
			}
		}
		out[i] = byte(best)
	}
	return out
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func decodeG711(b []byte, dec func(byte) int16) []int16 {
	out := make([]int16, len(b))
	for i, c := range b {
		out[i] = dec(c)
	}
	return out
}

// pipeWriter is the writer side of a named pipe as sipbridge holds it:
// mkfifo, opened O_RDWR|O_NONBLOCK before the broadcast.
type pipeWriter struct {
	t    *testing.T
	path string
	fd   int

	mu      sync.Mutex
	written []byte
}

func newPipe(t *testing.T, name string) *pipeWriter {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := &pipeWriter{t: t, path: path, fd: fd}
	t.Cleanup(w.close)
	return w
}

func (w *pipeWriter) write(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return
	}
	for len(b) > 0 {
		n, err := syscall.Write(w.fd, b)
		if err != nil {
			w.t.Errorf("write to the pipe: %v", err)
			return
		}
		w.written = append(w.written, b[:n]...)
		b = b[n:]
	}
}

func (w *pipeWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd >= 0 {
		syscall.Close(w.fd)
		w.fd = -1
	}
}

func (w *pipeWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.written)
}

// feed writes data from sent on, paced in real time, lead ahead of the
// clock (20 ms frames of 160 bytes), as the controller writes the
// assistant's audio.
func (w *pipeWriter) feed(data []byte, sent int, lead time.Duration) {
	start := time.Now()
	for sent < len(data) {
		due := min(len(data), int((time.Since(start)+lead)/media.FrameDur)*media.Samples8k)
		if due > sent {
			w.write(data[sent:due])
			sent = due
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPipePlaybackFed: uuid_broadcast of a FIFO named .PCMU plays what a
// writer keeps feeding it, frame by frame, until the writer closes it:
// PLAYBACK_START with the pipe's path, no stall, the caller hears exactly
// the bytes written, in order, with no gap; EOF → PLAYBACK_STOP done and
// FILE PLAYED.
func TestPipePlaybackFed(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	w := newPipe(t, id+".PCMU")
	audio := encodeG711(tone.GenerateN(1000, 8000, 12000, 8000), audiofile.ULaw) // 1.5 s
	lead := 400 * time.Millisecond                                               // well ahead: a loaded test machine must not stall it
	pre := int(lead/media.FrameDur) * media.Samples8k
	w.write(audio[:pre])
	if r := body(l.api("uuid_broadcast " + id + " " + w.path + " aleg")); r != "+OK Message sent\n" {
		t.Fatalf("broadcast %q", r)
	}
	if e := l.wait("PLAYBACK_START", 5*time.Second); e.h["Playback-File-Path"] != w.path {
		t.Errorf("PLAYBACK_START %q", e.h["Playback-File-Path"])
	}
	w.feed(audio, pre, lead)
	l.none("PLAYBACK_STOP", 200*time.Millisecond) // the writer is still there
	w.close()
	stop := l.wait("PLAYBACK_STOP", 5*time.Second)
	if stop.h["Playback-Status"] != "done" || stop.h["Playback-File-Path"] != w.path {
		t.Errorf("PLAYBACK_STOP %q %q", stop.h["Playback-Status"], stop.h["Playback-File-Path"])
	}
	if got := stop.h["variable_playback_samples"]; got != strconv.Itoa(len(audio)) {
		t.Errorf("playback_samples %s, want %d", got, len(audio))
	}
	if e := l.wait("CHANNEL_EXECUTE_COMPLETE", 5*time.Second); e.h["Application-Response"] != "FILE PLAYED" {
		t.Errorf("response %q", e.h["Application-Response"])
	}
	l.wait("PRIVATE_COMMAND", 5*time.Second)
	if n := s.PlaybackStalls(id); n != 0 {
		t.Errorf("%d stalls with a writer %v ahead", n, lead)
	}
	h, want := s.Heard(id), decodeG711(w.bytes(), audiofile.ULaw)
	if len(want) != len(audio) || !slices.Equal(h, want) {
		t.Fatalf("heard %d samples, want exactly the %d written (%d bytes)", len(h), len(want), len(audio))
	}
	if f := tone.EstimateFrequency(h, 8000); f < 980 || f > 1020 {
		t.Errorf("heard %.0f Hz", f)
	}
	if !slices.Equal(s.Playbacks(id), []string{w.path}) {
		t.Errorf("Playbacks %v", s.Playbacks(id))
	}
}

// TestPipePlaybackStall: a writer that pauses longer than what it had
// queued leaves frames the pipe cannot fill: each is a stall (a real
// switch blocks the channel there), played as silence; then the audio
// goes on where it was.
func TestPipePlaybackStall(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	w := newPipe(t, id+".PCMU")
	first := encodeG711(tone.GenerateN(1000, 8000, 800, 8000), audiofile.ULaw)  // 100 ms
	second := encodeG711(tone.GenerateN(600, 8000, 1600, 8000), audiofile.ULaw) // 200 ms
	w.write(first)
	l.api("uuid_broadcast " + id + " " + w.path + " aleg")
	l.wait("PLAYBACK_START", 5*time.Second)
	time.Sleep(500 * time.Millisecond) // the 100 ms are long gone
	w.write(second)
	w.close()
	l.wait("PLAYBACK_STOP", 5*time.Second)
	n := s.PlaybackStalls(id)
	if n < 10 {
		t.Errorf("%d stalls for a writer 400 ms late, want ~20", n)
	}
	h := s.Heard(id)
	if len(h) != 800+n*media.Samples8k+1600 {
		t.Fatalf("heard %d samples, want 800 + %d stalls × 160 + 1600", len(h), n)
	}
	if !slices.Equal(h[:800], decodeG711(first, audiofile.ULaw)) || !slices.Equal(h[len(h)-1600:], decodeG711(second, audiofile.ULaw)) {
		t.Error("the audio around the stall is not what was written")
	}
	if slices.ContainsFunc(h[800:len(h)-1600], func(v int16) bool { return v != 0 }) {
		t.Error("a stalled frame is not silence")
	}
}

// TestPipePlaybackBreak: uuid_break stops a pipe like a file (PLAYBACK_STOP
// break, FILE PLAYED) while the writer still holds it.
func TestPipePlaybackBreak(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	w := newPipe(t, id+".PCMU")
	w.write(encodeG711(tone.GenerateN(1000, 8000, 8000, 8000), audiofile.ULaw))
	l.api("uuid_broadcast " + id + " " + w.path + " aleg")
	l.wait("PLAYBACK_START", 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	l.api("uuid_break " + id + " all")
	if e := l.wait("PLAYBACK_STOP", 5*time.Second); e.h["Playback-Status"] != "break" || e.h["Playback-File-Path"] != w.path {
		t.Errorf("PLAYBACK_STOP %q %q", e.h["Playback-Status"], e.h["Playback-File-Path"])
	}
	if e := l.wait("CHANNEL_EXECUTE_COMPLETE", 5*time.Second); e.h["Application-Response"] != "FILE PLAYED" {
		t.Errorf("response %q", e.h["Application-Response"])
	}
	if h := s.Heard(id); len(h) == 0 || len(h) >= 8000 {
		t.Errorf("heard %d samples of 1 s broken after ~0.2 s", len(h))
	}
	if n := s.PlaybackStalls(id); n != 0 {
		t.Errorf("%d stalls", n)
	}
}

// TestNativeFilePlayback: a regular .PCMA (or .PCMU) file is a native file
// too: raw G.711 at 8 kHz, played to its end.
func TestNativeFilePlayback(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	path := filepath.Join(t.TempDir(), "a.PCMA")
	audio := encodeG711(tone.GenerateN(800, 8000, 4000, 8000), audiofile.ALaw)
	writeBytes(t, path, audio)
	l.api("uuid_broadcast " + id + " " + path + " aleg")
	l.wait("PLAYBACK_START", 5*time.Second)
	if e := l.wait("PLAYBACK_STOP", 5*time.Second); e.h["Playback-Status"] != "done" || e.h["variable_playback_samples"] != "4000" {
		t.Errorf("PLAYBACK_STOP %q, %q samples", e.h["Playback-Status"], e.h["variable_playback_samples"])
	}
	if h := s.Heard(id); !slices.Equal(h, decodeG711(audio, audiofile.ALaw)) {
		t.Errorf("heard %d samples, want the file's 4000", len(h))
	}
	if n := s.PlaybackStalls(id); n != 0 {
		t.Errorf("%d stalls on a regular file", n)
	}
}

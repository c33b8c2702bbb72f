package fstest

import (
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// queued is FIONREAD on the pipe: the bytes waiting in it.
func (w *pipeWriter) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(w.fd), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
		w.t.Fatal(e)
	}
	return int(n)
}

// TestPipeReadAll: as a real switch does (read(fd, buf, 32768)), the
// channel takes everything the pipe holds into its own buffer, so the
// writer's FIONREAD reads 0 once the playback runs, though a second of
// audio is still to be played.
func TestPipeReadAll(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	w := newPipe(t, id+".PCMU")
	w.write(encodeG711(tone.GenerateN(1000, 8000, 9600, 8000), audiofile.ULaw)) // 1.2 s
	if n := w.queued(); n != 9600 {
		t.Fatalf("FIONREAD %d before the playback", n)
	}
	l.api("uuid_broadcast " + id + " " + w.path + " aleg")
	l.wait("PLAYBACK_START", 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := w.queued(); n != 0 {
		t.Errorf("FIONREAD %d once playing, want 0: the channel read it all", n)
	}
	l.none("PLAYBACK_STOP", 500*time.Millisecond)
	w.close()
	l.wait("PLAYBACK_STOP", 5*time.Second)
	if h := s.Heard(id); len(h) != 9600 {
		t.Errorf("heard %d samples, want 9600", len(h))
	}
	if n := s.PlaybackStalls(id); n != 0 {
		t.Errorf("%d stalls", n)
	}
}

// TestPipePlaybackHeld: a pipe that runs empty while its writer holds it
// open (a writer frozen, not gone) holds the channel's session thread in
// its read, as on the real switch (e2e replica_failover, frozen): the
// stream gets no caller audio, even one started meanwhile, and
// uuid_break is not seen. Once a byte comes, the break ends the playback
// and the caller's audio flows again. uuid_buglist lists the bugs as
// switch_core_media_bug_enumerate does; a stop takes the stream's off at
// once.
func TestPipePlaybackHeld(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	ws := newWSServer(t)
	id := answeredCall(t, s, l, InboundCall{})
	w := newPipe(t, id+".PCMU")
	w.write(encodeG711(tone.GenerateN(1000, 8000, 800, 8000), audiofile.ULaw)) // 100 ms
	l.api("uuid_audio_stream " + id + " start " + ws.url + " mono 8k")
	ws.accept(t)
	l.wait("mod_audio_stream::connect", 5*time.Second)
	want := "<media-bugs>\n <media-bug>\n  <function>audio_stream</function>\n  <target>N/A</target>\n  <thread-locked>0</thread-locked>\n </media-bug>\n</media-bugs>\n"
	if got := body(l.api("uuid_buglist " + id)); got != want {
		t.Errorf("uuid_buglist %q, want %q", got, want)
	}
	l.api("uuid_broadcast " + id + " " + w.path + " aleg")
	l.wait("PLAYBACK_START", 5*time.Second)
	time.Sleep(300 * time.Millisecond) // the 100 ms are played, the pipe is empty
	held := s.StreamFrames(id)
	l.api("uuid_audio_stream " + id + " stop")
	if got := body(l.api("uuid_buglist " + id)); got != "<media-bugs>\n</media-bugs>\n" {
		t.Errorf("uuid_buglist after the stop %q", got)
	}
	l.api("uuid_audio_stream " + id + " start " + ws.url + " mono 8k")
	ws.accept(t)
	l.api("uuid_break " + id + " all")
	l.none("PLAYBACK_STOP", 300*time.Millisecond)
	if n := s.StreamFrames(id); n != held {
		t.Errorf("%d caller frames streamed while the pipe held the channel", n-held)
	}
	if n := s.PlaybackStalls(id); n < 10 {
		t.Errorf("%d stalls while held", n)
	}
	w.write(encodeG711(tone.GenerateN(1000, 8000, 160, 8000), audiofile.ULaw))
	if e := l.wait("PLAYBACK_STOP", 5*time.Second); e.h["Playback-Status"] != "break" {
		t.Errorf("PLAYBACK_STOP %q", e.h["Playback-Status"])
	}
	if !s.WaitFor(func() bool { return s.StreamFrames(id) >= held+10 }, 5*time.Second) {
		t.Errorf("the caller's audio did not flow again: %d frames", s.StreamFrames(id)-held)
	}
	if got := body(l.api("uuid_buglist 7b7cb2a4-0000-4000-8000-000000000000")); got != "-ERR no reply\n" { // nothing written
		t.Errorf("uuid_buglist of no channel %q", got)
	}
}

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

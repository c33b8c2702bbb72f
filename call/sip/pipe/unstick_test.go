//go:build linux

package pipe

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// frozenPipe is a playback pipe as a frozen sipbridge leaves it: made,
// held open for reading and writing, empty. reader, when started, reads
// it as a channel's playback does until told to stop (its break).
func frozenPipe(t *testing.T, name string) (path string, fd int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), name)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return path, fd
}

// channel reads the pipe every 20 ms until stop is set, counting the bytes.
func channel(t *testing.T, path string, stop *atomic.Bool, read *atomic.Int64) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Error(err)
		return
	}
	t.Cleanup(func() { syscall.Close(fd) })
	go func() {
		buf := make([]byte, 32768)
		for !stop.Load() {
			if n, _ := syscall.Read(fd, buf); n > 0 {
				read.Add(int64(n))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

func TestUnstickFeedsUntilTheChannelLetsGo(t *testing.T) {
	path, fd := frozenPipe(t, "call.PCMA")
	var stop atomic.Bool
	var read atomic.Int64
	channel(t, path, &stop, &read)
	time.AfterFunc(200*time.Millisecond, func() { stop.Store(true) }) // the break, seen once a read returned
	fed, err := Unstick(path, 2*time.Second)
	if err != nil || fed < 200*time.Millisecond || fed > time.Second {
		t.Fatalf("Unstick: fed %v, %v; want about 260 ms (until the channel stopped reading)", fed, err)
	}
	if read.Load() == 0 {
		t.Fatal("the channel read nothing")
	}
	left := make([]byte, 4096)
	n, _ := syscall.Read(fd, left)
	if n < 480 {
		t.Fatalf("%d bytes left in the pipe, want at least 60 ms", n)
	}
	for _, c := range left[:n] {
		if c != 0xD5 {
			t.Fatalf("fed %#x, want A-law silence", c)
		}
	}
}

func TestUnstickGivesUpOnAChannelThatKeepsReading(t *testing.T) {
	path, _ := frozenPipe(t, "call.PCMU")
	var stop atomic.Bool
	var read atomic.Int64
	channel(t, path, &stop, &read)
	defer stop.Store(true)
	// A reader starved for 60 ms by a loaded machine looks like a channel
	// that let go: three tries, one of which must see it read throughout.
	var fed time.Duration
	var err error
	for range 3 {
		if fed, err = Unstick(path, 300*time.Millisecond); errors.Is(err, ErrStillRead) {
			break
		}
	}
	if !errors.Is(err, ErrStillRead) || fed < 300*time.Millisecond {
		t.Fatalf("Unstick: fed %v, %v; want ErrStillRead after 300 ms", fed, err)
	}
}

// What is not a frozen process's pipe is left alone at once: a pipe nobody
// reads (its process died, the channel closed it), an empty file (a
// process that let go), another format, no file.
func TestUnstickLeavesOtherPathsAlone(t *testing.T) {
	dir := t.TempDir()
	unread := filepath.Join(dir, "unread.PCMU")
	if err := syscall.Mkfifo(unread, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "closed.PCMU")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wav, _ := frozenPipe(t, "hold.wav")
	for _, p := range []string{unread, empty, wav, filepath.Join(dir, "gone.PCMU"), "tone_stream://%(300,0,440)"} {
		if fed, err := Unstick(p, time.Second); fed != 0 || err != nil {
			t.Errorf("Unstick(%s): fed %v, %v; want 0, nil", p, fed, err)
		}
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("the empty file was written: %v, %v", fi, err)
	}
}

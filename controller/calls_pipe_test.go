//go:build linux

package controller

import (
	"bytes"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
)

// channelReader plays a pipe the way FreeSWITCH's switch_ivr_play_file does
// with mod_native_file: every 20 ms the channel sends one 160-byte frame to
// the caller; when it holds one frame or less it reads everything the pipe
// has. A read of an empty pipe is a stall (the real read() would block the
// channel's media thread); a frame the read could not fill is played
// padded with silence (short).
type channelReader struct {
	mu     sync.Mutex
	frames [][]byte // what the caller heard, frame by frame
	at     []time.Time
	stalls int
	short  int
	stop   chan struct{}
	done   chan struct{}
}

func startChannelReader(t *testing.T, path string) *channelReader {
	t.Helper()
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &channelReader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer syscall.Close(fd)
		var buf []byte
		tmp := make([]byte, 32<<10)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case now := <-tick.C:
				stalled := false
				if len(buf) <= 160 {
					n, _ := syscall.Read(fd, tmp)
					if n > 0 {
						buf = append(buf, tmp[:n]...)
					} else if len(buf) < 160 {
						stalled = true
					}
				}
				r.mu.Lock()
				if stalled {
					r.stalls++
				} else {
					if len(buf) < 160 {
						r.short++
						buf = append(buf, bytes.Repeat([]byte{assistant.MulawSilence}, 160-len(buf))...)
					}
					r.frames = append(r.frames, append([]byte(nil), buf[:160]...))
					r.at = append(r.at, now)
					buf = buf[160:]
				}
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { r.close() })
	return r
}

func (r *channelReader) close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// toneWindows returns, per 10 ms heard, whether it carries the tone, and
// when (the time its frame was played).
func (r *channelReader) toneWindows() ([]bool, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []bool
	var at []time.Time
	pcm := make([]int16, 80)
	for i, f := range r.frames {
		for h := 0; h < 2; h++ {
			assistant.MulawDecode(pcm, f[h*80:(h+1)*80])
			out = append(out, assistant.RMS(pcm) > 1000)
			at = append(at, r.at[i])
		}
	}
	return out, at
}

// oneRun checks that the tone was heard as one run of want 10 ms windows
// (±1 for a run that does not start on a window boundary) and returns its
// last window.
func oneRun(t *testing.T, on []bool, want int) int {
	t.Helper()
	first, last := -1, -1
	for i, v := range on {
		if v {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		t.Fatal("the tone was never heard")
	}
	for i := first; i <= last; i++ {
		if !on[i] {
			t.Fatalf("silence at %d ms inside the reply (tone from %d to %d ms)", (i-first)*10, 0, (last-first+1)*10)
		}
	}
	if n := last - first + 1; n < want || n > want+1 {
		t.Errorf("tone heard for %d ms, want %d ms", n*10, want*10)
	}
	return last
}

func newTestPipe(t *testing.T, codec string) (*pipePlayer, chan struct{}) {
	t.Helper()
	wake := make(chan struct{}, 64)
	p, err := newPipePlayer(t.TempDir(), "call-1", codec, slog.New(slog.DiscardHandler), func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, wake
}

func ulawTone(ms int) []byte {
	pcm := assistant.GenerateTone(1000, 8000, ms, 12000)
	out := make([]byte, len(pcm))
	assistant.MulawEncode(out, pcm)
	return out
}

// A reply sent all at once (a burst far ahead of real time) is heard as one
// uninterrupted run of its length, the channel never waits on the pipe, and
// the mark sent after it comes back only once its last frame was heard.
func TestPipePlaysBurstGaplesslyAndMarksWhenHeard(t *testing.T) {
	p, wake := newTestPipe(t, "PCMU")
	r := startChannelReader(t, p.path)
	time.Sleep(100 * time.Millisecond) // silence before the reply

	p.Write(ulawTone(1000))
	p.Mark("end-of-reply")
	var markAt time.Time
	deadline := time.After(3 * time.Second)
	for markAt.IsZero() {
		select {
		case <-wake:
			for _, m := range p.Due() {
				if m == "end-of-reply" {
					markAt = time.Now()
				}
			}
		case <-deadline:
			t.Fatal("mark never echoed")
		}
	}
	if !p.Idle() {
		t.Error("audio heard to its end, yet the player is not idle")
	}
	time.Sleep(100 * time.Millisecond)
	r.close()

	tone, at := r.toneWindows()
	last := oneRun(t, tone, 100)
	if r.stalls != 0 || r.short != 0 {
		t.Errorf("the channel waited on the pipe %d times and played %d short frames", r.stalls, r.short)
	}
	if markAt.Before(at[last]) {
		t.Errorf("mark echoed %v before the last tone frame was heard", at[last].Sub(markAt))
	}
	if late := markAt.Sub(at[last]); late > 150*time.Millisecond {
		t.Errorf("mark echoed %v after the reply ended", late)
	}
}

// Audio sent in real time, 20 ms at a time, is heard without gaps either.
func TestPipePlaysRealTimeSenderGaplessly(t *testing.T) {
	p, _ := newTestPipe(t, "PCMU")
	r := startChannelReader(t, p.path)
	tone := ulawTone(1000)
	next := time.Now()
	for off := 0; off < len(tone); off += 160 {
		time.Sleep(time.Until(next))
		p.Write(tone[off : off+160])
		next = next.Add(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	r.close()
	on, _ := r.toneWindows()
	oneRun(t, on, 100)
	if r.stalls != 0 || r.short != 0 {
		t.Errorf("the channel waited on the pipe %d times and played %d short frames", r.stalls, r.short)
	}
}

// clear (barge-in) silences the caller within 100 ms and returns the
// pending marks at once.
func TestPipeClearSilencesWithin100ms(t *testing.T) {
	p, _ := newTestPipe(t, "PCMU")
	r := startChannelReader(t, p.path)
	p.Write(ulawTone(3000))
	p.Mark("m1")
	time.Sleep(500 * time.Millisecond)
	clearAt := time.Now()
	if marks := p.Clear(); len(marks) != 1 || marks[0] != "m1" {
		t.Fatalf("Clear returned marks %v, want [m1]", marks)
	}
	time.Sleep(300 * time.Millisecond)
	r.close()
	on, at := r.toneWindows()
	lastTone := time.Time{}
	for i, v := range on {
		if v {
			lastTone = at[i]
		}
	}
	if lastTone.IsZero() {
		t.Fatal("no tone heard before the clear")
	}
	if d := lastTone.Sub(clearAt); d > 100*time.Millisecond {
		t.Errorf("tone still heard %v after the clear", d)
	}
	if !p.Idle() {
		t.Error("player not idle after a clear")
	}
}

// A PCMA channel gets A-law: the pipe is named .PCMA and its silence and
// tone are A-law codes.
func TestPipeSpeaksALawToPCMAChannels(t *testing.T) {
	p, _ := newTestPipe(t, "pcma")
	if got := p.path[len(p.path)-5:]; got != ".PCMA" {
		t.Fatalf("pipe %s, want a .PCMA name", p.path)
	}
	fd, err := syscall.Open(p.path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	buf := make([]byte, 4096)
	n, _ := syscall.Read(fd, buf)
	if n == 0 || buf[0] != assistant.AlawSilence {
		t.Fatalf("idle pipe holds %x, want A-law silence", buf[:n])
	}
	if _, err := newPipePlayer(t.TempDir(), "c2", "G722", slog.New(slog.DiscardHandler), func() {}); err == nil {
		t.Fatal("a G722 channel must not get a pipe (its bytes would be played as noise)")
	}
}

// Close removes the pipe; FreeSWITCH's reader then reads EOF.
func TestPipeCloseEndsPlayback(t *testing.T) {
	p, _ := newTestPipe(t, "PCMU")
	fd, err := syscall.Open(p.path, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	p.Close()
	if _, err := os.Stat(p.path); !os.IsNotExist(err) {
		t.Fatalf("pipe still there after Close: %v", err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return // EOF: the playback ends
		}
	}
}

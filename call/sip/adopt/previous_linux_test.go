//go:build linux

package adopt

import (
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
)

// Only the call's own pipe is fed silence (named after the call, in any
// replica's PLAYBACK_DIR): a pipe of another name the channel plays is
// left alone.
func TestStopPreviousFeedsOnlyTheCallsPipe(t *testing.T) {
	dir := t.TempDir()
	for name, want := range map[string]bool{"c1.PCMU": true, "c2.PCMU": false, "c1.wav": false} {
		path := filepath.Join(dir, name)
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0) // the channel's playback
		if err != nil {
			t.Fatal(err)
		}
		StopPrevious(&prevSwitch{playing: path}, "u1", "c1", slog.New(slog.DiscardHandler))
		n, _ := syscall.Read(fd, make([]byte, 4096))
		_ = syscall.Close(fd)
		if fed := n > 0; fed != want {
			t.Errorf("%s: fed %v (%d bytes), want %v", name, fed, n, want)
		}
	}
}

package fstest

import (
	"errors"
	"os"
	"syscall"
)

// Native files: a .PCMU or .PCMA path (G.711 at 8 kHz, one byte a sample,
// no header) is opened by mod_native_file and read as the playback goes,
// so it may be a named pipe a writer keeps feeding. What a real switch did
// with a FIFO (strace of FreeSWITCH 1.11.1, the writer holding it open
// O_RDWR|O_NONBLOCK):
//
//   - open(path, O_RDONLY), "Opening File [<path>] 8000hz";
//   - read(fd, buf, 32768): the channel takes all the pipe holds into its
//     own buffer (switch_core_file_read's pre_buffer) and plays 160 bytes a
//     frame from it, reading again when at most one frame is left — with a
//     writer keeping 320 bytes in the pipe it read 320 every 40 ms, so the
//     writer's FIONREAD mostly reads 0 right after a read;
//   - an empty pipe while a writer holds it open: read blocks, and with it
//     the channel's media thread (a stall: no frame is played, read or
//     recorded until data comes; a 300 ms pause of the writer stopped the
//     caller's frames to mod_audio_stream for ~300 ms and lost them);
//   - every writer closed: what was read plays out, read returns 0, then
//     PLAYBACK_STOP (done).
//
// The simulator reads the same way without blocking: a frame the buffer
// and the pipe cannot fill while a writer is there is a stall, counted
// (Switch.PlaybackStalls) and padded with silence. A FIFO nobody holds
// open for writing reads as ended at once (a real switch would block in
// open until a writer comes).

// nativeReadSize is the read FreeSWITCH makes on a native file.
const nativeReadSize = 32768

// nativeFile is a native file being played.
type nativeFile struct {
	fd   int
	alaw bool
	buf  []byte // read from the file, not played yet
	eof  bool
}

// openNative opens a native file (regular or FIFO) for playback.
func openNative(path string, alaw bool) (*nativeFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() && fi.Mode()&os.ModeNamedPipe == 0 {
		return nil, errAudioFormat
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &nativeFile{fd: fd, alaw: alaw}, nil
}

// isFIFO reports whether path is a named pipe.
func isFIFO(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeNamedPipe != 0
}

// fill is the channel's read: everything there is, up to nativeReadSize.
func (n *nativeFile) fill() {
	tmp := make([]byte, nativeReadSize)
	for {
		k, err := syscall.Read(n.fd, tmp)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			// A writer is there, the pipe is empty.
		case err != nil || k == 0:
			n.eof = true
		default:
			n.buf = append(n.buf, tmp[:k]...)
		}
		return
	}
}

// frame returns the next 20 ms as 8 kHz samples and the bytes of the file
// in it; stalled when the file could not fill the frame while a writer is
// still there (padded with silence); done at the end (nothing played).
func (n *nativeFile) frame() (out []int16, used int, stalled, done bool) {
	if len(n.buf) <= samples8k && !n.eof {
		n.fill()
	}
	if len(n.buf) == 0 && n.eof {
		return nil, 0, false, true
	}
	used = min(len(n.buf), samples8k)
	out = make([]int16, samples8k)
	for i, c := range n.buf[:used] {
		if n.alaw {
			out[i] = alaw(c)
		} else {
			out[i] = ulaw(c)
		}
	}
	n.buf = n.buf[used:]
	return out, used, used < samples8k && !n.eof, false
}

func (n *nativeFile) close() {
	if n.fd >= 0 {
		syscall.Close(n.fd)
		n.fd = -1
	}
}

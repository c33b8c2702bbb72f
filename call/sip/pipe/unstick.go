package pipe

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/audio"
)

var (
	errNotPipe  = errors.New("not a named pipe")
	errNoReader = errors.New("nobody reads the pipe")
	// ErrStillRead: Unstick fed the pipe its whole time and the channel
	// still read it (its playback was not broken).
	ErrStillRead = errors.New("the channel still reads the playback pipe")
)

// Unstick frees a channel held in the read of a playback pipe that another
// process made and still holds open without writing into it: a previous
// sipbridge frozen (a stalled VM) while its call is adopted. FreeSWITCH's
// read of the empty pipe blocks the channel's media thread, so the
// channel's playback cannot be broken (uuid_break only sets a flag the
// playback loop reads between two reads), the next playback never starts,
// and no caller audio reaches a media bug (a new mod_audio_stream fork
// connects and gets nothing) until a byte arrives.
//
// Once the playback was asked to stop (uuid_break), Unstick writes the
// codec's silence into the pipe, a frame every 20 ms, until the channel
// leaves it (what it writes is no longer taken: 60 ms stay in the pipe) or
// for max (ErrStillRead). It returns how long it fed the pipe: 0 for a path
// that is not a .PCMU/.PCMA named pipe someone reads (a process that died
// closed its end, one that let go replaced it by an empty file), left
// alone.
func Unstick(path string, max time.Duration) (time.Duration, error) {
	ext, ok := pipeCodec(strings.TrimPrefix(filepath.Ext(path), "."))
	if !ok {
		return 0, nil
	}
	fd, err := openWriter(path)
	if errors.Is(err, errNotPipe) || errors.Is(err, errNoReader) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer fd.close()
	sil := byte(audio.MulawSilence)
	if ext == "PCMA" {
		sil = audio.AlawSilence
	}
	frame := bytes.Repeat([]byte{sil}, pipeBytes(pipeFrame))
	start := time.Now()
	for {
		if n, err := fd.buffered(); err != nil || n >= 3*len(frame) {
			return time.Since(start), err
		}
		if time.Since(start) >= max {
			return time.Since(start), ErrStillRead
		}
		_, _ = fd.write(frame) // full: the reader is gone, seen next turn
		time.Sleep(pipeFrame)
	}
}

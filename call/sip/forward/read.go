package forward

import (
	"io"
	"time"

	"github.com/sipbridge/sipbridge/audio"
)

// StreamIdle is how long the mod_audio_stream websocket may stay silent:
// caller frames come every 20 ms, so a few seconds without any is a broken
// stream.
const StreamIdle = 5 * time.Second

// binaryMessage is the websocket opcode of mod_audio_stream's audio frames
// (RFC 6455; gorilla/websocket's BinaryMessage).
const binaryMessage = 2

// Conn is the mod_audio_stream websocket as ReadFrames reads it.
type Conn interface {
	NextReader() (messageType int, r io.Reader, err error)
	SetReadDeadline(t time.Time) error
}

// Source says where ReadFrames puts each caller frame.
type Source struct {
	// Feed, when set, sees every frame as it came (L16 16 kHz).
	Feed func([]byte)
	// Target tells whether an assistant takes the frame now, and whether
	// it takes L16 16 kHz as it came (l16_16k) rather than μ-law 8 kHz.
	Target func() (ok, l16 bool)
	// Timed: each frame's arrival time is taken (OnFrame metrics).
	Timed bool
}

// ReadFrames reads the caller's frames from conn until it fails or stays
// idle for StreamIdle, and pushes each one an assistant takes to f. This
// is the hot path: each 640-byte L16 16 kHz frame becomes 160 bytes of
// μ-law 8 kHz (or stays as it is for an l16_16k assistant) on this
// goroutine, with no allocation of ours. It returns the read's error.
func ReadFrames(conn Conn, src Source, f *Forwarder) error {
	conv := audio.NewFrameConverter()
	buf := make([]byte, 0, 2048) // one frame, reused: no allocation per frame
	for {
		_ = conn.SetReadDeadline(time.Now().Add(StreamIdle))
		mt, r, err := conn.NextReader()
		if err != nil {
			return err
		}
		if mt != binaryMessage {
			continue // the metadata text frame (the next NextReader discards it)
		}
		if buf, err = ReadFrame(r, buf[:0]); err != nil {
			return err
		}
		if src.Feed != nil {
			src.Feed(buf)
		}
		var arrived time.Time
		if src.Timed {
			arrived = time.Now()
		}
		ok, l16 := src.Target()
		if !ok {
			continue
		}
		out := buf // l16_16k: the frame as it came (L16 LE 16 kHz)
		if !l16 {
			var cerr error
			if out, cerr = conv.Convert(buf); cerr != nil {
				continue
			}
		}
		f.Push(out, arrived)
	}
}

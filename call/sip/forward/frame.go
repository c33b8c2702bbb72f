package forward

import (
	"errors"
	"io"
)

// MaxFrame bounds one mod_audio_stream message (a 20 ms stereo 16 kHz frame
// is 1280 bytes).
const MaxFrame = 64 << 10

// ErrFrameTooLarge: a message longer than MaxFrame.
var ErrFrameTooLarge = errors.New("mod_audio_stream frame too large")

// ReadFrame reads one mod_audio_stream message into buf (grown as needed, up to MaxFrame).
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= MaxFrame {
				return buf, ErrFrameTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

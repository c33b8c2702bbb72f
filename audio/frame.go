package audio

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrOddFrame means an L16 frame had an odd number of bytes (not whole
// 16-bit samples).
var ErrOddFrame = errors.New("audio: L16 frame has an odd byte count")

const (
	// CallerFrameBytes is one mod_audio_stream "mono 16k" frame: 20 ms of
	// 16 kHz L16 (320 samples × 2 bytes), as recorded on a real switch.
	CallerFrameBytes = 640
	// MulawFrameBytes is the same 20 ms as 8 kHz μ-law (160 bytes).
	MulawFrameBytes = 160
)

// FrameConverter turns caller audio from mod_audio_stream (L16 LE, 16 kHz
// mono) into what the Twilio Media Streams protocol carries (μ-law 8 kHz,
// base64 in JSON). It keeps the downsampler's state between frames and
// reuses its buffers: after the first frame of a given size, Convert and
// ConvertBase64 do not allocate. One converter per call; not safe for
// concurrent use.
type FrameConverter struct {
	down *Downsampler16to8
	pcm  []int16 // 16 kHz samples of the current frame
	pcm8 []int16 // 8 kHz samples
	ulaw []byte
	b64  []byte
}

// NewFrameConverter returns a converter sized for CallerFrameBytes frames.
func NewFrameConverter() *FrameConverter {
	return &FrameConverter{
		down: NewDownsampler16to8(),
		pcm:  make([]int16, 0, CallerFrameBytes/2),
		pcm8: make([]int16, 0, MulawFrameBytes),
		ulaw: make([]byte, MulawFrameBytes),
		b64:  make([]byte, base64.StdEncoding.EncodedLen(MulawFrameBytes)),
	}
}

// Convert converts one L16 16 kHz frame (any even length; 640 bytes in
// practice) and returns its μ-law 8 kHz bytes (160 for a 640-byte frame).
// The returned slice is reused by the next call: send or copy it first.
func (c *FrameConverter) Convert(frame []byte) ([]byte, error) {
	if len(frame)%2 != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrOddFrame, len(frame))
	}
	c.pcm = AppendL16Samples(c.pcm[:0], frame)
	c.pcm8 = c.down.Process(c.pcm8[:0], c.pcm)
	if cap(c.ulaw) < len(c.pcm8) {
		c.ulaw = make([]byte, len(c.pcm8))
	}
	c.ulaw = c.ulaw[:len(c.pcm8)]
	MulawEncode(c.ulaw, c.pcm8)
	return c.ulaw, nil
}

// ConvertBase64 is Convert followed by standard base64 (the `payload` of a
// Twilio `media` message). The returned slice is reused by the next call.
func (c *FrameConverter) ConvertBase64(frame []byte) ([]byte, error) {
	ulaw, err := c.Convert(frame)
	if err != nil {
		return nil, err
	}
	c.b64 = base64.StdEncoding.AppendEncode(c.b64[:0], ulaw)
	return c.b64, nil
}

// Reset forgets the resampler history (a new, unrelated audio stream).
func (c *FrameConverter) Reset() { c.down.Reset() }

// L16ToMulaw turns an l16_16k assistant's audio (L16 LE 16 kHz, payloads of
// any length) into μ-law 8 kHz for a G.711 playback: the same filter as
// FrameConverter, its state kept between payloads, and a sample split
// between two payloads joined. Not safe for concurrent use.
type L16ToMulaw struct {
	conv  *FrameConverter
	odd   []byte // at most the first byte of a split sample
	whole []byte
}

// NewL16ToMulaw returns a converter with silent history.
func NewL16ToMulaw() *L16ToMulaw {
	return &L16ToMulaw{conv: NewFrameConverter(), odd: make([]byte, 0, 1)}
}

// Convert returns the μ-law 8 kHz of le (reused by the next call).
func (c *L16ToMulaw) Convert(le []byte) []byte {
	c.whole = append(append(c.whole[:0], c.odd...), le...)
	c.odd = c.odd[:0]
	if len(c.whole)%2 == 1 {
		c.odd = append(c.odd, c.whole[len(c.whole)-1])
		c.whole = c.whole[:len(c.whole)-1]
	}
	out, _ := c.conv.Convert(c.whole) // even by construction
	return out
}

// Reset forgets the history and a split sample (after a clear).
func (c *L16ToMulaw) Reset() {
	c.conv.Reset()
	c.odd = c.odd[:0]
}

package assistant

import "math"

// Tone generation for tests across the project: audio is asserted by its
// tone frequency and level (ToneLevel, DominantFrequency), never by bytes.

// GenerateTone returns ms milliseconds of a sine wave at freqHz sampled at
// sampleRate, with the given peak amplitude in sample units (0..32767;
// larger values are clipped). The phase starts at 0.
func GenerateTone(freqHz float64, sampleRate, ms int, amplitude float64) []int16 {
	if sampleRate <= 0 || ms <= 0 {
		return nil
	}
	g := NewToneGenerator(freqHz, sampleRate, amplitude)
	out := make([]int16, sampleRate*ms/1000)
	g.Read(out)
	return out
}

// ToneGenerator produces a phase-continuous sine wave, so consecutive
// frames (for example 20 ms L16 frames for a fake mod_audio_stream) join
// without discontinuities whatever the frame length.
type ToneGenerator struct {
	step, phase, amp float64
}

// NewToneGenerator returns a generator of freqHz at sampleRate with the
// given peak amplitude in sample units.
func NewToneGenerator(freqHz float64, sampleRate int, amplitude float64) *ToneGenerator {
	amp := math.Max(0, math.Min(amplitude, math.MaxInt16))
	step := 0.0
	if sampleRate > 0 {
		step = 2 * math.Pi * freqHz / float64(sampleRate)
	}
	return &ToneGenerator{step: step, amp: amp}
}

// Read fills dst with the next len(dst) samples.
func (g *ToneGenerator) Read(dst []int16) {
	for i := range dst {
		dst[i] = int16(math.Round(g.amp * math.Sin(g.phase)))
		g.phase += g.step
		if g.phase > 2*math.Pi {
			g.phase -= 2 * math.Pi
		}
	}
}

// L16Frame returns the next n samples as little-endian L16 bytes (2n bytes),
// the shape of one mod_audio_stream binary frame.
func (g *ToneGenerator) L16Frame(n int) []byte {
	pcm := make([]int16, n)
	g.Read(pcm)
	return AppendL16Bytes(make([]byte, 0, 2*n), pcm)
}

// Package tone generates and measures sine tones: the tests across the
// module assert audio by its tone frequency and level (Level,
// DominantFrequency), never by bytes, and the echo assistant plays DTMF
// digits back with Generate. Generate and Generator make PCM; L16
// and ULaw encode it as mod_audio_stream and RTP carry it.
package tone

import (
	"encoding/binary"
	"math"
)

// Generate returns ms milliseconds of a sine wave at freqHz sampled at
// sampleRate, with the given peak amplitude in sample units (0..32767;
// larger values are clipped). The phase starts at 0.
func Generate(freqHz float64, sampleRate, ms int, amplitude float64) []int16 {
	if sampleRate <= 0 || ms <= 0 {
		return nil
	}
	g := New(freqHz, sampleRate, amplitude)
	out := make([]int16, sampleRate*ms/1000)
	g.Read(out)
	return out
}

// GenerateN is Generate by sample count: n samples of freqHz.
func GenerateN(freqHz float64, sampleRate, n int, amplitude float64) []int16 {
	if sampleRate <= 0 || n <= 0 {
		return nil
	}
	out := make([]int16, n)
	New(freqHz, sampleRate, amplitude).Read(out)
	return out
}

// Generator produces a phase-continuous sine wave, so consecutive
// frames (for example 20 ms L16 frames for a fake mod_audio_stream) join
// without discontinuities whatever the frame length.
type Generator struct {
	step, phase, amp float64
}

// New returns a generator of freqHz at sampleRate with the
// given peak amplitude in sample units.
func New(freqHz float64, sampleRate int, amplitude float64) *Generator {
	amp := math.Max(0, math.Min(amplitude, math.MaxInt16))
	step := 0.0
	if sampleRate > 0 {
		step = 2 * math.Pi * freqHz / float64(sampleRate)
	}
	return &Generator{step: step, amp: amp}
}

// Read fills dst with the next len(dst) samples.
func (g *Generator) Read(dst []int16) {
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
func (g *Generator) L16Frame(n int) []byte {
	pcm := make([]int16, n)
	g.Read(pcm)
	return L16(pcm)
}

// Level estimates the peak amplitude (in sample units) of the component
// at freq in samples, by a Hann-windowed Goertzel filter evaluated at exactly
// freq (no FFT, no bin rounding). A pure tone of amplitude A at freq reads ≈A;
// a frequency that is absent reads near 0. Use at least ~50 ms of audio so
// that neighbouring tones 100 Hz apart do not leak into each other.
func Level(samples []int16, sampleRate int, freq float64) float64 {
	n := len(samples)
	if n < 2 || sampleRate <= 0 || freq < 0 || freq > float64(sampleRate)/2 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(sampleRate)
	coeff := 2 * math.Cos(w)
	var s1, s2, wsum float64
	hannStep := 2 * math.Pi / float64(n-1)
	for i, x := range samples {
		win := 0.5 - 0.5*math.Cos(hannStep*float64(i))
		wsum += win
		s := float64(x)*win + coeff*s1 - s2
		s2, s1 = s1, s
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	if power < 0 || wsum == 0 {
		return 0
	}
	return 2 * math.Sqrt(power) / wsum
}

// LevelDB is Level in dB relative to a full-scale sine (32767).
// Silence reads -inf.
func LevelDB(samples []int16, sampleRate int, freq float64) float64 {
	return 20 * math.Log10(Level(samples, sampleRate, freq)/math.MaxInt16)
}

// PowerShare is the share of the power of samples that is at freq: about 1
// for a pure tone at freq, about 0 when freq is absent.
func PowerShare(samples []int16, sampleRate int, freq float64) float64 {
	rms := RMS(samples)
	if rms == 0 {
		return 0
	}
	l := Level(samples, sampleRate, freq)
	return min(1, l*l/2/(rms*rms))
}

// RMS returns the root-mean-square value of samples in sample units.
func RMS(samples []int16) float64 {
	if len(samples) == 0 {
		return 0
	}
	var sum float64
	for _, x := range samples {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum / float64(len(samples)))
}

// DominantFrequency returns the frequency that dominates samples. With
// candidates it returns the candidate with the highest Level (ties go to
// the earlier candidate). Without candidates it estimates the frequency of a
// single tone from its zero crossings (EstimateFrequency). It returns 0 for
// silence or too little audio.
func DominantFrequency(samples []int16, sampleRate int, candidates ...float64) float64 {
	if len(candidates) == 0 {
		return EstimateFrequency(samples, sampleRate)
	}
	best, bestLevel := 0.0, 0.0
	for _, f := range candidates {
		if l := Level(samples, sampleRate, f); l > bestLevel {
			best, bestLevel = f, l
		}
	}
	return best
}

// EstimateFrequency estimates the frequency of a single tone from its
// zero crossings (mean removed, crossing instants linearly interpolated).
// Accurate to a fraction of a hertz for a clean tone of 100 ms or more;
// meaningless for speech or mixtures (use DominantFrequency with
// candidates). It returns 0 when fewer than two crossings are found.
func EstimateFrequency(samples []int16, sampleRate int) float64 {
	if len(samples) < 3 || sampleRate <= 0 {
		return 0
	}
	var mean float64
	for _, x := range samples {
		mean += float64(x)
	}
	mean /= float64(len(samples))
	// Ignore crossings caused by noise around silence: require the signal
	// to have swung past a small hysteresis band since the last crossing.
	hyst := RMS(samples) * 0.1
	first, last := -1.0, -1.0
	crossings := 0
	prev := float64(samples[0]) - mean
	armed := math.Abs(prev) > hyst
	for i := 1; i < len(samples); i++ {
		cur := float64(samples[i]) - mean
		if !armed {
			armed = math.Abs(cur) > hyst
		}
		if armed && (prev < 0) != (cur < 0) && prev != cur {
			t := float64(i-1) + prev/(prev-cur)
			if first < 0 {
				first = t
			}
			last = t
			crossings++
			armed = math.Abs(cur) > hyst
		}
		prev = cur
	}
	if crossings < 2 || last <= first {
		return 0
	}
	// Two crossings per period.
	return float64(crossings-1) / 2 / ((last - first) / float64(sampleRate))
}

// L16 returns pcm as little-endian 16-bit bytes.
func L16(pcm []int16) []byte {
	out := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(v))
	}
	return out
}

// ULaw returns pcm encoded as G.711 μ-law (ITU-T G.711, segment search),
// one byte a sample, as PCMU RTP payloads carry it.
func ULaw(pcm []int16) []byte {
	out := make([]byte, len(pcm))
	for i, v := range pcm {
		out[i] = ulawByte(v)
	}
	return out
}

func ulawByte(v int16) byte {
	const bias, clip = 0x84, 32635
	x := int(v)
	sign := 0
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, clip) + bias
	seg := 0
	for s := x >> 7; s > 1; s >>= 1 {
		seg++
	}
	return ^byte(sign | seg<<4 | (x>>(seg+3))&0x0f)
}

// ULawTone is ms milliseconds of freq at 8 kHz with the given peak
// amplitude, μ-law encoded.
func ULawTone(freq float64, ms int, amplitude float64) []byte {
	return ULaw(Generate(freq, 8000, ms, amplitude))
}

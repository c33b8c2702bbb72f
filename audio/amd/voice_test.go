package amd

import (
	"math"
	"math/rand/v2"
)

// voice is a speech-like synthesizer: a glottal pulse train at a wandering
// pitch (90–250 Hz, so a harmonic stack) through three formant resonators
// that move each syllable, syllables shaped at 3–6 Hz, a little breath
// noise; one speaker per sample.
type voice struct {
	rng    *rand.Rand
	f0     float64 // the speaker's pitch
	sylHz  float64 // syllable rate
	dbfs   float64 // the speaker's level
	phase  float64
	wander float64 // phase of the slow pitch wander
}

func newVoice(rng *rand.Rand) *voice {
	return &voice{
		rng:   rng,
		f0:    between(rng, 90, 250),
		sylHz: between(rng, 3, 6),
		dbfs:  between(rng, -30, -6),
	}
}

// phrase writes words from at for about n samples, with gaps between words
// drawn in [minGap, maxGap] s, and returns where the speech ends.
func (v *voice) phrase(buf []float64, at, n int, minGap, maxGap float64) int {
	end := min(at+n, len(buf))
	word := make([]float64, 0, samples(1))
	for at < end {
		syl := 1 + v.rng.IntN(3)
		wn := min(int(float64(syl)*synthRate/v.sylHz), end-at)
		word = v.word(word[:0], wn, syl)
		v.scale(word)
		copy(buf[at:], word)
		at += wn
		if at >= end {
			break
		}
		at += samples(between(v.rng, minGap, maxGap))
	}
	return min(at, end)
}

// word synthesizes n samples of syl syllables.
func (v *voice) word(dst []float64, n, syl int) []float64 {
	sylLen := max(1, n/syl)
	var f [3]resonator
	for i := 0; i < n; i++ {
		if i%sylLen == 0 { // a new vowel
			f[0].set(between(v.rng, 300, 800), between(v.rng, 90, 160))
			f[1].set(between(v.rng, 900, 2200), between(v.rng, 110, 200))
			f[2].set(between(v.rng, 2400, 3100), between(v.rng, 150, 250))
		}
		t := float64(i%sylLen) / float64(sylLen)
		env := 0.08 + 0.92*math.Pow(math.Sin(math.Pi*t), 2)
		v.wander += 2 * math.Pi * 0.8 / synthRate
		pitch := v.f0 * (1 + 0.12*math.Sin(v.wander) - 0.1*t) * (1 + 0.01*v.rng.NormFloat64())
		v.phase += pitch / synthRate
		x := 0.02 * v.rng.NormFloat64() // breath
		if v.phase >= 1 {
			v.phase -= 1
			x += 1
		}
		y := f[2].step(f[1].step(f[0].step(x * env)))
		dst = append(dst, y)
	}
	return dst
}

// scale sets a word to the speaker's level ±3 dB, peaks kept under full
// scale.
func (v *voice) scale(w []float64) {
	sum, peak := 0.0, 0.0
	for _, x := range w {
		sum += x * x
		peak = math.Max(peak, math.Abs(x))
	}
	if sum == 0 {
		return
	}
	g := dbToAmp(v.dbfs+between(v.rng, -3, 3)) / math.Sqrt(sum/float64(len(w)))
	g = math.Min(g, 32000/peak)
	for i := range w {
		w[i] *= g
	}
}

// resonator is a two-pole formant filter.
type resonator struct{ b1, b2, y1, y2 float64 }

func (r *resonator) set(hz, bw float64) {
	rad := math.Exp(-math.Pi * bw / synthRate)
	r.b1, r.b2 = 2*rad*math.Cos(2*math.Pi*hz/synthRate), -rad*rad
}

func (r *resonator) step(x float64) float64 {
	y := (1-r.b1-r.b2)*x + r.b1*r.y1 + r.b2*r.y2
	r.y2, r.y1 = r.y1, y
	return y
}

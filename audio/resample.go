package audio

import "math"

// Sample-rate conversion between the 16 kHz L16 that mod_audio_stream sends
// (mono 16k) and the 8 kHz the Twilio Media Streams protocol carries.
//
// Both directions use one linear-phase low-pass FIR, designed once with a
// Kaiser-windowed sinc:
//
//   - ResampleTaps (63) taps at 16 kHz, group delay 31 samples (1.94 ms);
//   - cutoff ResampleCutoffHz (3.6 kHz, the -6 dB point): flat through the
//     telephone band (300-3400 Hz), about 60 dB down from 4.2 kHz on, so
//     nothing above the 8 kHz Nyquist frequency folds back audibly;
//   - Kaiser β = 5.65 (≈60 dB stop band);
//   - Q15 fixed-point coefficients summing to exactly 1.0 (unity DC gain),
//     int64 accumulation, saturation to int16.
//
// Downsampling filters and keeps every second sample; upsampling inserts a
// zero between samples and filters with gain 2 (computed as two polyphase
// branches, so the zeros are never multiplied). Both keep the last input
// samples between calls, so feeding 20 ms frames one by one gives exactly
// the same output as feeding the whole signal at once: no clicks at frame
// boundaries.

const (
	// ResampleTaps is the length of the anti-aliasing / interpolation FIR.
	ResampleTaps = 63
	// ResampleCutoffHz is the filter's cutoff (-6 dB) frequency.
	ResampleCutoffHz = 3600.0
	// resampleKaiserBeta sets the window's side-lobe level (≈60 dB).
	resampleKaiserBeta = 5.65
	// resampleHistory is how many past input samples the filters keep.
	resampleHistory = ResampleTaps - 1
	// upHistory is the history of the 8 kHz polyphase branches.
	upHistory = ResampleTaps / 2
)

// lowpassQ15 holds the filter taps in Q15; it is computed once at package
// initialisation and only read afterwards.
var lowpassQ15 = designLowpassQ15()

// upEvenQ15 and upOddQ15 are the two polyphase branches of lowpassQ15 for
// the 8 → 16 kHz interpolator (taps 0,2,4,… and 1,3,5,…). Read-only.
var upEvenQ15, upOddQ15 = splitPolyphase(lowpassQ15)

// designLowpassQ15 designs the Kaiser-windowed sinc low-pass at 16 kHz.
func designLowpassQ15() (q [ResampleTaps]int32) {
	const fs = 16000.0
	fc := ResampleCutoffHz / fs // normalised cutoff, cycles per sample
	m := float64(ResampleTaps - 1)
	var h [ResampleTaps]float64
	var sum float64
	for n := range h {
		t := float64(n) - m/2
		sinc := 2 * fc
		if t != 0 {
			sinc = math.Sin(2*math.Pi*fc*t) / (math.Pi * t)
		}
		r := 2*float64(n)/m - 1
		w := besselI0(resampleKaiserBeta*math.Sqrt(1-r*r)) / besselI0(resampleKaiserBeta)
		h[n] = sinc * w
		sum += h[n]
	}
	var qsum int32
	for n := range h {
		q[n] = int32(math.Round(h[n] / sum * 32768))
		qsum += q[n]
	}
	// Put the rounding remainder on the centre tap: DC gain exactly 1.0,
	// and the filter stays symmetric (linear phase).
	q[ResampleTaps/2] += 32768 - qsum
	return q
}

// besselI0 is the zeroth-order modified Bessel function of the first kind,
// by its power series (converges fast for the arguments used here).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		f := x / (2 * float64(k))
		term *= f * f
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

func splitPolyphase(h [ResampleTaps]int32) (even [upHistory + 1]int32, odd [upHistory]int32) {
	for i := range even {
		even[i] = h[2*i]
	}
	for i := range odd {
		odd[i] = h[2*i+1]
	}
	return even, odd
}

// sat16 saturates a value to the int16 range.
func sat16(v int64) int16 {
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}

// Downsampler16to8 converts 16 kHz samples to 8 kHz through the
// anti-aliasing low-pass, keeping its state across calls. The zero value is
// not ready; use NewDownsampler16to8. It is not safe for concurrent use:
// give each call its own.
type Downsampler16to8 struct {
	hist [resampleHistory]int16
	work []int16
	odd  bool // the next input sample has an odd absolute index (no output)
}

// NewDownsampler16to8 returns a downsampler with silent history.
func NewDownsampler16to8() *Downsampler16to8 {
	return &Downsampler16to8{work: make([]int16, resampleHistory+640)}
}

// Reset forgets the history (for example after a barge-in).
func (d *Downsampler16to8) Reset() {
	d.hist = [resampleHistory]int16{}
	d.odd = false
}

// Process filters src (16 kHz) and appends the 8 kHz result to dst, one
// output per even input sample counted from the first sample ever fed. A
// 320-sample frame gives 160 samples. It allocates only when dst or the
// internal work buffer must grow.
func (d *Downsampler16to8) Process(dst, src []int16) []int16 {
	need := resampleHistory + len(src)
	if cap(d.work) < need {
		d.work = make([]int16, need)
	}
	w := d.work[:need]
	copy(w, d.hist[:])
	copy(w[resampleHistory:], src)

	start := 0
	if d.odd {
		start = 1
	}
	if outs := (len(src) - start + 1) / 2; outs > 0 {
		dst = growInt16(dst, outs)
	}
	h := &lowpassQ15
	for j := start; j < len(src); j += 2 {
		// x[62] is the newest sample src[j], x[0] the oldest in the window.
		x := (*[ResampleTaps]int16)(w[j : j+ResampleTaps])
		acc := int64(1 << 14) // rounds the final >>15
		for k := 0; k < ResampleTaps/2; k++ {
			acc += int64(h[k]) * (int64(x[k]) + int64(x[ResampleTaps-1-k]))
		}
		acc += int64(h[ResampleTaps/2]) * int64(x[ResampleTaps/2])
		dst = append(dst, sat16(acc>>15))
	}
	d.odd = (start+len(src))%2 == 1
	copy(d.hist[:], w[need-resampleHistory:])
	return dst
}

// Upsampler8to16 converts 8 kHz samples to 16 kHz (zero insertion plus the
// interpolation low-pass), keeping its state across calls. It is not safe
// for concurrent use.
type Upsampler8to16 struct {
	hist [upHistory]int16
	work []int16
}

// NewUpsampler8to16 returns an upsampler with silent history.
func NewUpsampler8to16() *Upsampler8to16 {
	return &Upsampler8to16{work: make([]int16, upHistory+800)}
}

// Reset forgets the history.
func (u *Upsampler8to16) Reset() { u.hist = [upHistory]int16{} }

// Process appends two 16 kHz samples per 8 kHz input sample to dst.
func (u *Upsampler8to16) Process(dst, src []int16) []int16 {
	need := upHistory + len(src)
	if cap(u.work) < need {
		u.work = make([]int16, need)
	}
	w := u.work[:need]
	copy(w, u.hist[:])
	copy(w[upHistory:], src)
	dst = growInt16(dst, 2*len(src))
	even, odd := &upEvenQ15, &upOddQ15
	for j := range src {
		// x[31] is the newest sample src[j].
		x := (*[upHistory + 1]int16)(w[j : j+upHistory+1])
		a0 := int64(1 << 13) // gain 2 and rounding: >>14 instead of >>15
		for i := 0; i <= upHistory; i++ {
			a0 += int64(even[i]) * int64(x[upHistory-i])
		}
		a1 := int64(1 << 13)
		for i := 0; i < upHistory; i++ {
			a1 += int64(odd[i]) * int64(x[upHistory-i])
		}
		dst = append(dst, sat16(a0>>14), sat16(a1>>14))
	}
	copy(u.hist[:], w[need-upHistory:])
	return dst
}

package assistant

import "math"

// ToneLevel estimates the peak amplitude (in sample units) of the component
// at freq in samples, by a Hann-windowed Goertzel filter evaluated at exactly
// freq (no FFT, no bin rounding). A pure tone of amplitude A at freq reads ≈A;
// a frequency that is absent reads near 0. Use at least ~50 ms of audio so
// that neighbouring tones 100 Hz apart do not leak into each other.
func ToneLevel(samples []int16, sampleRate int, freq float64) float64 {
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

// ToneLevelDB is ToneLevel in dB relative to a full-scale sine (32767).
// Silence reads -inf.
func ToneLevelDB(samples []int16, sampleRate int, freq float64) float64 {
	return 20 * math.Log10(ToneLevel(samples, sampleRate, freq)/math.MaxInt16)
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
// candidates it returns the candidate with the highest ToneLevel (ties go to
// the earlier candidate). Without candidates it estimates the frequency of a
// single tone from its zero crossings (EstimateFrequency). It returns 0 for
// silence or too little audio.
func DominantFrequency(samples []int16, sampleRate int, candidates ...float64) float64 {
	if len(candidates) == 0 {
		return EstimateFrequency(samples, sampleRate)
	}
	best, bestLevel := 0.0, 0.0
	for _, f := range candidates {
		if l := ToneLevel(samples, sampleRate, f); l > bestLevel {
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

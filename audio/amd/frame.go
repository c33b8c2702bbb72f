package amd

import "math"

// frameInfo is what one 20 ms frame measured.
type frameInfo struct {
	dbfs   float64 // RMS level, dB relative to full scale (-100 for silence)
	zcr    float64 // zero crossings per second (white noise: half the sample rate)
	hz     float64 // frequency its zero crossings suggest (0: too few)
	purity float64 // share of its power at hz (1: a pure tone)
}

// Frame classification thresholds.
const (
	// speechAboveFloorDB: a speech frame stands this far above the floor.
	speechAboveFloorDB = 10.0
	// maxSpeechZCR: more zero crossings a second than this is hiss (its
	// power mostly above 3 kHz), not a voice: a vowel crosses zero 500 to
	// 4,000 times a second, wideband white noise 8,000 at 16 kHz. (Noise
	// that came through an 8 kHz leg is band-limited and crosses no more
	// than a vowel: the noise floor, not this, tells them apart.)
	maxSpeechZCR = 6000.0
	// tonePurity: a frame with this share of its power at one frequency
	// is a tone (speech's harmonics spread it: well under 0.6).
	tonePurity = 0.8
	// toneMinHz, toneMaxHz bound the tones counted (music, fax, beeps).
	toneMinHz, toneMaxHz = 150.0, 3400.0
	// beepMinHz, beepMaxHz bound a voicemail beep (commonly 440–1,000 Hz,
	// some up to 2 kHz).
	beepMinHz, beepMaxHz = 350.0, 2100.0
	// floorFrames is the noise floor's window: the quietest frame of the
	// last five seconds (longer than a greeting: a steady sound that lasts
	// is not taken for the floor before it is judged).
	floorFrames = 250
	silenceDB   = -100.0
)

// analyse measures one frame (its samples are modified: DC removed).
func analyse(x []float64, rate int) frameInfo {
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	energy := 0.0
	for i := range x {
		x[i] -= mean
		energy += x[i] * x[i]
	}
	f := frameInfo{dbfs: silenceDB}
	ms := energy / float64(len(x))
	if ms > 0 {
		f.dbfs = math.Max(silenceDB, 10*math.Log10(ms/(32768.0*32768.0)))
	}
	if energy == 0 {
		return f
	}
	crossings, first, last := 0, 0.0, 0.0
	for i := 1; i < len(x); i++ {
		a, b := x[i-1], x[i]
		if (a < 0) == (b < 0) {
			continue
		}
		t := float64(i-1) + a/(a-b) // where the line between them crosses 0
		if crossings == 0 {
			first = t
		}
		last = t
		crossings++
	}
	f.zcr = float64(crossings) * float64(rate) / float64(len(x))
	if crossings >= 3 && last > first {
		f.hz = float64(crossings-1) / 2 / ((last - first) / float64(rate))
	}
	if f.hz >= toneMinHz && f.hz <= toneMaxHz {
		// a few bands around the estimate: noise moves the crossings a little
		p := 0.0
		for _, k := range [...]float64{0.99, 1, 1.01} {
			p = math.Max(p, goertzel(x, f.hz*k, rate))
		}
		f.purity = math.Min(1, 2*p/(float64(len(x))*energy))
	}
	return f
}

// goertzel returns |X(f)|² of x, the power a single-bin DFT finds at f.
func goertzel(x []float64, f float64, rate int) float64 {
	coeff := 2 * math.Cos(2*math.Pi*f/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// floorTracker is the adaptive noise floor: the quietest frame of the last
// floorFrames (a ring; the minimum rescanned when the minimum leaves it).
type floorTracker struct {
	ring [floorFrames]float64
	n    int // frames seen (ring holds min(n, floorFrames))
	min  float64
}

// add records a frame's level and returns the floor including it.
func (t *floorTracker) add(db float64) float64 {
	i := t.n % floorFrames
	leaving := t.ring[i]
	t.ring[i] = db
	t.n++
	if t.n == 1 || db <= t.min {
		t.min = db
		return t.min
	}
	if t.n > floorFrames && leaving == t.min {
		t.min = t.ring[0]
		for _, v := range t.ring[1:] {
			t.min = math.Min(t.min, v)
		}
	}
	return t.min
}

// tonal reports a frame that is one steady tone loud enough to count.
func (f frameInfo) tonal(minDB float64) bool {
	return f.dbfs >= minDB && f.purity >= tonePurity
}

// speech reports a frame that is voice: loud enough, above the floor, not
// hiss, not a tone.
func (f frameInfo) speech(floor, minDB float64) bool {
	return f.dbfs >= minDB && f.dbfs >= floor+speechAboveFloorDB &&
		f.zcr <= maxSpeechZCR && !f.tonal(minDB)
}

package tone

import (
	"math"
	"testing"
)

func TestGenerateTone(t *testing.T) {
	tests := []struct {
		freq        float64
		rate, ms    int
		amp         float64
		wantSamples int
		wantPeak    float64
	}{
		{1000, 8000, 20, 1000, 160, 1000},
		{440, 16000, 100, 20000, 1600, 20000},
		{1000, 8000, 10, 99999, 80, math.MaxInt16}, // clipped amplitude
	}
	for _, tc := range tests {
		got := Generate(tc.freq, tc.rate, tc.ms, tc.amp)
		if len(got) != tc.wantSamples {
			t.Errorf("%v Hz %d ms @%d: %d samples, want %d", tc.freq, tc.ms, tc.rate, len(got), tc.wantSamples)
		}
		peak := 0.0
		for _, s := range got {
			peak = math.Max(peak, math.Abs(float64(s)))
		}
		if math.Abs(peak-tc.wantPeak) > tc.wantPeak*0.01 {
			t.Errorf("%v Hz: peak %.0f, want %.0f", tc.freq, peak, tc.wantPeak)
		}
	}
	if Generate(1000, 0, 20, 1) != nil || Generate(1000, 8000, 0, 1) != nil {
		t.Error("invalid rate or duration must give no samples")
	}
}

func TestGeneratorIsPhaseContinuous(t *testing.T) {
	whole := Generate(1234, 8000, 100, 10000)
	g := New(1234, 8000, 10000)
	var parts []int16
	for _, n := range []int{7, 160, 33, 600} {
		p := make([]int16, n)
		g.Read(p)
		parts = append(parts, p...)
	}
	for i := range whole {
		if d := math.Abs(float64(whole[i]) - float64(parts[i])); d > 1 {
			t.Fatalf("sample %d: frames give %d, whole gives %d", i, parts[i], whole[i])
		}
	}
	frame := New(1000, 16000, 5000).L16Frame(320)
	if len(frame) != 640 {
		t.Errorf("L16Frame(320) is %d bytes, want 640", len(frame))
	}
}

func TestToneLevel(t *testing.T) {
	mix := Generate(1000, 8000, 200, 8000)
	other := Generate(1400, 8000, 200, 2000)
	for i := range mix {
		mix[i] += other[i]
	}
	tests := []struct {
		name string
		freq float64
		want float64
		tol  float64
	}{
		{"strong tone", 1000, 8000, 80},
		{"weak tone", 1400, 2000, 40},
		{"absent tone", 2000, 0, 20},
		{"absent nearby tone", 1200, 0, 40},
		{"beyond Nyquist", 5000, 0, 0},
	}
	for _, tc := range tests {
		if got := Level(mix, 8000, tc.freq); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s: Level(%v Hz) = %.1f, want %.0f±%.0f", tc.name, tc.freq, got, tc.want, tc.tol)
		}
	}
	if got := LevelDB(Generate(500, 8000, 200, math.MaxInt16), 8000, 500); math.Abs(got) > 0.1 {
		t.Errorf("full-scale tone reads %.2f dBFS, want 0", got)
	}
	if Level(nil, 8000, 1000) != 0 || Level(mix, 0, 1000) != 0 {
		t.Error("empty input or zero rate must read 0")
	}
}

func TestDominantFrequency(t *testing.T) {
	mix := Generate(1000, 8000, 200, 3000)
	loud := Generate(660, 8000, 200, 9000)
	for i := range mix {
		mix[i] += loud[i]
	}
	if got := DominantFrequency(mix, 8000, 440, 660, 1000); got != 660 {
		t.Errorf("DominantFrequency among candidates = %v, want 660", got)
	}
	if got := DominantFrequency(make([]int16, 800), 8000, 440, 660); got != 0 {
		t.Errorf("silence gave %v, want 0", got)
	}
	for _, f := range []float64{100, 440, 1000, 2750, 3900} {
		got := DominantFrequency(Generate(f, 8000, 200, 5000), 8000)
		if math.Abs(got-f) > f*0.001+0.5 {
			t.Errorf("estimate of %v Hz = %.2f", f, got)
		}
	}
	if got := EstimateFrequency(make([]int16, 100), 8000); got != 0 {
		t.Errorf("EstimateFrequency(silence) = %v, want 0", got)
	}
}

func TestRMS(t *testing.T) {
	if got := RMS(Generate(1000, 8000, 100, 10000)); math.Abs(got-10000/math.Sqrt2) > 10 {
		t.Errorf("RMS of a sine = %.1f, want %.1f", got, 10000/math.Sqrt2)
	}
	if RMS(nil) != 0 {
		t.Error("RMS(nil) != 0")
	}
}

// TestULaw: G.711 μ-law of known samples (the code's bits are inverted on
// the wire), and a tone survives encoding and decoding within 1%.
func TestULaw(t *testing.T) {
	for _, tc := range []struct {
		in   int16
		want byte
	}{{0, 0xff}, {-1, 0x7f}, {32767, 0x80}, {-32768, 0x00}, {1000, 0xce}, {-1000, 0x4e}} {
		if got := ULaw([]int16{tc.in})[0]; got != tc.want {
			t.Errorf("ULaw(%d) = %#02x, want %#02x", tc.in, got, tc.want)
		}
	}
	enc := ULawTone(1000, 200, 8000)
	pcm := make([]int16, len(enc))
	for i, c := range enc {
		c = ^c
		v := (int(c&0x0f)<<3 + 0x84) << (uint(c&0x70) >> 4)
		if c&0x80 != 0 {
			pcm[i] = int16(0x84 - v)
		} else {
			pcm[i] = int16(v - 0x84)
		}
	}
	if l := Level(pcm, 8000, 1000); math.Abs(l-8000) > 80 {
		t.Errorf("decoded tone level %.0f, want 8000±80", l)
	}
}

func TestPowerShare(t *testing.T) {
	pure := GenerateN(1000, 8000, 1600, 8000)
	mix := GenerateN(1000, 8000, 1600, 8000)
	for i, v := range GenerateN(440, 8000, 1600, 8000) {
		mix[i] += v
	}
	for _, tc := range []struct {
		name     string
		pcm      []int16
		freq     float64
		min, max float64
	}{
		{"pure tone", pure, 1000, 0.97, 1},
		{"absent", pure, 600, 0, 0.01},
		{"half of a mix", mix, 440, 0.45, 0.55},
		{"silence", make([]int16, 160), 1000, 0, 0},
	} {
		if got := PowerShare(tc.pcm, 8000, tc.freq); got < tc.min || got > tc.max {
			t.Errorf("%s: %.3f, want %.2f..%.2f", tc.name, got, tc.min, tc.max)
		}
	}
	if len(GenerateN(1000, 8000, 64, 1)) != 64 || GenerateN(1, 0, 5, 1) != nil {
		t.Error("GenerateN: wrong sample count")
	}
}

package assistant

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
		got := GenerateTone(tc.freq, tc.rate, tc.ms, tc.amp)
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
	if GenerateTone(1000, 0, 20, 1) != nil || GenerateTone(1000, 8000, 0, 1) != nil {
		t.Error("invalid rate or duration must give no samples")
	}
}

func TestToneGeneratorIsPhaseContinuous(t *testing.T) {
	whole := GenerateTone(1234, 8000, 100, 10000)
	g := NewToneGenerator(1234, 8000, 10000)
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
	frame := NewToneGenerator(1000, 16000, 5000).L16Frame(320)
	if len(frame) != 640 {
		t.Errorf("L16Frame(320) is %d bytes, want 640", len(frame))
	}
}

func TestToneLevel(t *testing.T) {
	mix := GenerateTone(1000, 8000, 200, 8000)
	other := GenerateTone(1400, 8000, 200, 2000)
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
		if got := ToneLevel(mix, 8000, tc.freq); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s: ToneLevel(%v Hz) = %.1f, want %.0f±%.0f", tc.name, tc.freq, got, tc.want, tc.tol)
		}
	}
	if got := ToneLevelDB(GenerateTone(500, 8000, 200, math.MaxInt16), 8000, 500); math.Abs(got) > 0.1 {
		t.Errorf("full-scale tone reads %.2f dBFS, want 0", got)
	}
	if ToneLevel(nil, 8000, 1000) != 0 || ToneLevel(mix, 0, 1000) != 0 {
		t.Error("empty input or zero rate must read 0")
	}
}

func TestDominantFrequency(t *testing.T) {
	mix := GenerateTone(1000, 8000, 200, 3000)
	loud := GenerateTone(660, 8000, 200, 9000)
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
		got := DominantFrequency(GenerateTone(f, 8000, 200, 5000), 8000)
		if math.Abs(got-f) > f*0.001+0.5 {
			t.Errorf("estimate of %v Hz = %.2f", f, got)
		}
	}
	if got := EstimateFrequency(make([]int16, 100), 8000); got != 0 {
		t.Errorf("EstimateFrequency(silence) = %v, want 0", got)
	}
}

func TestRMS(t *testing.T) {
	if got := RMS(GenerateTone(1000, 8000, 100, 10000)); math.Abs(got-10000/math.Sqrt2) > 10 {
		t.Errorf("RMS of a sine = %.1f, want %.1f", got, 10000/math.Sqrt2)
	}
	if RMS(nil) != 0 {
		t.Error("RMS(nil) != 0")
	}
}

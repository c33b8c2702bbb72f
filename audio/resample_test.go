package audio

import (
	"math"
	"slices"
	"testing"

	"github.com/sipbridge/sipbridge/internal/tone"
)

// settle is how many output samples to skip while the filter history fills.
const settle = ResampleTaps

func downsampleAll(in []int16) []int16 {
	return NewDownsampler16to8().Process(nil, in)
}

func TestDownsamplerPassband(t *testing.T) {
	tests := []struct {
		freq   float64
		amp    float64
		maxDev float64 // dB
	}{
		{300, 10000, 0.2},
		{1000, 10000, 0.2},
		{1000, 32000, 0.2},
		{2000, 5000, 0.3},
		{3000, 10000, 0.5},
		{3400, 10000, 3},
	}
	for _, tc := range tests {
		in := tone.Generate(tc.freq, 16000, 500, tc.amp)
		out := downsampleAll(in)
		if len(out) != len(in)/2 {
			t.Fatalf("%v Hz: %d samples out of %d, want half", tc.freq, len(out), len(in))
		}
		steady := out[settle:]
		got := tone.Level(steady, 8000, tc.freq)
		dev := 20 * math.Log10(got/tc.amp)
		if math.Abs(dev) > tc.maxDev {
			t.Errorf("%v Hz amp %v: level %.0f (%.2f dB), want within %.1f dB", tc.freq, tc.amp, got, dev, tc.maxDev)
		}
		if f := tone.EstimateFrequency(steady, 8000); math.Abs(f-tc.freq) > tc.freq*0.002 {
			t.Errorf("%v Hz: output tone at %.2f Hz", tc.freq, f)
		}
	}
}

// Everything above 4 kHz at 16 kHz would fold back below 4 kHz at 8 kHz;
// the anti-aliasing filter must remove it first.
func TestDownsamplerRejectsAliases(t *testing.T) {
	tests := []struct {
		freq, alias float64
		minDB       float64
	}{
		{6000, 2000, 40},
		{5000, 3000, 40},
		{4500, 3500, 40},
		{7900, 100, 40},
	}
	for _, tc := range tests {
		const amp = 20000
		in := tone.Generate(tc.freq, 16000, 500, amp)
		out := downsampleAll(in)[settle:]
		level := tone.Level(out, 8000, tc.alias)
		atten := 20 * math.Log10(amp/math.Max(level, 1e-9))
		if atten < tc.minDB {
			t.Errorf("%v Hz aliases to %v Hz at %.1f dB below input, want ≥ %v dB", tc.freq, tc.alias, atten, tc.minDB)
		}
		if rms := tone.RMS(out); rms > amp/math.Sqrt2/100 {
			t.Errorf("%v Hz: output RMS %.1f, want ≤ 1%% of the input", tc.freq, rms)
		}
	}
}

// A naive decimator (every second sample, no filter) must fail the alias
// test: proves the test measures something.
func TestAliasTestCatchesMissingFilter(t *testing.T) {
	in := tone.Generate(6000, 16000, 500, 20000)
	naive := make([]int16, 0, len(in)/2)
	for i := 0; i < len(in); i += 2 {
		naive = append(naive, in[i])
	}
	if level := tone.Level(naive, 8000, 2000); level < 10000 {
		t.Fatalf("naive decimation shows a 2 kHz alias of only %.0f; the measurement is broken", level)
	}
}

func splitProcess(proc func(dst, src []int16) []int16, in []int16, sizes []int) []int16 {
	var out []int16
	for i, k := 0, 0; i < len(in); k++ {
		n := min(sizes[k%len(sizes)], len(in)-i)
		out = proc(out, in[i:i+n])
		i += n
	}
	return out
}

func TestDownsamplerFramesEqualWholeBuffer(t *testing.T) {
	in := tone.Generate(1000, 16000, 300, 12000)
	mix := tone.Generate(5500, 16000, 300, 8000)
	for i := range in {
		in[i] += mix[i]
	}
	whole := downsampleAll(in)
	for _, sizes := range [][]int{{320}, {1}, {7}, {333}, {320, 1, 319, 2, 5}} {
		got := splitProcess(NewDownsampler16to8().Process, in, sizes)
		if !slices.Equal(got, whole) {
			t.Errorf("frames of %v: output differs from the whole-buffer output", sizes)
		}
	}
}

// Frame boundaries must not produce clicks: the sample-to-sample step of a
// 1 kHz tone stays what a sine of that amplitude allows.
func TestDownsamplerNoClicksAtFrameBoundaries(t *testing.T) {
	g := tone.New(1000, 16000, 16000)
	d := NewDownsampler16to8()
	var out []int16
	frame := make([]int16, 320)
	for range 50 {
		g.Read(frame)
		out = d.Process(out, frame)
	}
	maxStep := 16000 * 2 * math.Sin(math.Pi*1000/8000) * 1.02
	for i := settle + 1; i < len(out); i++ {
		if step := math.Abs(float64(out[i]) - float64(out[i-1])); step > maxStep {
			t.Fatalf("jump of %.0f at output sample %d (frame boundary: %v)", step, i, i%160 == 0)
		}
	}
}

func TestDownsamplerSaturatesInsteadOfWrapping(t *testing.T) {
	// A full-scale square wave makes the filter overshoot (Gibbs); the result
	// must clip at the int16 limits, not wrap around to the opposite sign.
	in := make([]int16, 1600)
	for i := range in {
		if (i/40)%2 == 0 {
			in[i] = math.MaxInt16
		} else {
			in[i] = math.MinInt16
		}
	}
	out := downsampleAll(in)
	clipped := 0
	for i := settle; i < len(out); i++ {
		// Reference: the same FIR in floating point, then clamped.
		var ref float64
		for k := range ResampleTaps {
			ref += float64(lowpassQ15[k]) / 32768 * float64(in[2*i-k])
		}
		ref = math.Max(math.MinInt16, math.Min(math.MaxInt16, ref))
		if math.Abs(ref) >= math.MaxInt16 {
			clipped++
		}
		if math.Abs(float64(out[i])-ref) > 1 {
			t.Fatalf("sample %d: got %d, want %.1f", i, out[i], ref)
		}
	}
	if clipped == 0 {
		t.Fatal("no sample reached the clip level: the test does not exercise saturation")
	}
}

func TestUpsamplerKeepsToneRejectsImage(t *testing.T) {
	for _, freq := range []float64{440, 1000, 3000} {
		const amp = 12000
		in := tone.Generate(freq, 8000, 500, amp)
		out := NewUpsampler8to16().Process(nil, in)
		if len(out) != 2*len(in) {
			t.Fatalf("%d samples out of %d, want double", len(out), len(in))
		}
		steady := out[2*settle:]
		if got := tone.Level(steady, 16000, freq); math.Abs(20*math.Log10(got/amp)) > 0.5 {
			t.Errorf("%v Hz: level %.0f, want ≈%d", freq, got, amp)
		}
		if f := tone.EstimateFrequency(steady, 16000); math.Abs(f-freq) > freq*0.002 {
			t.Errorf("%v Hz: output tone at %.2f Hz", freq, f)
		}
		image := 8000 - freq
		if img := tone.Level(steady, 16000, image); 20*math.Log10(amp/img) < 40 {
			t.Errorf("%v Hz: image at %v Hz only %.1f dB down", freq, image, 20*math.Log10(amp/img))
		}
	}
}

func TestUpsamplerFramesEqualWholeBuffer(t *testing.T) {
	in := tone.Generate(700, 8000, 300, 15000)
	whole := NewUpsampler8to16().Process(nil, in)
	for _, sizes := range [][]int{{160}, {1}, {13}, {160, 3, 157}} {
		got := splitProcess(NewUpsampler8to16().Process, in, sizes)
		if !slices.Equal(got, whole) {
			t.Errorf("frames of %v: output differs from the whole-buffer output", sizes)
		}
	}
}

func TestResampleRoundTripAndReset(t *testing.T) {
	in := tone.Generate(1000, 16000, 400, 10000)
	d, u := NewDownsampler16to8(), NewUpsampler8to16()
	back := u.Process(nil, d.Process(nil, in))
	if got := tone.Level(back[4*settle:], 16000, 1000); math.Abs(got-10000) > 200 {
		t.Errorf("16→8→16 kHz: 1 kHz level %.0f, want ≈10000", got)
	}
	// After Reset the state is that of a new downsampler.
	d.Reset()
	if got, want := d.Process(nil, in[:321]), downsampleAll(in[:321]); !slices.Equal(got, want) {
		t.Errorf("Reset did not restore the initial state")
	}
}

func TestResampleFilterDesign(t *testing.T) {
	var sum int32
	for k := range lowpassQ15 {
		sum += lowpassQ15[k]
		if lowpassQ15[k] != lowpassQ15[ResampleTaps-1-k] {
			t.Fatalf("tap %d is not symmetric: the filter would not be linear phase", k)
		}
	}
	if sum != 32768 {
		t.Errorf("taps sum to %d, want 32768 (unity DC gain)", sum)
	}
}

func BenchmarkDownsample320(b *testing.B) {
	in := tone.Generate(1000, 16000, 20, 12000)
	d := NewDownsampler16to8()
	out := make([]int16, 0, 160)
	b.ReportAllocs()
	for b.Loop() {
		out = d.Process(out[:0], in)
	}
}

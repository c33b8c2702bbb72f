package audio

import (
	"math"
	"testing"

	"github.com/sipbridge/sipbridge/internal/tone"
)

// Code points from the G.711 μ-law definition (bias 0x84, clip 32635,
// bits inverted), worked out by hand from the segment table.
func TestMulawEncodeKnownCodePoints(t *testing.T) {
	tests := []struct {
		name string
		in   int16
		want byte
	}{
		{"zero", 0, 0xFF},
		{"plus one rounds to zero code", 1, 0xFF},
		{"minus one is negative zero", -1, 0x7F},
		{"top of the zero code", 3, 0xFF},
		{"segment 0 mantissa 1 starts at 4", 4, 0xFE},
		{"segment 0 mantissa 1", 8, 0xFE},
		{"segment 0 mantissa 15", 120, 0xF0},
		{"segment 1 start", 124, 0xEF},
		{"1000 is segment 3 mantissa 1", 1000, 0xCE},
		{"-1000", -1000, 0x4E},
		{"clip level", MulawClip, 0x80},
		{"max", math.MaxInt16, 0x80},
		{"min", math.MinInt16, 0x00},
		{"just below clip negative", -MulawClip, 0x00},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out [1]byte
			if n := MulawEncode(out[:], []int16{tc.in}); n != 1 {
				t.Fatalf("MulawEncode returned %d, want 1", n)
			}
			if out[0] != tc.want {
				t.Errorf("encode(%d) = %#02x, want %#02x", tc.in, out[0], tc.want)
			}
		})
	}
}

func TestMulawDecodeKnownCodePoints(t *testing.T) {
	tests := []struct {
		code byte
		want int16
	}{
		{0xFF, 0},
		{0x7F, 0},
		{0xFE, 8},
		{0x7E, -8},
		{0xF0, 120},
		{0xEF, 132},
		{0xCE, 988},
		{0x80, 32124},
		{0x00, -32124},
	}
	for _, tc := range tests {
		var out [1]int16
		MulawDecode(out[:], []byte{tc.code})
		if out[0] != tc.want {
			t.Errorf("decode(%#02x) = %d, want %d", tc.code, out[0], tc.want)
		}
	}
}

// Every 16-bit value must come back within half a quantisation step of its
// segment: |error| ≤ (|x|+132)/32 inside the clip range, and no more than
// the distance to the top code (32124) beyond it.
func TestMulawRoundTripErrorBound(t *testing.T) {
	enc := make([]byte, 1)
	dec := make([]int16, 1)
	worstRel := 0.0
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		MulawEncode(enc, []int16{int16(v)})
		MulawDecode(dec, enc)
		mag := math.Abs(float64(v))
		err := math.Abs(float64(v) - float64(dec[0]))
		bound := (mag + MulawBias) / 32
		if mag > MulawClip {
			bound = mag - 32124
		}
		if err > bound {
			t.Fatalf("round trip of %d gave %d: error %.0f > bound %.1f", v, dec[0], err, bound)
		}
		if mag >= 1000 && mag <= MulawClip {
			worstRel = math.Max(worstRel, err/mag)
		}
		if (v < 0) != (dec[0] < 0) && dec[0] != 0 {
			t.Fatalf("round trip of %d flipped sign: %d", v, dec[0])
		}
	}
	// Logarithmic companding: relative error stays near 1/32 above 1000.
	if worstRel > 0.035 {
		t.Errorf("worst relative error %.4f, want ≤ 0.035", worstRel)
	}
}

// Decoding a code and encoding the value again returns the code, except the
// negative zero (0x7F), which decodes to 0 and re-encodes as 0xFF.
func TestMulawCodesAreStable(t *testing.T) {
	for c := 0; c < 256; c++ {
		var pcm [1]int16
		var back [1]byte
		MulawDecode(pcm[:], []byte{byte(c)})
		MulawEncode(back[:], pcm[:])
		want := byte(c)
		if c == 0x7F {
			want = 0xFF
		}
		if back[0] != want {
			t.Errorf("code %#02x → %d → %#02x", c, pcm[0], back[0])
		}
	}
}

// μ-law keeps ~38 dB SNR for a speech-level sine; a broken segment or
// mantissa calculation would not.
func TestMulawToneSNR(t *testing.T) {
	for _, amp := range []float64{1000, 8000, 30000} {
		pcm := tone.Generate(1000, 8000, 200, amp)
		ulaw := make([]byte, len(pcm))
		back := make([]int16, len(pcm))
		MulawEncode(ulaw, pcm)
		MulawDecode(back, ulaw)
		var sig, noise float64
		for i := range pcm {
			d := float64(pcm[i]) - float64(back[i])
			sig += float64(pcm[i]) * float64(pcm[i])
			noise += d * d
		}
		snr := 10 * math.Log10(sig/noise)
		if snr < 35 {
			t.Errorf("amplitude %.0f: SNR %.1f dB, want ≥ 35", amp, snr)
		}
		if got := tone.DominantFrequency(back, 8000); math.Abs(got-1000) > 2 {
			t.Errorf("amplitude %.0f: decoded tone at %.1f Hz, want 1000", amp, got)
		}
	}
}

func TestMulawCopySemantics(t *testing.T) {
	pcm := []int16{0, 1000, -1000}
	short := make([]byte, 2)
	if n := MulawEncode(short, pcm); n != 2 || short[1] != 0xCE {
		t.Errorf("MulawEncode into short dst: n=%d %x", n, short)
	}
	out := make([]int16, 5)
	if n := MulawDecode(out, []byte{0xCE}); n != 1 || out[0] != 988 || out[1] != 0 {
		t.Errorf("MulawDecode into long dst: n=%d %v", n, out)
	}
	got := AppendMulawDecode([]int16{7}, []byte{0xCE, 0x4E})
	if len(got) != 3 || got[0] != 7 || got[1] != 988 || got[2] != -988 {
		t.Errorf("AppendMulawDecode = %v", got)
	}
}

func BenchmarkMulawEncode160(b *testing.B) {
	pcm := tone.Generate(1000, 8000, 20, 12000)
	out := make([]byte, len(pcm))
	b.ReportAllocs()
	for b.Loop() {
		MulawEncode(out, pcm)
	}
}

package audio

import (
	"testing"

	"github.com/sipbridge/sipbridge/internal/tone"
)

// Every A-law code decodes and encodes back to itself, and a μ-law sound
// converted to A-law stays within one A-law step of the original level.
func TestAlawRoundTripAndMulawConversion(t *testing.T) {
	for c := 0; c < 256; c++ {
		if got := alawEncodeSample(alawDecodeSample(byte(c))); got != byte(c) {
			t.Fatalf("A-law code %#02x → %d → %#02x", c, alawDecodeSample(byte(c)), got)
		}
	}
	if alawDecodeSample(AlawSilence) > 8 || alawDecodeSample(AlawSilence) < -8 {
		t.Fatalf("AlawSilence decodes to %d", alawDecodeSample(AlawSilence))
	}
	for c := 0; c < 256; c++ {
		lin := int32(mulawDecodeTable[c])
		back := int32(alawDecodeSample(ulawToAlaw[c]))
		diff := lin - back
		if diff < 0 {
			diff = -diff
		}
		// A-law's step at a level is at most 1/16 of the level (plus the
		// smallest step near zero).
		if tol := abs32(lin)/16 + 16; diff > tol {
			t.Fatalf("μ-law %#02x = %d became A-law %#02x = %d", c, lin, ulawToAlaw[c], back)
		}
	}
	b := []byte{MulawSilence, 0x00, 0x80}
	MulawToAlaw(b)
	if b[0] != ulawToAlaw[MulawSilence] || alawDecodeSample(b[1]) >= 0 || alawDecodeSample(b[2]) <= 0 {
		t.Fatalf("MulawToAlaw = %x", b)
	}
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// A PCMA tone converted to μ-law keeps its frequency and level: every A-law
// code lands within one μ-law step of its own value.
func TestAlawToMulaw(t *testing.T) {
	for c := 0; c < 256; c++ {
		lin := int32(alawDecodeSample(byte(c)))
		back := int32(mulawDecodeTable[alawToUlaw[c]])
		diff := lin - back
		if diff < 0 {
			diff = -diff
		}
		if tol := abs32(lin)/16 + 8; diff > tol {
			t.Fatalf("A-law %#02x = %d became μ-law %#02x = %d", c, lin, alawToUlaw[c], back)
		}
	}
	pcm := tone.Generate(1000, 8000, 200, 8000)
	a := make([]byte, len(pcm))
	AlawEncode(a, pcm)
	AlawToMulaw(a)
	got := make([]int16, len(a))
	MulawDecode(got, a)
	if f := tone.EstimateFrequency(got, 8000); f < 995 || f > 1005 {
		t.Fatalf("1000 Hz PCMA heard as %.1f Hz after conversion", f)
	}
}

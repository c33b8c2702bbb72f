package g722

import (
	"math"
	"os"
	"testing"

	"github.com/sipbridge/sipbridge/internal/tone"
)

// TestDecodeSwitchTone decodes 300 ms of G.722 that FreeSWITCH
// (mod_spandsp) encoded from a 1000 Hz μ-law tone of RMS 5657, captured
// from the e2e codec_g722 scenario (g722_reply): two samples a codeword, the tone at
// its frequency and level, nothing else in the band.
func TestDecodeSwitchTone(t *testing.T) {
	in, err := os.ReadFile("testdata/tone1000.g722")
	if err != nil {
		t.Fatal(err)
	}
	pcm := NewDecoder().Decode(nil, in)
	if len(pcm) != 2*len(in) {
		t.Fatalf("%d codewords decoded to %d samples, want %d", len(in), len(pcm), 2*len(in))
	}
	// 170-255 ms: between the chunk boundaries at 161 and 261 ms where
	// the switch played 2 ms of silence (the e2e test measures those).
	body := pcm[170*16 : 255*16]
	if f := tone.EstimateFrequency(body, 16000); math.Abs(f-1000) > 2 {
		t.Errorf("decoded frequency %.1f Hz, want 1000 ± 2", f)
	}
	if rms := tone.RMS(body); math.Abs(20*math.Log10(rms/5657)) > 0.5 {
		t.Errorf("decoded RMS %.0f, want 5657 within 0.5 dB", rms)
	}
	if share := tone.PowerShare(body, 16000, 1000); share < 0.99 {
		t.Errorf("the 1000 Hz tone is %.3f of the decoded power, want ≥ 0.99 (a faulty decoder adds noise and images)", share)
	}
}

package amdtest

import (
	"math"
	"testing"

	"github.com/sipbridge/sipbridge/internal/tone"
)

// TestRender: the greeting and the beep are where Rendered says, the
// rest is quiet line noise, and the 16 kHz L16 is twice as many samples.
func TestRender(t *testing.T) {
	if n := len(Greetings()); n != 8 {
		t.Fatalf("%d greetings, want 8", n)
	}
	r, err := Answer{Greeting: "machine_mark", LeadMS: 300, BeepGapMS: 300, BeepMS: 400, BeepHz: 850, TailMS: 1000}.Render()
	if err != nil {
		t.Fatal(err)
	}
	at := func(from, to int) []int16 { return r.PCM8[from*8 : to*8] }
	if r.BeepAt != r.GreetingEnd+300 || r.BeepEnd != r.BeepAt+400 || len(r.PCM8) != (r.BeepEnd+1000)*8 {
		t.Fatalf("greeting end %d, beep %d–%d, %d samples", r.GreetingEnd, r.BeepAt, r.BeepEnd, len(r.PCM8))
	}
	if f := tone.DominantFrequency(at(r.BeepAt+20, r.BeepEnd-20), 8000, 440, 850, 1000); f != 850 {
		t.Errorf("the beep is at %v Hz, want 850", f)
	}
	for _, q := range [][2]int{{0, 300}, {r.BeepEnd, r.BeepEnd + 1000}} {
		if db := 20 * math.Log10(tone.RMS(at(q[0], q[1]))/32768); db > -55 {
			t.Errorf("%d–%d ms at %.1f dBFS, want line noise (-60)", q[0], q[1], db)
		}
	}
	if db := 20 * math.Log10(tone.RMS(at(300, r.GreetingEnd))/32768); db < -35 {
		t.Errorf("the greeting at %.1f dBFS", db)
	}
	if n := len(r.L16()); n != 4*len(r.PCM8) {
		t.Errorf("L16: %d bytes for %d samples at 8 kHz", n, len(r.PCM8))
	}
	if _, err := Greeting("nope"); err == nil {
		t.Error("an unknown greeting loaded")
	}
	if _, err := ReadMulawWAV([]byte("RIFF....WAVEfmt ")); err == nil {
		t.Error("a truncated WAV decoded")
	}
}

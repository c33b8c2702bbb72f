package amd

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/audio/amd/amdtest"
)

// TestTTSGreetings runs the detector on the spoken greetings of
// amdtest/testdata/greetings (text-to-speech, 8 kHz μ-law; gen.go there
// made them): each placed 0.3 s after the answer in line noise, at two levels,
// a machine's followed 0.3 s later by a 1 kHz beep; fed at 8 and 16 kHz.
func TestTTSGreetings(t *testing.T) {
	names := amdtest.Greetings()
	if len(names) < 8 {
		t.Fatalf("%d greetings in amdtest", len(names))
	}
	for _, file := range names {
		speech, err := amdtest.Greeting(file)
		if err != nil {
			t.Fatal(err)
		}
		machine := strings.HasPrefix(file, "machine_")
		for _, gainDB := range []float64{-10, 0} {
			lead := 2400 // 0.3 s at 8 kHz
			buf := make([]float64, lead+len(speech)+4*8000)
			g := math.Pow(10, gainDB/20)
			for i, v := range speech {
				buf[lead+i] = g * float64(v)
			}
			beepAt := -1
			if machine {
				beepAt = lead + len(speech) + 2400
				for i := range 3200 { // 400 ms
					buf[beepAt+i] += 8000 * math.Sin(2*math.Pi*1000*float64(i)/8000)
				}
			}
			rng := rand.New(rand.NewPCG(uint64(len(speech)), 9))
			pcm8 := make([]int16, len(buf))
			for i, v := range buf {
				pcm8[i] = int16(math.Max(-32768, math.Min(32767, math.Round(v+dbToAmp(-60)*rng.NormFloat64()))))
			}
			pcm16 := audio.NewUpsampler8to16().Process(nil, pcm8)
			for _, c := range []struct {
				rate int
				pcm  []int16
			}{{8000, pcm8}, {16000, pcm16}} {
				o := run(t, c.pcm, c.rate)
				if c.rate == 16000 {
					t.Logf("%-26s %+3.0f dB: %-7s %-14s at %4d ms (speech 300–%d ms), beep %v at %d ms", file, gainDB, o.decision.Result, o.decision.Cause, o.decision.MS, (lead+len(speech))/8, o.beeped, o.beep.MS)
				}
				want, endMS := Human, (lead+len(speech))/8
				if machine {
					want = Machine
				}
				if o.decision.Result != want || o.decision.MS > max(endMS+800, 300+2400) {
					t.Errorf("%s %+.0f dB %d Hz: %+v (speech %d–%d ms)", file, gainDB, c.rate, o.decision, 300, endMS)
				}
				if machine && (!o.beeped || abs(o.beep.MS-beepAt/8) > 40) || !machine && o.beeped {
					t.Errorf("%s %+.0f dB %d Hz: beep %v %+v, played at %d ms", file, gainDB, c.rate, o.beeped, o.beep, beepAt/8)
				}
			}
		}
	}
}

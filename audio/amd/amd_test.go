package amd

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/audio"
)

func TestNewFillsDefaultsAndNamesBadOptions(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := d.Options()
	if o.SampleRate != 16000 || o.InitialSilence != 3*time.Second || o.Greeting != 2*time.Second ||
		o.AfterGreetingSilence != 700*time.Millisecond || o.TotalAnalysis != 5*time.Second ||
		o.BeepMinLength != 150*time.Millisecond || o.BeepWait != 30*time.Second || o.MinLevelDBFS != -45 {
		t.Fatalf("defaults: %+v", o)
	}
	for _, c := range []struct {
		opt  Options
		name string
	}{
		{Options{SampleRate: 44100}, "sample_rate"},
		{Options{Greeting: -time.Second}, "greeting"},
		{Options{AfterGreetingSilence: time.Hour}, "after_greeting_silence"},
		{Options{MinLevelDBFS: 3}, "min_level_dbfs"},
	} {
		_, err := New(c.opt)
		if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%+v: %v, want ErrOptions naming %s", c.opt, err, c.name)
		}
	}
}

// TestClearCases: each class of the corpus decided right, on time.
func TestClearCases(t *testing.T) {
	for i := range 20 {
		s := synth("human", uint64(i))
		o := run(t, s.pcm16, 16000)
		// the greeting's end + the silence asked for + a frame or two
		if o.decision.Result != Human || o.decision.Cause != CauseShortGreeting ||
			o.decision.MS > s.greetMS+700+60 || o.decision.MS > 2700 {
			t.Errorf("human #%d (greeting ends %d ms): %+v", i, s.greetMS, o.decision)
		}
		if o.beeped {
			t.Errorf("human #%d: a beep %+v", i, o.beep)
		}
	}
	for i := range 20 {
		s := synth("machine", uint64(1000+i))
		o := run(t, s.pcm16, 16000)
		// 2 s of greeting, counted to its last word: when the 2 s fall in a
		// pause (< 300 ms), the next word's first 100 ms decide
		if o.decision.Result != Machine || o.decision.Cause != CauseLongGreeting ||
			o.decision.MS < s.speechMS+2000-FrameMS || o.decision.MS > s.speechMS+2000+400 || o.decision.MS > 4000 {
			t.Errorf("machine #%d (speech at %d ms): %+v", i, s.speechMS, o.decision)
		}
		if s.beepMS < 0 {
			if o.beeped {
				t.Errorf("machine #%d: a beep %+v where none was played", i, o.beep)
			}
			continue
		}
		if !o.beeped || abs(o.beep.MS-s.beepMS) > 40 || math.Abs(o.beep.Hz-s.beepHz) > 0.02*s.beepHz {
			t.Errorf("machine #%d: beep %+v (%v), played at %d ms %.0f Hz", i, o.beep, o.beeped, s.beepMS, s.beepHz)
		}
	}
	for _, c := range []struct {
		class string
		seed  uint64
		want  Decision
	}{
		{"silence", 2000, Decision{Unknown, CauseNoSpeech, 3000}},
		{"silence", 2001, Decision{Unknown, CauseNoSpeech, 3000}},
		{"noise", 3000, Decision{Unknown, CauseNoSpeech, 3000}},
		{"noise", 3001, Decision{Unknown, CauseNoSpeech, 3000}},
	} {
		if o := run(t, synth(c.class, c.seed).pcm16, 16000); o.decision != c.want || o.beeped {
			t.Errorf("%s %d: %+v beep %v, want %+v", c.class, c.seed, o.decision, o.beeped, c.want)
		}
	}
	for i := range 6 {
		o := run(t, synth("music", uint64(4000+i)).pcm16, 16000)
		if o.decision.Result != Machine || o.decision.MS > 3000 || o.beeped {
			t.Errorf("music #%d: %+v beep %v", i, o.decision, o.beeped)
		}
	}
}

func abs(v int) int { return max(v, -v) }

// TestBeepAloneIsAMachine: a voicemail that answers with only its beep.
func TestBeepAloneIsAMachine(t *testing.T) {
	buf := make([]float64, samples(3))
	tone(buf, samples(0.5), samples(0.4), 1000, -12)
	addNoise(buf, rand.New(rand.NewPCG(1, 2)), -60)
	_, pcm := telephone(buf)
	o := run(t, pcm, 16000)
	if o.decision.Result != Machine || o.decision.Cause != CauseBeep || !o.beeped ||
		abs(o.beep.MS-500) > 40 || abs(o.beep.DurationMS-400) > 40 || o.beep.Hz != 1000 {
		t.Fatalf("decision %+v, beep %+v", o.decision, o.beep)
	}
	// reported after the tone ends and its border passes, not before
	if o.decision.MS < 900 || o.decision.MS > 900+80 {
		t.Fatalf("decided at %d ms, want just after the beep ends (900 ms)", o.decision.MS)
	}
}

// TestShortOrMixedTonesAreNoBeep: a tone shorter than BeepMinLength, and
// two notes one after the other, are not beeps.
func TestShortOrMixedTonesAreNoBeep(t *testing.T) {
	buf := make([]float64, samples(4))
	tone(buf, samples(0.5), samples(0.1), 1000, -12)
	tone(buf, samples(1.5), samples(0.3), 440, -12)
	tone(buf, samples(1.8), samples(0.3), 660, -12)
	_, pcm := telephone(buf)
	if o := run(t, pcm, 16000); o.beeped {
		t.Fatalf("beep %+v", o.beep)
	}
}

// TestDecisionNeverChanges: a human's hello, then a long greeting and a
// beep: still Human, decided once; the beep is still reported.
func TestDecisionNeverChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]float64, samples(12))
	v := newVoice(rng)
	end := v.phrase(buf, samples(0.2), samples(0.8), 0.04, 0.1)
	end = v.phrase(buf, end+samples(1.0), samples(6), 0.05, 0.2)
	tone(buf, end+samples(0.3), samples(0.5), 850, -15)
	addNoise(buf, rng, -60)
	_, pcm := telephone(buf)
	d, _ := New(Options{})
	le := audio.AppendL16Bytes(nil, pcm)
	decided := 0
	for i := 0; i < len(le); i += 640 {
		if d.Feed(le[i:min(i+640, len(le))])&Decided != 0 {
			decided++
		}
	}
	dec, _ := d.Decision()
	_, beeped := d.Beep()
	if decided != 1 || dec.Result != Human || !beeped {
		t.Fatalf("decided %d times, %+v, beep %v", decided, dec, beeped)
	}
}

// TestFeedSplitAnywhere: the clock is the audio: the same audio fed in
// pieces of any length (odd ones splitting samples) decides the same, at
// the same ms.
func TestFeedSplitAnywhere(t *testing.T) {
	s := synth("machine", 1001)
	le := audio.AppendL16Bytes(nil, s.pcm16)
	want := run(t, s.pcm16, 16000)
	d, _ := New(Options{})
	rng := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < len(le) && !d.Done(); {
		n := 1 + rng.IntN(1500)
		d.Feed(le[i:min(i+n, len(le))])
		i += n
	}
	dec, _ := d.Decision()
	b, _ := d.Beep()
	if dec != want.decision || b != want.beep {
		t.Fatalf("split: %+v %+v, framed: %+v %+v", dec, b, want.decision, want.beep)
	}
}

// TestDone: done once decided and the beep heard, or BeepWait over.
func TestDone(t *testing.T) {
	d, _ := New(Options{BeepWait: 4 * time.Second})
	silence := make([]byte, 640)
	for d.MS() < 3000 {
		d.Feed(silence)
	}
	if _, ok := d.Decision(); !ok || d.Done() {
		t.Fatalf("at 3 s: decided %v done %v, want decided, not done (BeepWait 4 s)", ok, d.Done())
	}
	for d.MS() < 4000 {
		d.Feed(silence)
	}
	if !d.Done() || d.Feed(silence) != 0 || d.MS() != 4000 {
		t.Fatalf("at 4 s: done %v, ms %d", d.Done(), d.MS())
	}
}

// TestFeedAllocatesNothing: per frame, nothing is allocated.
func TestFeedAllocatesNothing(t *testing.T) {
	s := synth("machine", 1002)
	le := audio.AppendL16Bytes(nil, s.pcm16)
	d, _ := New(Options{})
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		d.Feed(le[i : i+640])
		i += 640
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

// TestBeepLengthBoundary: with BeepMinLength 150 ms and 20 ms frames, a
// beep of 160 ms is always found, one of 120 ms never, whatever its
// frequency and where it falls in a frame (150 ms itself: about half).
func TestBeepLengthBoundary(t *testing.T) {
	for _, c := range []struct {
		seconds float64
		want    bool
	}{{0.16, true}, {0.12, false}} {
		for k := range 20 {
			buf := make([]float64, samples(2))
			hz := 400 + float64(k)*80
			tone(buf, samples(0.5)+k*17, samples(c.seconds), hz, -12)
			addNoise(buf, rand.New(rand.NewPCG(uint64(k), 2)), -60)
			_, pcm := telephone(buf)
			if o := run(t, pcm, 16000); o.beeped != c.want {
				t.Errorf("%.0f ms at %.0f Hz: beep %v, want %v", c.seconds*1000, hz, o.beeped, c.want)
			}
		}
	}
}

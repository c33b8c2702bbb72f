// Package amd is answering machine detection: it listens to the first
// seconds of the callee's audio on an outbound call and tells a person
// from a machine by the cadence of what it hears, then listens on for the
// beep a voicemail plays before it records.
//
// A Detector is fed the callee's audio as it arrives (L16 little-endian
// mono, 16 kHz as mod_audio_stream sends it, or 8 kHz), in frames of any
// length. Its clock is the audio itself: every 20 ms of samples is one
// analysis frame, so a decision's ms is the time into the audio at which
// it was made, not the wall clock.
//
// Each frame is classified from its energy against an adaptive noise floor
// (the quietest frame of the last five seconds, so a steady sound is judged
// before it can become the floor), its zero-crossing rate (hiss crosses
// zero far more often than a voice) and its tonal purity (the share of its
// power a Goertzel filter finds at the frequency its zero crossings
// suggest). Speech and tone frames make words (runs of at least
// Options.MinWord), words closer together than Options.AfterGreetingSilence
// make one greeting, measured from its first word to its last:
//
//   - a greeting followed by AfterGreetingSilence of silence, shorter than
//     Options.Greeting: Human ("Hello?" and a wait for an answer);
//   - a greeting still going after Options.Greeting: Machine ("Hi, you've
//     reached …");
//   - steady tones for Options.Greeting (music, a fax or modem) or a beep
//     before any decision: Machine;
//   - nothing heard for Options.InitialSilence, or no decision by
//     Options.TotalAnalysis: Unknown.
//
// The beep is a steady (±2 %) pure tone between 350 and 2,100 Hz lasting at
// least Options.BeepMinLength, with no tone of another frequency in the
// 40 ms before or after it (a melody's notes follow one another, a beep
// stands alone). It is reported 40 ms after it ends, with the ms at which it
// began, so that whoever waits for it can speak as soon as it is over.
//
// A call's media reader would use it so:
//
//	d, err := amd.New(amd.Options{})
//	…
//	for each frame from mod_audio_stream, while !d.Done() {
//		ev := d.Feed(frame)
//		if ev&amd.Decided != 0 { dec, _ := d.Decision(); tell the assistant dec.Result, dec.MS }
//		if ev&amd.BeepHeard != 0 { b, _ := d.Beep(); act on amd_action }
//	}
//
// The decision never changes once made. A Detector allocates nothing after
// New; memory is bounded whatever it is fed. It is not safe for concurrent
// use: one per call.
package amd

import (
	"errors"
	"fmt"
	"time"
)

// Result is what the callee was taken for.
type Result string

// The results, as the assistant's "amd" event names them.
const (
	Human   Result = "human"
	Machine Result = "machine"
	Unknown Result = "unknown"
)

// Cause says which rule made a decision.
type Cause string

// The causes.
const (
	CauseShortGreeting Cause = "short_greeting" // Human: speech, then silence
	CauseLongGreeting  Cause = "long_greeting"  // Machine: speech longer than Greeting
	CauseTone          Cause = "tone"           // Machine: steady tones (music, fax)
	CauseBeep          Cause = "beep"           // Machine: a beep before any decision
	CauseNoSpeech      Cause = "no_speech"      // Unknown: InitialSilence with nothing heard
	CauseTooLong       Cause = "too_long"       // Unknown: TotalAnalysis without a decision
)

// Decision is the detector's verdict and when it was reached.
type Decision struct {
	Result Result
	Cause  Cause
	MS     int // ms of audio fed when the decision was made
}

// Beep is a voicemail beep heard.
type Beep struct {
	MS         int     // ms of audio at which the tone began (±20 ms: a frame)
	DurationMS int     // how long it lasted
	Hz         float64 // its frequency
}

// Events says what one Feed made known.
type Events uint8

// The events Feed reports.
const (
	Decided   Events = 1 << iota // Decision is now set
	BeepHeard                    // Beep is now set
)

// Options tunes a Detector. A zero field takes its default.
type Options struct {
	// SampleRate of the audio fed: 16000 (default, mod_audio_stream's
	// "mono 16k") or 8000.
	SampleRate int
	// InitialSilence without any speech or tone gives Unknown
	// (CauseNoSpeech). Default 3 s.
	InitialSilence time.Duration
	// Greeting is the longest greeting a person gives: speech (gaps shorter
	// than AfterGreetingSilence included) or tones lasting this long give
	// Machine. Default 2 s.
	Greeting time.Duration
	// AfterGreetingSilence after a greeting shorter than Greeting gives
	// Human: the callee said hello and waits. Default 700 ms.
	AfterGreetingSilence time.Duration
	// MinWord is the shortest run of speech frames counted as a word;
	// shorter blips (a click, a breath) are ignored. Default 100 ms.
	MinWord time.Duration
	// TotalAnalysis caps the classification: undecided by then gives
	// Unknown (CauseTooLong). Default 5 s.
	TotalAnalysis time.Duration
	// BeepMinLength is the shortest tone taken for a beep. Default 150 ms.
	BeepMinLength time.Duration
	// BeepWait is how long from the start of the audio a beep is listened
	// for; after it (and a decision) the detector is Done. Default 30 s.
	BeepWait time.Duration
	// MinLevelDBFS is the quietest frame (RMS, dB relative to full scale)
	// that can be speech or a tone, whatever the noise floor. Default -45.
	MinLevelDBFS float64
}

// Defaults of Options.
const (
	DefaultSampleRate           = 16000
	DefaultInitialSilence       = 3 * time.Second
	DefaultGreeting             = 2 * time.Second
	DefaultAfterGreetingSilence = 700 * time.Millisecond
	DefaultMinWord              = 100 * time.Millisecond
	DefaultTotalAnalysis        = 5 * time.Second
	DefaultBeepMinLength        = 150 * time.Millisecond
	DefaultBeepWait             = 30 * time.Second
	DefaultMinLevelDBFS         = -45.0
)

// FrameMS is the analysis frame: 20 ms, one mod_audio_stream frame.
const FrameMS = 20

// ErrOptions is wrapped by New's errors.
var ErrOptions = errors.New("amd: bad options")

// withDefaults fills the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.SampleRate == 0 {
		o.SampleRate = DefaultSampleRate
	}
	if o.SampleRate != 8000 && o.SampleRate != 16000 {
		return o, fmt.Errorf("%w: sample_rate %d (8000 or 16000)", ErrOptions, o.SampleRate)
	}
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"initial_silence", &o.InitialSilence, DefaultInitialSilence},
		{"greeting", &o.Greeting, DefaultGreeting},
		{"after_greeting_silence", &o.AfterGreetingSilence, DefaultAfterGreetingSilence},
		{"min_word", &o.MinWord, DefaultMinWord},
		{"total_analysis", &o.TotalAnalysis, DefaultTotalAnalysis},
		{"beep_min_length", &o.BeepMinLength, DefaultBeepMinLength},
		{"beep_wait", &o.BeepWait, DefaultBeepWait},
	}
	for _, d := range durs {
		if *d.v < 0 || *d.v > 10*time.Minute {
			return o, fmt.Errorf("%w: %s %v (0 to 10m)", ErrOptions, d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.MinLevelDBFS == 0 {
		o.MinLevelDBFS = DefaultMinLevelDBFS
	}
	if o.MinLevelDBFS > 0 || o.MinLevelDBFS < -90 {
		return o, fmt.Errorf("%w: min_level_dbfs %v (-90 to 0)", ErrOptions, o.MinLevelDBFS)
	}
	return o, nil
}

// frames converts a duration to whole analysis frames (at least one).
func frames(d time.Duration) int {
	n := int(d / (FrameMS * time.Millisecond))
	if n < 1 {
		n = 1
	}
	return n
}

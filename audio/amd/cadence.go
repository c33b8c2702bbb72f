package amd

import "math"

const (
	// wordGapFrames of non-speech end a word (shorter dips are inside it).
	wordGapFrames = 3
	// toneHeardFrames of tone count as something heard (not initial silence).
	toneHeardFrames = 5
	// beepMaxFrames: a steady tone longer than 3 s is not a beep (a dial
	// tone, a fax, a test tone).
	beepMaxFrames = 150
	// beepSteady is how far (relative) a beep's frames may stray from its
	// mean frequency.
	beepSteady = 0.02
	// beepPurity: a beep's frames hold this share of their power at one
	// frequency (a voice's strongest harmonic rarely does for long).
	beepPurity = 0.9
	// beepBorder frames without a tone before and after a beep.
	beepBorder = 2
)

// cadence is the classification's state: words, the greeting they make,
// the tones heard.
type cadence struct {
	voiceRun, silenceRun int
	inWord               bool
	greetingStart        int // first frame of the greeting's first word; -1 before
	lastVoice            int // last speech frame inside a word
	heard                bool
	toneFrames           int
}

func (c *cadence) reset() { *c = cadence{greetingStart: -1} }

// step analyses frame d.n: the beep first (it can decide), then the cadence.
func (d *Detector) step(f frameInfo) Events {
	var ev Events
	floor := d.floor.add(f.dbfs)
	if d.n < d.limit.beepWait && !d.beeped {
		if b, ok := d.beep.step(d.n, f, d.opt.MinLevelDBFS, d.limit); ok {
			d.heard, d.beeped = b, true
			ev |= BeepHeard | d.decide(Machine, CauseBeep)
		}
	}
	if d.decided {
		return ev
	}
	return ev | d.classify(f, floor)
}

// classify follows words and the greeting and applies the rules in order:
// a long greeting, a short one then silence, tones, initial silence, the
// analysis cap.
func (d *Detector) classify(f frameInfo, floor float64) Events {
	c, l, n := &d.cad, d.limit, d.n
	tonal := f.tonal(d.opt.MinLevelDBFS)
	if tonal {
		c.toneFrames++
		c.heard = c.heard || c.toneFrames >= toneHeardFrames
	}
	// a tone is sound too: a voice's vowel can be as pure as a tone
	if tonal || f.speech(floor, d.opt.MinLevelDBFS) {
		c.voiceRun, c.silenceRun = c.voiceRun+1, 0
	} else {
		c.voiceRun, c.silenceRun = 0, c.silenceRun+1
	}
	if !c.inWord && c.voiceRun >= l.minWord {
		c.inWord, c.heard = true, true
		if c.greetingStart < 0 {
			c.greetingStart = n - c.voiceRun + 1
		}
	}
	if c.inWord && c.silenceRun >= wordGapFrames {
		c.inWord = false
	}
	if c.inWord && c.voiceRun > 0 {
		c.lastVoice = n
	}
	switch {
	case c.greetingStart >= 0 && c.lastVoice-c.greetingStart+1 >= l.greeting:
		if 2*c.toneFrames >= l.greeting { // mostly tones: music, a fax
			return d.decide(Machine, CauseTone)
		}
		return d.decide(Machine, CauseLongGreeting)
	case c.greetingStart >= 0 && !c.inWord && n-c.lastVoice >= l.afterGreeting:
		return d.decide(Human, CauseShortGreeting)
	case c.toneFrames >= l.greeting:
		return d.decide(Machine, CauseTone)
	case !c.heard && n+1 >= l.initialSilence:
		return d.decide(Unknown, CauseNoSpeech)
	case n+1 >= l.totalAnalysis:
		return d.decide(Unknown, CauseTooLong)
	}
	return 0
}

// beepTracker follows a run of pure frames in the beep band at one steady
// frequency, and the frames around it: a beep has beepBorder frames before
// and after it without a tone of another frequency (the notes of a melody
// follow one another; the frames where a beep fades in and out, less pure,
// are at its own frequency).
type beepTracker struct {
	start, length int // the run; length 0: none
	hzSum         float64
	afterTone     bool    // another tone in the beepBorder frames before the run
	sinceTonal    int     // frames since the last tonal frame
	lastHz        float64 // the last tonal frame's frequency
	pending       Beep    // a run that ended, waiting for its border after
	wait          int     // frames of border still to see (0: none pending)
}

// sameTone reports two frequencies within beepSteady of each other.
func sameTone(a, b float64) bool { return math.Abs(a-b) <= beepSteady*b }

// step takes frame n and returns a beep once one has ended and its border
// after it has passed without another tone.
func (b *beepTracker) step(n int, f frameInfo, minDB float64, l limits) (Beep, bool) {
	tonal := f.tonal(minDB)
	pure := f.dbfs >= minDB && f.purity >= beepPurity && f.hz >= beepMinHz && f.hz <= beepMaxHz
	defer func() {
		if tonal {
			b.sinceTonal, b.lastHz = 0, f.hz
		} else {
			b.sinceTonal++
		}
	}()
	if b.wait > 0 {
		if b.wait--; tonal && !sameTone(f.hz, b.pending.Hz) {
			b.wait = 0
		} else if b.wait == 0 {
			return b.pending, true
		}
	}
	if b.length > 0 {
		hz := b.hzSum / float64(b.length)
		if pure && sameTone(f.hz, hz) {
			b.length++
			b.hzSum += f.hz
			return Beep{}, false
		}
		ends := !tonal || sameTone(f.hz, hz) // into silence or speech, or fading
		if ends && !b.afterTone && b.length >= l.beepMin && b.length <= l.beepMax {
			b.pending = Beep{MS: b.start * FrameMS, DurationMS: b.length * FrameMS, Hz: math.Round(hz)}
			b.wait = beepBorder
		}
		b.length = 0
	}
	if pure {
		b.start, b.length, b.hzSum = n, 1, f.hz
		b.afterTone = b.sinceTonal < beepBorder && !sameTone(f.hz, b.lastHz)
		if !b.afterTone && b.sinceTonal < beepBorder {
			b.start = n - b.sinceTonal - 1 // the fade-in frame belongs to it
		}
	}
	return Beep{}, false
}

package amd

// Detector classifies one call's callee audio. See the package comment.
type Detector struct {
	opt   Options
	limit limits // the options in frames

	block []float64 // the samples of the frame being filled
	odd   [1]byte   // the first byte of a sample split between two Feeds
	nodd  int
	n     int // frames analysed

	floor floorTracker
	cad   cadence
	beep  beepTracker

	decision Decision
	decided  bool
	heard    Beep
	beeped   bool
}

// limits are the options counted in frames.
type limits struct {
	initialSilence, greeting, afterGreeting, minWord int
	totalAnalysis, beepMin, beepMax, beepWait        int
}

// New returns a detector with opt's defaults filled in, or an error
// wrapping ErrOptions naming the bad option.
func New(opt Options) (*Detector, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Detector{opt: o, block: make([]float64, 0, o.SampleRate*FrameMS/1000)}
	d.limit = limits{
		initialSilence: frames(o.InitialSilence),
		greeting:       frames(o.Greeting),
		afterGreeting:  frames(o.AfterGreetingSilence),
		minWord:        frames(o.MinWord),
		totalAnalysis:  frames(o.TotalAnalysis),
		beepMin:        frames(o.BeepMinLength),
		beepMax:        beepMaxFrames,
		beepWait:       frames(o.BeepWait),
	}
	d.cad.reset()
	return d, nil
}

// Options returns the options in use (defaults filled in).
func (d *Detector) Options() Options { return d.opt }

// Feed analyses le, L16 little-endian mono at the detector's sample rate,
// of any length (a sample split between two calls is joined). It returns
// what this audio made known: Decided, BeepHeard, both or neither. Once
// Done, Feed ignores its input.
func (d *Detector) Feed(le []byte) Events {
	var ev Events
	if d.Done() {
		return 0
	}
	if d.nodd == 1 && len(le) > 0 {
		d.push(int16(uint16(d.odd[0])|uint16(le[0])<<8), &ev)
		le = le[1:]
		d.nodd = 0
	}
	for len(le) >= 2 && !d.Done() {
		d.push(int16(uint16(le[0])|uint16(le[1])<<8), &ev)
		le = le[2:]
	}
	if len(le) == 1 && !d.Done() {
		d.odd[0], d.nodd = le[0], 1
	}
	return ev
}

// push adds one sample and analyses the frame it completes.
func (d *Detector) push(s int16, ev *Events) {
	d.block = append(d.block, float64(s))
	if len(d.block) < cap(d.block) {
		return
	}
	f := analyse(d.block, d.opt.SampleRate)
	d.block = d.block[:0]
	*ev |= d.step(f)
	d.n++
}

// Decision returns the decision once made.
func (d *Detector) Decision() (Decision, bool) { return d.decision, d.decided }

// Beep returns the beep once heard.
func (d *Detector) Beep() (Beep, bool) { return d.heard, d.beeped }

// MS is how much audio has been analysed, in ms (whole frames).
func (d *Detector) MS() int { return d.n * FrameMS }

// Done reports that nothing more will be learnt: decided, and the beep
// heard or BeepWait over (feeding can stop).
func (d *Detector) Done() bool {
	return d.decided && (d.beeped || d.n >= d.limit.beepWait)
}

// decide records the decision unless one was made (it never changes).
func (d *Detector) decide(r Result, c Cause) Events {
	if d.decided {
		return 0
	}
	d.decision = Decision{Result: r, Cause: c, MS: (d.n + 1) * FrameMS}
	d.decided = true
	return Decided
}

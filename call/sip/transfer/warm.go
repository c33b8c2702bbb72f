package transfer

// A warm transfer: the caller is put on hold (it hears Hold, not the
// assistant), the target is dialled through the trunks as a leg of its
// own, parked; once it answers the assistant's stream moves to that leg
// and the assistant briefs the target (the caller hears none of it); then
// the assistant completes the transfer (caller and target bridged, the
// assistant released) or cancels it (the target hung up, the caller back
// with the assistant). Warm decides each step; the call's session
// (call/sip) sends the commands.

// DefaultHold is what a caller on hold hears unless a hold audio file is
// configured: 2 s of 440 + 480 Hz every 6 s (the North American ringback),
// until it is stopped.
const DefaultHold = "tone_stream://%(2000,4000,440,480);loops=-1"

// HoldAudio is the hold audio of a configured file (TRANSFER_HOLD_AUDIO),
// or DefaultHold when none is.
func HoldAudio(configured string) string {
	if configured == "" {
		return DefaultHold
	}
	return configured
}

// WarmPhase is where a warm transfer is.
type WarmPhase int

const (
	// WarmDialing: the target's leg is being dialled, the caller on hold.
	WarmDialing WarmPhase = iota
	// WarmBriefing: the target answered; the assistant talks to it.
	WarmBriefing
	// WarmOver: completed, cancelled or failed; nothing follows.
	WarmOver
)

// WarmInput is what happens to a warm transfer.
type WarmInput int

const (
	TargetAnswered    WarmInput = iota // the target's leg answered
	DialFailed                         // nobody answered on any trunk (declined, rang out)
	AssistantComplete                  // the assistant's transfer_complete
	AssistantCancel                    // the assistant's transfer_cancel
	TargetGone                         // the target hung up
	AssistantGone                      // the assistant closed its stream or hung up
	StreamFailed                       // the target's media stream failed
	CallerGone                         // the caller hung up, or sipbridge stops
)

// WarmAction is what the session does about an input.
type WarmAction int

const (
	// Ignore: nothing to do now (e.g. transfer_complete before the target
	// answered).
	Ignore WarmAction = iota
	// Brief: attach the assistant's stream to the target's leg and tell
	// the assistant the target answered.
	Brief
	// Complete: stop the hold and the assistant's stream, bridge the
	// caller to the target, release the assistant.
	Complete
	// GiveBack: hang the target up (or stop dialling it), stop the hold,
	// attach the assistant to the caller again and tell it why
	// (transfer_failed).
	GiveBack
	// Abandon: the caller is gone: hang the target up (or stop dialling).
	Abandon
)

// Warm is a warm transfer under way.
type Warm struct {
	Plan  *Plan
	Hold  string // what the caller hears meanwhile
	Phase WarmPhase
	// Leg is the target's channel once it answered.
	Leg string
	// assistantGone: the assistant left while the target was dialled;
	// an answer is then bridged at once.
	assistantGone bool
}

// NewWarm starts the warm transfer of p with the caller hearing hold.
func NewWarm(p *Plan, hold string) *Warm { return &Warm{Plan: p, Hold: HoldAudio(hold)} }

// Step moves the transfer on an input and says what to do.
func (w *Warm) Step(in WarmInput) WarmAction {
	if w.Phase == WarmOver {
		return Ignore
	}
	act := w.next(in)
	switch act {
	case Brief:
		w.Phase = WarmBriefing
	case Complete, GiveBack, Abandon:
		w.Phase = WarmOver
	}
	return act
}

func (w *Warm) next(in WarmInput) WarmAction {
	briefing := w.Phase == WarmBriefing
	switch in {
	case CallerGone:
		return Abandon
	case TargetAnswered:
		switch {
		case briefing:
			return Ignore
		case w.assistantGone:
			return Complete // nobody to brief: the humans talk
		}
		return Brief
	case DialFailed, AssistantCancel:
		if in == DialFailed && briefing {
			return Ignore
		}
		return GiveBack
	case AssistantComplete:
		if briefing {
			return Complete
		}
		return Ignore
	case AssistantGone:
		if briefing {
			return Complete // the assistant left the target briefed
		}
		w.assistantGone = true
		return Ignore
	case TargetGone, StreamFailed:
		if briefing {
			return GiveBack
		}
	}
	return Ignore
}

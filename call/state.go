package call

import "fmt"

// State is where a live call is in its life. Both paths move a call
// through these states only along the transitions of allowed; a call's
// booleans (answered, transferred, ending) are questions to its state.
type State uint8

// Call states.
const (
	// Routing: an inbound call being routed (trunk, number, assistant,
	// policy); nothing answered yet.
	Routing State = iota
	// Ringing: an outbound call placed and not answered yet.
	Ringing
	// Connecting: answered; the media stream and the assistant are being
	// connected (again, after a stream restart).
	Connecting
	// InProgress: the caller talks to the assistant.
	InProgress
	// Transferring: a transfer (REFER or bridge) is under way; the
	// assistant may still be on the line until it is decided.
	Transferring
	// Transferred: the call left the assistant (bridged or referred away).
	Transferred
	// Ending: sipbridge asked the switch or the provider to hang up.
	Ending
	// Ended: an answered call is over.
	Ended
	// Failed: the call ended without being answered (refused, not
	// answered, every trunk failed, cancelled).
	Failed
)

var stateNames = [...]string{"routing", "ringing", "connecting", "in_progress", "transferring", "transferred", "ending", "ended", "failed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// allowed is the table of transitions: from → the states it may go to.
var allowed = map[State][]State{
	// An inbound call not answered yet may be bridged away (its
	// assistant unreachable: the fallback number).
	Routing:    {Connecting, Transferring, Transferred, Ending, Failed},
	Ringing:    {Connecting, Ending, Failed},
	Connecting: {InProgress, Transferring, Transferred, Ending, Ended},
	// InProgress → Connecting: the media stream is restarted.
	InProgress: {Connecting, Transferring, Transferred, Ending, Ended},
	// Transferring is a transfer under way (a provider's transfer request;
	// the SIP path's REFER or bridge leg): it goes back where it was when
	// the transfer fails.
	Transferring: {Routing, Connecting, InProgress, Transferred, Ending, Ended},
	Transferred:  {Ending, Ended},
	Ending:       {Ended, Failed},
}

// Can tells whether a call in s may move to next.
func (s State) Can(next State) bool {
	for _, n := range allowed[s] {
		if n == next {
			return true
		}
	}
	return false
}

// Terminal: the call is over (Ended or Failed).
func (s State) Terminal() bool { return s == Ended || s == Failed }

// Answered: the call is answered and talks to its assistant (Transferring
// and Transferred say nothing: an inbound call may be transferred before
// it is answered; Lifecycle.WasAnswered remembers).
func (s State) Answered() bool {
	return s == Connecting || s == InProgress
}

// TransitionError is a move the table does not allow.
type TransitionError struct{ From, To State }

func (e *TransitionError) Error() string {
	return "call state: " + e.From.String() + " → " + e.To.String() + " is not allowed"
}

// Lifecycle is one call's state. It is not safe for concurrent use: it
// belongs to the goroutine (or the mutex) that owns the call.
type Lifecycle struct {
	state State
	// answered stays true once the call was answered, also while it ends.
	answered bool
	// transferred stays true once the call left its assistant.
	transferred bool
}

// NewLifecycle starts a call in Routing (inbound) or Ringing (outbound).
func NewLifecycle(outbound bool) Lifecycle {
	if outbound {
		return Lifecycle{state: Ringing}
	}
	return Lifecycle{state: Routing}
}

// State returns the current state.
func (l *Lifecycle) State() State { return l.state }

// WasAnswered tells whether the call was answered at some point (also once
// it is ending or ended).
func (l *Lifecycle) WasAnswered() bool { return l.answered }

// To moves the call to next; a move the table does not allow changes
// nothing and returns a *TransitionError.
func (l *Lifecycle) To(next State) error {
	if !l.state.Can(next) {
		return &TransitionError{From: l.state, To: next}
	}
	l.state = next
	if next.Answered() {
		l.answered = true
	}
	if next == Transferred {
		l.transferred = true
	}
	return nil
}

// WasTransferred tells whether the call left its assistant (also once it
// is ending or ended).
func (l *Lifecycle) WasTransferred() bool { return l.transferred }

// MarkAnswered records an answer that comes when the call has moved on
// already (FreeSWITCH answering a bridge after the call was transferred or
// while it ends): the state stays, the call counts as answered.
func (l *Lifecycle) MarkAnswered() { l.answered = true }

// MarkTransferred records a transfer that succeeds while the call ends.
func (l *Lifecycle) MarkTransferred() { l.transferred = true }

// End moves the call to its terminal state: Ended when it was answered,
// Failed otherwise. It returns false when it was over already.
func (l *Lifecycle) End() bool {
	if l.state.Terminal() {
		return false
	}
	if l.answered {
		l.state = Ended
	} else {
		l.state = Failed
	}
	return true
}

package adopt

import (
	"github.com/sipbridge/sipbridge/call/sip/transfer"
	"github.com/sipbridge/sipbridge/db"
)

// Action is what becomes of an open call record.
type Action int

const (
	// Adopt: the caller's channel is there and the record in progress (the
	// record is written once the channel is answered; the switch's channel
	// table may still say otherwise for a moment):
	// the call goes on with its assistant (a new stream, a new assistant
	// socket). Legs holds the transfer legs still ringing, to hang up.
	Adopt Action = iota
	// Watch: the call was transferred (its channel is bridged to an
	// answered transfer leg, Legs): it stays up without an assistant and
	// its record closes when it ends.
	Watch
	// HangUp: the call was not answered (inbound still routing, outbound
	// ringing) or its record never said so: its channel and Legs are hung
	// up and the record closed as failed (Reason).
	HangUp
	// Close: no channel of the call on this switch, and none elsewhere:
	// the record is closed as failed (Reason).
	Close
	// Leave: the call's channel lives on a node this process does not
	// control: its record is left to that node's controller.
	Leave
)

func (a Action) String() string {
	return [...]string{"adopt", "watch", "hang_up", "close", "leave"}[a]
}

// The reasons of the records a starting sipbridge closes.
const (
	ReasonGone       = "sipbridge restarted while the call was live: its channel was gone"
	ReasonUnanswered = "sipbridge restarted before the call was answered: hung up"
)

// Decision is the fate of one open call record.
type Decision struct {
	Call    db.Call
	Channel *Channel  // the caller's channel (Adopt, Watch, HangUp when found)
	Legs    []Channel // the call's other channels (see Action)
	Action  Action
	Reason  string // HangUp, Close: the record's reason
}

// Decide gives each open record its action. elsewhere tells whether a
// record with no channel here has one on a node this process does not
// control (nil: none has).
func Decide(open []db.Call, chans []Channel, elsewhere func(db.Call) bool) []Decision {
	byCall := map[string][]Channel{}
	byUUID := map[string]Channel{}
	for _, ch := range chans {
		byUUID[ch.UUID] = ch
		if ch.CallID != "" {
			byCall[ch.CallID] = append(byCall[ch.CallID], ch)
		}
	}
	out := make([]Decision, 0, len(open))
	for _, rec := range open {
		d := Decision{Call: rec}
		var others []Channel
		for _, ch := range byCall[rec.ID] {
			if ch.UUID == rec.CallSID && ch.Leg == "" {
				d.Channel = &ch
			} else {
				others = append(others, ch)
			}
		}
		if ch, ok := byUUID[rec.CallSID]; ok && d.Channel == nil && ch.CallID == "" && rec.Direction == db.DirectionInbound {
			d.Channel = &ch // routed before its sipbridge_call_id was set
		}
		decide(&d, others, elsewhere)
		out = append(out, d)
	}
	return out
}

func decide(d *Decision, others []Channel, elsewhere func(db.Call) bool) {
	switch {
	case d.Channel == nil && len(others) == 0:
		d.Action, d.Reason = Close, ReasonGone
		if elsewhere != nil && d.Call.CallSID != "" && elsewhere(d.Call) {
			d.Action, d.Reason = Leave, ""
		}
	case d.Channel == nil || d.Call.Status != db.CallInProgress:
		// Not answered, or a leg answered that the record never named.
		d.Action, d.Reason, d.Legs = HangUp, ReasonUnanswered, others
	default:
		d.Action = Adopt
		// A bridge's answered leg: the caller is talking to it. A warm
		// transfer's (sipbridge_leg warm) is not bridged: the caller
		// holds while the assistant briefs it, and the briefing cannot be
		// taken over, so the leg is hung up and the caller given back.
		for _, l := range others {
			if l.Leg == transfer.LegTransfer && l.Answered() {
				d.Action, d.Legs = Watch, []Channel{l}
				return
			}
		}
		d.Legs = others
	}
}

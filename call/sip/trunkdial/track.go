// Package trunkdial dials through an organization's trunks: the originate
// dial string over the enabled trunks in priority order, each leg ringing
// its trunk's time before the next is tried (DialString), and the legs that
// originate then makes, followed from the channel events FreeSWITCH sends:
// which trunk each leg went to, when it was created, how it ended, and so
// what each trunk's attempt was (Track).
package trunkdial

import (
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// Track follows the legs of one originate (an outbound call's, or a
// bridged transfer's) from the events HandleEvent sees: which trunk each
// leg went to, when it was created, how it ended. It is written by the
// event dispatcher and read once the originate has returned.
type Track struct {
	ID     string        // sipbridge_dial of its legs
	trunks []db.SIPTrunk // in dial order
	// Created is closed at the first leg's CHANNEL_CREATE. On a real switch
	// that event fires after the channel's CS_INIT handler, in which
	// mod_sofia sends the INVITE: the call is placed.
	Created chan struct{}
	// OnCreate, when set, is called (on the dispatcher) at that moment.
	OnCreate func(leg string)

	mu   sync.Mutex
	legs []*legAttempt
}

// legAttempt is one leg an originate tried.
type legAttempt struct {
	uuid, trunkID string
	created       time.Time
	answered      bool
	cause         string
	ended         time.Time
}

// NewTrack starts following the legs of the originate whose sipbridge_dial is
// id, dialling trunks in that order.
func NewTrack(id string, trunks []db.SIPTrunk) *Track {
	return &Track{ID: id, trunks: trunks, Created: make(chan struct{})}
}

// Observe records what one event of a leg says.
func (t *Track) Observe(e *esl.Event, now time.Time) {
	t.mu.Lock()
	var leg *legAttempt
	for _, l := range t.legs {
		if l.uuid == e.UUID() {
			leg = l
		}
	}
	first := false
	switch e.Name() {
	case "CHANNEL_CREATE":
		if leg == nil {
			first = len(t.legs) == 0
			t.legs = append(t.legs, &legAttempt{uuid: e.UUID(), trunkID: e.Get("variable_sipbridge_trunk_id"), created: now})
		}
	case "CHANNEL_ANSWER":
		if leg != nil && !leg.answered && leg.cause == "" {
			leg.answered, leg.ended = true, now
		}
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE":
		if leg != nil && !leg.answered && leg.cause == "" {
			leg.cause, leg.ended = e.Get("Hangup-Cause"), now
		}
	}
	t.mu.Unlock()
	if first {
		close(t.Created)
		if t.OnCreate != nil {
			t.OnCreate(e.UUID())
		}
	}
}

// Has reports whether a leg was seen.
func (t *Track) Has(leg string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.legs {
		if l.uuid == leg {
			return true
		}
	}
	return false
}

// FirstLeg is the channel of the first leg created ("" before).
func (t *Track) FirstLeg() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.legs) == 0 {
		return ""
	}
	return t.legs[0].uuid
}

// Attempts lists the trunks in dial order up to the one that answered
// (answered, the leg's channel; "" when none did), with final, the
// originate's own cause, for the last trunk when no event told its fate.
func (t *Track) Attempts(answered, final string) (out []call.DialAttempt, trunk *db.SIPTrunk) {
	t.mu.Lock()
	defer t.mu.Unlock()
	byTrunk := map[string][]*legAttempt{}
	for _, l := range t.legs {
		byTrunk[l.trunkID] = append(byTrunk[l.trunkID], l)
	}
	// The originate's cause is its last leg's: when the last leg made
	// ended with it (a cancel, a refusal), the trunks after it were not
	// tried; otherwise the last trunk's leg died unborn (its gateway down).
	unborn := final
	if n := len(t.legs); n > 0 && t.legs[n-1].cause == final {
		unborn = ""
	}
	for i := range t.trunks {
		tr := &t.trunks[i]
		a := call.DialAttempt{TrunkID: tr.ID, Trunk: tr.Name, Gateway: tr.GatewayName}
		var leg *legAttempt
		if ls := byTrunk[tr.ID]; len(ls) > 0 {
			leg = ls[0]
		}
		switch {
		case leg != nil && (leg.uuid == answered || leg.answered) && answered != "":
			a.Cause, trunk = "ANSWER", tr
		case leg != nil && leg.cause != "":
			a.Cause = leg.cause
		case leg == nil && answered == "" && i == len(t.trunks)-1 && unborn != "":
			a.Cause = unborn
		case leg != nil && answered == "":
			a.Cause = final
		default:
			a.Cause = "NOT_TRIED"
		}
		if leg != nil {
			a.Leg = leg.uuid
			end := leg.ended
			if end.IsZero() {
				end = time.Now()
			}
			a.RingSeconds = float64(end.Sub(leg.created).Round(10*time.Millisecond)) / float64(time.Second)
		}
		out = append(out, a)
		if trunk != nil {
			break
		}
	}
	return out, trunk
}

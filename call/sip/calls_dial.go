package sip

import (
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// dialTrack follows the legs of one originate (an outbound call's, or a
// bridged transfer's) from the events HandleEvent sees: which trunk each
// leg went to, when it was created, how it ended. It is written by the
// event dispatcher and read once the originate has returned.
type dialTrack struct {
	id     string        // sipbridge_dial of its legs
	trunks []db.SIPTrunk // in dial order
	// created is closed at the first leg's CHANNEL_CREATE. On a real switch
	// that event fires after the channel's CS_INIT handler, in which
	// mod_sofia sends the INVITE: the call is placed.
	created chan struct{}
	// onCreate, when set, is called (on the dispatcher) at that moment.
	onCreate func(leg string)

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

func newDialTrack(id string, trunks []db.SIPTrunk) *dialTrack {
	return &dialTrack{id: id, trunks: trunks, created: make(chan struct{})}
}

// observe records what one event of a leg says.
func (t *dialTrack) observe(e *esl.Event, now time.Time) {
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
		close(t.created)
		if t.onCreate != nil {
			t.onCreate(e.UUID())
		}
	}
}

// has reports whether a leg was seen.
func (t *dialTrack) has(leg string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.legs {
		if l.uuid == leg {
			return true
		}
	}
	return false
}

// firstLeg is the channel of the first leg created ("" before).
func (t *dialTrack) firstLeg() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.legs) == 0 {
		return ""
	}
	return t.legs[0].uuid
}

// attempts lists the trunks in dial order up to the one that answered
// (answered, the leg's channel; "" when none did), with final, the
// originate's own cause, for the last trunk when no event told its fate.
func (t *dialTrack) attempts(answered, final string) (out []call.DialAttempt, trunk *db.SIPTrunk) {
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

// trackDial starts following an originate's legs.
func (s *callSession) trackDial(id string, trunks []db.SIPTrunk) *dialTrack {
	t := newDialTrack(id, trunks)
	s.mu.Lock()
	s.track = t
	s.mu.Unlock()
	return t
}

// observeLeg feeds a leg's event to the session's current dial (called by
// HandleEvent, never blocking).
func (s *callSession) observeLeg(e *esl.Event) {
	dial := e.Get("variable_sipbridge_dial")
	if dial == "" {
		return
	}
	s.mu.Lock()
	t := s.track
	s.mu.Unlock()
	if t != nil && t.id == dial {
		t.observe(e, s.c.opts.Now())
	}
}

// dialAttempts waits a moment for the legs' last events (they travel on
// the other connection), then writes one dial_attempt timeline entry per
// trunk tried and returns them with the trunk that answered.
func (s *callSession) dialAttempts(answered, final string) ([]call.DialAttempt, *db.SIPTrunk) {
	s.mu.Lock()
	t := s.track
	s.mu.Unlock()
	if t == nil {
		return nil, nil
	}
	if answered == "" {
		time.Sleep(100 * time.Millisecond)
	} else {
		// The answered leg's CHANNEL_CREATE came long before the answer on
		// the switch, but may still be on its way here.
		for i := 0; i < 30 && !t.has(answered); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if !t.has(answered) {
			// Not seen (the event connection reconnecting): ask its channel.
			if tid, err := s.api("uuid_getvar " + answered + " sipbridge_trunk_id"); err == nil {
				t.observe(&esl.Event{Headers: map[string]string{"Event-Name": "CHANNEL_CREATE", "Unique-ID": answered,
					"variable_sipbridge_trunk_id": strings.TrimSpace(tid)}}, s.c.opts.Now())
			}
		}
	}
	att, trunk := t.attempts(answered, final)
	for _, a := range att {
		s.event(call.EventDialAttempt, db.JSONMap{"trunk_id": a.TrunkID, "trunk": a.Trunk, "gateway": a.Gateway, "cause": a.Cause,
			"ring_seconds": a.RingSeconds, "leg": a.Leg})
	}
	return att, trunk
}

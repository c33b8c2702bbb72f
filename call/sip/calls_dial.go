package sip

import (
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/trunkdial"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// trackDial starts following an originate's legs.
func (s *callSession) trackDial(id string, trunks []db.SIPTrunk) *trunkdial.Track {
	t := trunkdial.NewTrack(id, trunks)
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
	if t != nil && t.ID == dial {
		t.Observe(e, s.c.opts.Now())
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
		for i := 0; i < 30 && !t.Has(answered); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if !t.Has(answered) {
			// Not seen (the event connection reconnecting): ask its channel.
			if tid, err := s.api("uuid_getvar " + answered + " sipbridge_trunk_id"); err == nil {
				t.Observe(&esl.Event{Headers: map[string]string{"Event-Name": "CHANNEL_CREATE", "Unique-ID": answered,
					"variable_sipbridge_trunk_id": strings.TrimSpace(tid)}}, s.c.opts.Now())
			}
		}
	}
	att, trunk := t.Attempts(answered, final)
	for _, a := range att {
		s.event(call.EventDialAttempt, db.JSONMap{"trunk_id": a.TrunkID, "trunk": a.Trunk, "gateway": a.Gateway, "cause": a.Cause,
			"ring_seconds": a.RingSeconds, "leg": a.Leg})
	}
	return att, trunk
}

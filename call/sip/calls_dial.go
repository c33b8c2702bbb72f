package sip

import (
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/trunkdial"
	"github.com/sipbridge/sipbridge/db"
)

// trackDial starts following an originate's legs.
func (s *callSession) trackDial(id string, trunks []db.SIPTrunk) *trunkdial.Track {
	return s.dials.Start(id, trunks)
}

// dialAttempts writes one dial_attempt timeline entry per trunk the
// current originate tried (trunkdial.Current.Attempts) and returns them
// with the trunk that answered.
func (s *callSession) dialAttempts(answered, final string) ([]call.DialAttempt, *db.SIPTrunk) {
	att, trunk := s.dials.Attempts(answered, final, s.c.opts.Now, func(leg string) (string, error) {
		return s.api("uuid_getvar " + leg + " sipbridge_trunk_id")
	})
	for _, a := range att {
		s.event(call.EventDialAttempt, db.JSONMap{"trunk_id": a.TrunkID, "trunk": a.Trunk, "gateway": a.Gateway, "cause": a.Cause,
			"ring_seconds": a.RingSeconds, "leg": a.Leg})
	}
	return att, trunk
}

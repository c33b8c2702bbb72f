package sip

import (
	"errors"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// reasonSwitchUnreachable is the end reason of a call whose switch stayed
// unreachable, its media stream closed, for SwitchLostAfter.
const reasonSwitchUnreachable = "FreeSWITCH unreachable and the call's media stream closed: the call was lost with the switch"

// checkChannel is a live call's periodic check of its channel; true when
// it ended the call (its record closed).
//   - FreeSWITCH says the channel is gone: its CHANNEL_HANGUP_COMPLETE was
//     lost (an Event Socket reconnect), and the call ends now.
//   - FreeSWITCH cannot be asked and the call's media stream from it is
//     closed too: a switch killed (or cut off) with the call up. Once that
//     has lasted SwitchLostAfter, the call ends as lost with the switch, so
//     a switch that never comes back does not leave the record open. An
//     Event Socket cut alone leaves the media stream up and ends nothing.
func (s *callSession) checkChannel() bool {
	gone, err := s.askChannel()
	now := s.c.opts.Now()
	switch {
	case gone:
		s.finish(nil)
		return true
	case err != nil && !errors.Is(err, esl.ErrCommand) && s.fs == nil:
		if s.switchLostSince.IsZero() {
			s.switchLostSince = now
			return false
		}
		lost := now.Sub(s.switchLostSince)
		if lost < s.c.opts.SwitchLostAfter {
			return false
		}
		s.log.Warn("call lost with FreeSWITCH: unreachable, the call's media stream closed", "unreachable_ms", lost.Milliseconds(), "err", err)
		s.endReason = reasonSwitchUnreachable
		s.finish(nil)
		return true
	default:
		s.switchLostSince = time.Time{}
	}
	return false
}

package sip

import (
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/transfer"
)

// A call's state is its call.Lifecycle (callSession.life): Routing
// (inbound) or Ringing (outbound, its originate under way) until answered;
// Connecting while its media stream is being connected, InProgress once it
// is attached; Transferring while a REFER or a bridge leg is under way
// (its data: refering, bridging), back where it was when the transfer
// fails, Transferred when it succeeds; Ending once sipbridge hangs up, the
// channel goes, or a ringing outbound call is cancelled; Ended or Failed
// when it is over.

// to moves the call to another state (call.State); a move the table does
// not allow leaves it where it is, and is logged.
func (s *callSession) to(next call.State) {
	if s.life.State() == next {
		return
	}
	s.mu.Lock()
	err := s.life.To(next)
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("call state not changed", "err", err)
	}
}

// answered records the answer of the caller's channel at t: our
// uuid_answer, FreeSWITCH's own (a bridge), or an outbound call's trunk.
func (s *callSession) answered(t time.Time) {
	s.answeredAt = t
	switch s.life.State() {
	case call.Routing, call.Ringing:
		s.to(call.Connecting)
	default:
		// Answered while already being transferred, transferred or ending.
		s.mu.Lock()
		s.life.MarkAnswered()
		s.mu.Unlock()
	}
}

// end moves the call to its terminal state (call.Lifecycle.End).
func (s *callSession) end() {
	s.mu.Lock()
	s.life.End()
	s.mu.Unlock()
}

// notAnswered: an outbound call whose originate has not been answered
// (ringing, or being cancelled). Read by the API.
func (s *callSession) notAnswered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outbound && !s.life.WasAnswered() && !s.life.State().Terminal()
}

// transferPending: a REFER or a bridge leg is under way, its outcome not
// yet known.
func (s *callSession) transferPending() bool { return s.life.State() == call.Transferring }

// ending: sipbridge asked FreeSWITCH to hang up, or the channel is going.
func (s *callSession) ending() bool {
	st := s.life.State()
	return st == call.Ending || st.Terminal()
}

// transferred: the call left the assistant (bridge or REFER).
func (s *callSession) transferred() bool { return s.life.WasTransferred() }

// markTransferred records a transfer that succeeded while the call ends.
func (s *callSession) markTransferred() {
	s.mu.Lock()
	s.life.MarkTransferred()
	s.mu.Unlock()
}

// beginTransfer moves the call to Transferring; p remembers where it was.
func (s *callSession) beginTransfer(p *transfer.Plan) {
	p.Back = s.life.State()
	s.to(call.Transferring)
}

// resume puts a call whose transfer failed back where it was (as an
// answered call when it was answered meanwhile: a REFER answers first).
func (s *callSession) resume(p *transfer.Plan) {
	if !s.transferPending() {
		return
	}
	back := p.Back
	if !back.Answered() && s.life.WasAnswered() {
		back = call.Connecting
	}
	s.to(back)
}

// streamMoved follows the media stream restarting (InProgress →
// Connecting) or attaching (Connecting → InProgress); during a transfer
// the state the call goes back to moves instead.
func (s *callSession) streamMoved(from, to call.State) {
	var p *transfer.Plan
	switch {
	case s.refering != nil:
		p = s.refering.Plan
	case s.bridging != nil:
		p = s.bridging
	}
	if s.transferPending() && p != nil {
		if p.Back == from {
			p.Back = to
		}
		return
	}
	if s.life.State() == from {
		s.to(to)
	}
}

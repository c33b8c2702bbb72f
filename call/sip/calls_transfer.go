package sip

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/transfer"
	"github.com/sipbridge/sipbridge/call/sip/trunkdial"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// planTransfer decides how to reach `to` (transfer.New), unless the call
// is gone, ending, or already being (or been) transferred.
func (s *callSession) planTransfer(to, mode string) (*transfer.Plan, error) {
	if s.rec == nil || s.ending() {
		return nil, call.ErrCallNotFound
	}
	if s.transferred() || s.transferPending() {
		return nil, call.ErrTransferInProgress
	}
	c := transfer.Call{Ctx: s.c.ctx, Store: s.c.store, Policy: call.AddressPolicy(s.c.opts.AddressPolicy),
		ID: s.id, OrgID: s.rec.OrgID, CallerID: s.rec.FromNumber, LegTimeout: s.c.opts.LegTimeout,
		Track: func(id string, trunks []db.SIPTrunk) { s.trackDial(id, trunks) }}
	if s.route != nil {
		c.Trunk = s.route.Trunk
		if s.route.Number != nil && s.route.Number.SIPTrunkID != nil {
			c.OwnTrunkID = *s.route.Number.SIPTrunkID
		}
	}
	p, err := transfer.New(c, to, mode)
	if err == nil && p.Warm && !s.life.WasAnswered() {
		return nil, call.ErrNotAnswered
	}
	return p, err
}

// transfer plans and runs a transfer (the assistant's, the API's or the
// fallback of a fault). An error means the call was left as it was.
func (s *callSession) transfer(to, mode string) error {
	p, err := s.planTransfer(to, mode)
	if err != nil {
		s.event(call.EventTransferFailed, db.JSONMap{"to": to, "error": err.Error()})
		return err
	}
	s.runTransfer(p)
	return nil
}

// runTransfer starts the REFER or the bridge: the call is Transferring.
// The assistant keeps the caller (its stream, the playback, the caller's
// audio) until the outcome is known: leaveAssistant on success,
// transferFailed otherwise.
func (s *callSession) runTransfer(p *transfer.Plan) {
	s.beginTransfer(p)
	if p.Warm {
		s.startWarm(p)
		return
	}
	if p.ReferURI != "" {
		if !s.life.WasAnswered() {
			// A REFER needs a dialog: answer the caller first.
			if out, err := s.api("uuid_answer " + s.uuid); err != nil {
				s.log.Warn("uuid_answer before REFER failed", "err", err, "reply", out)
			}
		}
		s.refer(p)
		return
	}
	s.startBridge(p)
}

// leaveAssistant ends the assistant's part once a transfer has succeeded:
// its stream, the caller's audio stream and the playback.
func (s *callSession) leaveAssistant() {
	s.closeAssistant(true)
	if s.ending() {
		s.markTransferred()
	} else {
		s.to(call.Transferred)
	}
	_, _ = s.api("uuid_audio_stream " + s.uuid + " stop")
	_, _ = s.api("uuid_break " + s.uuid + " all")
	// After the break, which also drops a broadcast of the pipe not yet
	// started: removed before FreeSWITCH opened it, it would log an error.
	s.closePipe()
	s.closeFS()
}

// transferFailed: nobody took the call, which is back where it was. With
// its assistant still there the conversation goes on (the assistant is
// told with transfer_failed); a call with no assistant left (a fault's
// fallback, an assistant that hung up or went away meanwhile) is hung up.
func (s *callSession) transferFailed(p *transfer.Plan, reason string) {
	s.event(call.EventTransferFailed, db.JSONMap{"to": p.To, "reason": reason})
	if s.ending() {
		return
	}
	s.resume(p)
	if s.stream == nil {
		s.kill(causeNormal, "transfer to "+p.To+" failed: "+reason)
		return
	}
	s.log.Warn("transfer failed: the caller is back with the assistant", "to", p.To, "reason", reason)
	if err := s.stream.SendTransferFailed(p.To, reason); err != nil {
		s.log.Debug("transfer_failed not sent", "err", err)
	}
}

// refer sends a SIP REFER (uuid_deflect) after the channel variables
// that shape it (transfer.ReferVars). The outcome comes from the bgapi's
// reply, the NOTIFY (onReferNotify) or polling (onTimer): referDone
// decides; nothing blocks the session meanwhile.
func (s *callSession) refer(p *transfer.Plan) {
	uri := p.ReferURI
	for _, v := range transfer.ReferVars {
		if out, err := s.api("uuid_setvar " + s.uuid + " " + v); err != nil {
			s.log.Warn("uuid_setvar failed", "var", v, "err", err, "reply", out)
		}
	}
	s.event(call.EventReferSent, db.JSONMap{"refer_to": uri})
	ctx, cancel := context.WithTimeout(s.c.ctx, transfer.ReferTimeout+5*time.Second)
	out, err := s.c.sw.BGAPI(ctx, "uuid_deflect "+s.uuid+" "+uri)
	cancel()
	s.refering = transfer.NewRefer(p, s.c.opts.Now())
	s.referDone(transfer.Deflected(out, err))
}

// onReferNotify reads the sipfrag of a sofia::notify_refer.
func (s *callSession) onReferNotify(body string) {
	frag := strings.TrimSpace(body)
	s.event(call.EventReferNotify, db.JSONMap{"sipfrag": frag})
	s.referDone(transfer.Notified(frag))
}

// referDone ends a pending REFER: accepted → the call has moved, hang up our
// leg; declined → bridge to the fallback number or hang up.
func (s *callSession) referDone(o transfer.Outcome) {
	r := s.refering
	if r == nil || !o.Decided {
		return
	}
	accepted, detail := o.Accepted, o.Detail
	s.refering = nil
	if s.ending() {
		return // the caller is leaving: nothing to fall back to
	}
	p := r.Plan
	if accepted {
		s.event(call.EventReferAccepted, db.JSONMap{"refer_to": p.ReferURI, "reply": detail})
		s.leaveAssistant()
		s.kill("BLIND_TRANSFER", "transferred by REFER to "+p.ReferURI)
		return
	}
	s.log.Warn("REFER not accepted", "refer_to", p.ReferURI, "detail", detail)
	s.event(call.EventReferFailed, db.JSONMap{"refer_to": p.ReferURI, "reply": detail})
	if p.BridgeTo == "" || p.DialErr != nil {
		reason := "REFER to " + p.ReferURI + " not accepted: " + detail
		if p.DialErr != nil {
			reason += "; bridging " + p.BridgeTo + " impossible: " + p.DialErr.Error()
		}
		s.transferFailed(p, reason)
		return
	}
	s.event(call.EventReferDeclinedNowBridging, db.JSONMap{"to": p.BridgeTo, "mode": "bridge", "after": "refer declined"})
	s.startBridge(p)
}

func (s *callSession) getvarInt(name string) int {
	out, err := s.api("uuid_getvar " + s.uuid + " " + name)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// startBridge originates the bridge leg without blocking the session: the
// result comes back as a reqDialDone request; a caller who hangs up while
// it rings cancels it (hupall on sipbridge_dial).
func (s *callSession) startBridge(p *transfer.Plan) {
	if s.ending() {
		return
	}
	s.bridging = p
	s.event(call.EventBridgeDialing, db.JSONMap{"to": p.BridgeTo, "dial_string": p.Dial})
	c := s.c
	done := c.registry.Also()
	go func() {
		defer done()
		ctx, cancel := context.WithTimeout(c.ctx, trunkdial.MaxDialTime(p.Dial, c.opts.LegTimeout))
		out, err := c.sw.BGAPI(ctx, "originate "+p.Dial+" &park()")
		cancel()
		if c.ctx.Err() != nil {
			c.cancelDial(p.DialID) // stopping: the job goes on in FreeSWITCH, end its legs
		}
		c.dialOver(p.DialID)
		out = strings.TrimSpace(out)
		s.requests.Push(request{kind: reqDialDone, to: p.BridgeTo, out: out, err: err, dial: p.DialID, warm: p.Warm})
		if s.exited.Load() {
			killAnswered(c, out) // nobody is left to bridge it
		}
	}()
}

// killAnswered hangs up the leg an originate answered with, if any.
func killAnswered(c *Calls, out string) {
	if leg, ok := strings.CutPrefix(out, "+OK "); ok && leg != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = c.sw.API(ctx, "uuid_kill "+leg+" ORIGINATOR_CANCEL")
	}
}

// onDialDone bridges the caller to the answered leg.
func (s *callSession) onDialDone(r request) {
	p := s.bridging
	s.bridging = nil
	if s.ending() {
		killAnswered(s.c, r.out)
		return
	}
	if r.warm {
		s.warmDialDone(r)
		return
	}
	if p == nil {
		p = &transfer.Plan{To: r.to, BridgeTo: r.to}
	}
	leg, final, cause, answered := trunkdial.Reply(r.out, r.err)
	_, trunk := s.dialAttempts(leg, final)
	if !answered {
		s.transferFailed(p, "no answer from "+r.to+": "+cause)
		return
	}
	s.leaveAssistant()
	s.c.addLeg(leg, s)
	if !s.life.WasAnswered() {
		// Still ringing (an unreachable assistant's fallback): the caller is
		// answered only now that someone is there to talk to.
		if out, err := s.api("uuid_answer " + s.uuid); err != nil {
			s.log.Warn("uuid_answer before the bridge failed", "err", err, "reply", out)
		}
	}
	if out, err := s.api("uuid_bridge " + s.uuid + " " + leg); err != nil {
		s.event(call.EventTransferFailed, db.JSONMap{"to": r.to, "error": strings.TrimSpace(out)})
		_, _ = s.api("uuid_kill " + leg)
		s.kill(causeNormal, "bridge failed")
		return
	}
	s.endReason = "transferred to " + r.to
	s.event(call.EventTransferred, trunkdial.Detail(db.JSONMap{"to": r.to, "leg": leg}, trunk))
}

// cancelDial hangs up the legs of an originate still ringing (its
// sipbridge_dial id); legs it starts afterwards are hung up as they are
// created (HandleEvent).
func (c *Calls) cancelDial(id string) {
	c.mu.Lock()
	c.cancelledDials[id] = true // until the originate returns (dialOver)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = c.sw.API(ctx, "hupall ORIGINATOR_CANCEL sipbridge_dial "+id)
}

// cancelBridge cancels the bridge leg of a transfer still dialling.
func (s *callSession) cancelBridge() {
	if s.bridging != nil {
		s.c.cancelDial(s.bridging.DialID)
	}
}

// handleLegEvent follows a bridged leg, and a warm transfer's target;
// its end does not end the session (the caller's channel does).
func (s *callSession) handleLegEvent(e *esl.Event) bool {
	if s.warm != nil && e.UUID() == s.warm.Leg {
		s.warmLegEvent(e)
	}
	if e.Name() == "CHANNEL_HANGUP_COMPLETE" {
		s.event(call.EventLegHangup, db.JSONMap{"leg": e.UUID(), "cause": e.Get("Hangup-Cause")})
	}
	return false
}

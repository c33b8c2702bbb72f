package sip

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/trunkdial"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// transferPlan is what a transfer will do, decided before the assistant is
// let go, so that a transfer that cannot happen leaves the call as it was.
type transferPlan struct {
	to       string
	referURI string // send a REFER to this URI first ("": bridge at once)
	bridgeTo string // the E.164 number to bridge to: at once, or when the REFER is declined
	dial     string // its originate dial string ("" when bridging cannot be done)
	dialErr  error  // why not
	dialID   string // sipbridge_dial of its legs (hupall cancels them)
	// back is the state the call goes back to when the transfer fails.
	back call.State
}

// planTransfer decides how to reach `to`. mode "" picks by the target: a
// sip: URI gets a REFER (a declined one falls back to bridging the URI's
// number, if it is one); an E.164 number gets a REFER when the call's trunk
// transfers by REFER (Refer-To from its template), else it is bridged out
// through the organization's trunks. mode "refer" and "bridge" force it.
func (s *callSession) planTransfer(to, mode string) (*transferPlan, error) {
	if s.rec == nil || s.ending() {
		return nil, call.ErrCallNotFound
	}
	if s.transferred() || s.transferPending() {
		return nil, call.ErrTransferInProgress
	}
	t, err := call.ParseTransferTarget(to)
	if err != nil {
		return nil, err
	}
	p := &transferPlan{to: to}
	tr := s.trunk()
	hasTemplate := tr != nil && tr.ReferToTemplate != ""
	switch {
	case t.SIPURI != "" && mode != "bridge":
		p.referURI, p.bridgeTo = t.SIPURI, call.E164User(t.SIPURI)
	case t.SIPURI != "": // bridge to the URI's number
		if p.bridgeTo = call.E164User(t.SIPURI); p.bridgeTo == "" {
			return nil, call.ErrBadTransferMode
		}
	case mode == "refer" && !hasTemplate:
		return nil, call.ErrNoReferTemplate
	case mode == "refer" || (mode == "" && hasTemplate && tr.TransferMode == "refer"):
		p.referURI, p.bridgeTo = call.ApplyReferTemplate(tr.ReferToTemplate, t.E164), t.E164
	default:
		p.bridgeTo = t.E164
	}
	// The host FreeSWITCH will send the REFER (or the INVITE) to: the
	// target's, or the template's, checked now as well as at write time
	// (a name may resolve elsewhere since, the policy may have changed).
	if host := t.HostPort; host != "" || p.referURI != "" {
		if host == "" {
			host = call.ReferTemplateHostPort(tr.ReferToTemplate)
		}
		if err := call.CheckTransferHost(s.c.ctx, call.AddressPolicy(s.c.opts.AddressPolicy), host); err != nil {
			return nil, err
		}
	}
	if p.bridgeTo != "" {
		// The number is reached either way: bridged out, or dialled by
		// the carrier after the REFER, which bills the organization too.
		if err := s.checkTransferDestination(p.bridgeTo); err != nil {
			return nil, err
		}
		p.dial, p.dialID, p.dialErr = s.bridgeDial(p.bridgeTo)
		if p.referURI == "" && p.dialErr != nil {
			return nil, p.dialErr // nothing else to try: refuse before letting go
		}
	}
	return p, nil
}

// checkTransferDestination applies the organization's destination rules
// (call.CheckDestination) to the number a transfer reaches.
func (s *callSession) checkTransferDestination(number string) error {
	ctx, cancel := context.WithTimeout(s.c.ctx, 10*time.Second)
	defer cancel()
	org, err := s.c.store.GetOrg(ctx, s.rec.OrgID)
	if err != nil {
		return err
	}
	return call.CheckDestination(org, number)
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
func (s *callSession) runTransfer(p *transferPlan) {
	s.beginTransfer(p)
	if p.referURI != "" {
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
	if s.fs != nil {
		_ = s.fs.Close()
		s.fs = nil
	}
}

// transferFailed: nobody took the call, which is back where it was. With
// its assistant still there the conversation goes on (the assistant is
// told with transfer_failed); a call with no assistant left (a fault's
// fallback, an assistant that hung up or went away meanwhile) is hung up.
func (s *callSession) transferFailed(p *transferPlan, reason string) {
	s.event(call.EventTransferFailed, db.JSONMap{"to": p.to, "reason": reason})
	if s.ending() {
		return
	}
	s.resume(p)
	if s.stream == nil {
		s.kill(causeNormal, "transfer to "+p.to+" failed: "+reason)
		return
	}
	s.log.Warn("transfer failed: the caller is back with the assistant", "to", p.to, "reason", reason)
	if err := s.stream.SendTransferFailed(p.to, reason); err != nil {
		s.log.Debug("transfer_failed not sent", "err", err)
	}
}

func (s *callSession) trunk() *db.SIPTrunk {
	if s.route == nil {
		return nil
	}
	return s.route.Trunk
}

// referTimeout is how long a REFER may take to succeed (FreeSWITCH itself
// waits 10 s for the answer to a REFER).
const referTimeout = 10 * time.Second

// referPoll is how often the REFER's answer is read while it is pending.
const referPoll = 200 * time.Millisecond

// pendingRefer is a REFER sent and not yet decided.
type pendingRefer struct {
	plan     *transferPlan // its bridgeTo is tried when the REFER is declined
	deadline time.Time
	next     time.Time // next poll of sip_refer_status_code
}

// refer sends a SIP REFER (uuid_deflect). uuid_deflect copies every sip_h_*
// variable into the REFER, so the inbound X-/Diversion headers are excluded
// first (exclude_outgoing_extra_header is a regex on the variable name,
// read in sofia_glue_get_extra_headers). sip_refer_continue_after_reply
// keeps the call up whatever the REFER's fate (a real switch hangs up even
// after a declined REFER otherwise, as recorded); mod_sofia then answers
// the bgapi at once ("+OK:(null)") and the outcome comes later: the NOTIFY
// (sofia::notify_refer, sipfrag "SIP/2.0 200 OK") or a final answer to the
// REFER in sip_refer_status_code (603 …), read by polling. The session
// decides in onReferEvent/pollRefer; nothing blocks it meanwhile.
func (s *callSession) refer(p *transferPlan) {
	uri := p.referURI
	for _, v := range []string{"exclude_outgoing_extra_header ^sip_h_", "sip_refer_continue_after_reply true"} {
		if out, err := s.api("uuid_setvar " + s.uuid + " " + v); err != nil {
			s.log.Warn("uuid_setvar failed", "var", v, "err", err, "reply", out)
		}
	}
	s.event(call.EventReferSent, db.JSONMap{"refer_to": uri})
	ctx, cancel := context.WithTimeout(s.c.ctx, referTimeout+5*time.Second)
	out, err := s.c.sw.BGAPI(ctx, "uuid_deflect "+s.uuid+" "+uri)
	cancel()
	out = strings.TrimSpace(out)
	now := s.c.opts.Now()
	s.refering = &pendingRefer{plan: p, deadline: now.Add(referTimeout), next: now.Add(referPoll)}
	switch {
	case err != nil || strings.HasPrefix(out, "-ERR"):
		s.referDone(false, fmt.Sprintf("uuid_deflect: %s %v", out, err))
	case strings.HasPrefix(out, "+OK:SIP/2.0 2"): // a switch that waited for the NOTIFY
		s.referDone(true, out)
	}
}

// onReferNotify reads the sipfrag of a sofia::notify_refer.
func (s *callSession) onReferNotify(body string) {
	frag := strings.TrimSpace(body)
	s.event(call.EventReferNotify, db.JSONMap{"sipfrag": frag})
	if s.refering == nil {
		return
	}
	code := sipfragStatus(frag)
	switch {
	case code >= 200 && code < 300:
		s.referDone(true, frag)
	case code >= 300:
		s.referDone(false, frag)
	}
}

// pollRefer reads the REFER's answer codes; at the deadline it gives up.
func (s *callSession) pollRefer() {
	r := s.refering
	now := s.c.opts.Now()
	if now.Before(r.next) {
		return
	}
	r.next = now.Add(referPoll)
	if code := s.getvarInt("sip_refer_status_code"); code >= 300 {
		s.referDone(false, "REFER answered "+strconv.Itoa(code))
		return
	}
	if code := s.getvarInt("sip_refer_target_status_code"); code >= 200 {
		s.referDone(code < 300, "transfer target answered "+strconv.Itoa(code))
		return
	}
	if !now.Before(r.deadline) {
		s.referDone(false, "no answer to the REFER within "+referTimeout.String())
	}
}

// referDone ends a pending REFER: accepted → the call has moved, hang up our
// leg; declined → bridge to the fallback number or hang up.
func (s *callSession) referDone(accepted bool, detail string) {
	r := s.refering
	if r == nil {
		return
	}
	s.refering = nil
	if s.ending() {
		return // the caller is leaving: nothing to fall back to
	}
	p := r.plan
	if accepted {
		s.event(call.EventReferAccepted, db.JSONMap{"refer_to": p.referURI, "reply": detail})
		s.leaveAssistant()
		s.kill("BLIND_TRANSFER", "transferred by REFER to "+p.referURI)
		return
	}
	s.log.Warn("REFER not accepted", "refer_to", p.referURI, "detail", detail)
	s.event(call.EventReferFailed, db.JSONMap{"refer_to": p.referURI, "reply": detail})
	if p.bridgeTo == "" || p.dialErr != nil {
		reason := "REFER to " + p.referURI + " not accepted: " + detail
		if p.dialErr != nil {
			reason += "; bridging " + p.bridgeTo + " impossible: " + p.dialErr.Error()
		}
		s.transferFailed(p, reason)
		return
	}
	s.event(call.EventReferDeclinedNowBridging, db.JSONMap{"to": p.bridgeTo, "mode": "bridge", "after": "refer declined"})
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

// sipfragStatus reads the status code of a message/sipfrag body
// ("SIP/2.0 200 OK"); 0 when it is not one.
func sipfragStatus(frag string) int {
	rest, ok := strings.CutPrefix(frag, "SIP/2.0 ")
	if !ok || len(rest) < 3 {
		return 0
	}
	n, err := strconv.Atoi(rest[:3])
	if err != nil {
		return 0
	}
	return n
}

// bridgeDial prepares the originate that bridges the call out to number
// through the organization's enabled trunks (the number's own trunk first,
// then by priority; one originate fails over from leg to leg), after the
// outbound country allow-list.
func (s *callSession) bridgeDial(number string) (dial, dialID string, err error) {
	ctx, cancel := context.WithTimeout(s.c.ctx, 10*time.Second)
	defer cancel()
	org, err := s.c.store.GetOrg(ctx, s.rec.OrgID)
	if err != nil {
		return "", "", err
	}
	if err := call.CheckDestination(org, number); err != nil {
		return "", "", err
	}
	trunks, err := s.c.store.EnabledTrunksOfOrg(ctx, s.rec.OrgID)
	if err != nil {
		return "", "", err
	}
	var own string
	if s.route != nil && s.route.Number != nil && s.route.Number.SIPTrunkID != nil {
		own = *s.route.Number.SIPTrunkID
	}
	dialID = db.NewID()
	dial, err = trunkdial.DialString(trunks, own, number, trunkdial.Options{
		LeadingPlus: org.Settings.SIPTrunkConfig.OutboundLeadingPlusEnabled,
		CallerID:    s.rec.FromNumber, LegTimeout: s.c.opts.LegTimeout,
		Vars: map[string]string{"sipbridge_call_id": s.id, "sipbridge_dial": dialID, "sipbridge_leg": "transfer"},
	})
	if err == nil {
		s.trackDial(dialID, trunkdial.Order(trunks, own))
	}
	return dial, dialID, err
}

// startBridge originates the bridge leg without blocking the session: the
// result comes back as a reqDialDone request; a caller who hangs up while
// it rings cancels it (hupall on sipbridge_dial).
func (s *callSession) startBridge(p *transferPlan) {
	if s.ending() {
		return
	}
	s.bridging = p
	s.event(call.EventBridgeDialing, db.JSONMap{"to": p.bridgeTo, "dial_string": p.dial})
	c := s.c
	done := c.registry.Also()
	go func() {
		defer done()
		ctx, cancel := context.WithTimeout(c.ctx, trunkdial.MaxDialTime(p.dial, c.opts.LegTimeout))
		out, err := c.sw.BGAPI(ctx, "originate "+p.dial+" &park()")
		cancel()
		if c.ctx.Err() != nil {
			c.cancelDial(p.dialID) // stopping: the job goes on in FreeSWITCH, end its legs
		}
		c.dialOver(p.dialID)
		out = strings.TrimSpace(out)
		s.requests.Push(request{kind: reqDialDone, to: p.bridgeTo, out: out, err: err})
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
	if p == nil {
		p = &transferPlan{to: r.to, bridgeTo: r.to}
	}
	leg, ok := strings.CutPrefix(r.out, "+OK ")
	_, trunk := s.dialAttempts(leg, strings.TrimSpace(strings.TrimPrefix(r.out, "-ERR")))
	if r.err != nil || !ok || leg == "" {
		cause := strings.TrimSpace(strings.TrimPrefix(r.out, "-ERR"))
		if cause == "" && r.err != nil {
			cause = r.err.Error()
		}
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
	detail := db.JSONMap{"to": r.to, "leg": leg}
	if trunk != nil {
		detail["trunk_id"], detail["trunk"], detail["gateway"] = trunk.ID, trunk.Name, trunk.GatewayName
	}
	s.event(call.EventTransferred, detail)
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
		s.c.cancelDial(s.bridging.dialID)
	}
}

// handleLegEvent follows a bridged leg; its end does not end the session
// (the caller's channel does), so this only reports.
func (s *callSession) handleLegEvent(e *esl.Event) bool {
	if e.Name() == "CHANNEL_HANGUP_COMPLETE" {
		s.event(call.EventLegHangup, db.JSONMap{"leg": e.UUID(), "cause": e.Get("Hangup-Cause")})
	}
	return false
}

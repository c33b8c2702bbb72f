package sip

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/amdwatch"
	"github.com/sipbridge/sipbridge/call/sip/outbound"
	"github.com/sipbridge/sipbridge/call/sip/trunkdial"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// Initiate places an outbound call from one of the organization's numbers
// and bridges it to the assistant once answered (the same bridge as inbound
// calls). For a number on a SIP trunk it sends one originate over the
// organization's enabled trunks in priority order (the number's own trunk
// first), failing over leg by leg.
func (c *Calls) Initiate(ctx context.Context, req call.InitiateRequest) (*call.InitiateResult, error) {
	if err := outbound.CheckNumbers(req); err != nil {
		return nil, err
	}
	// Counted as live from here, so a drain waits for it.
	done, err := c.registry.Begin()
	if err != nil {
		return nil, err
	}
	defer done() // the call's own goroutine takes its count
	return c.initiate(ctx, req)
}

// initiate does Initiate's work.
func (c *Calls) initiate(ctx context.Context, req call.InitiateRequest) (*call.InitiateResult, error) {
	r, err := outbound.Resolve(ctx, outbound.Sources{Numbers: c.router, Store: c.store}, req, c.opts.Hosted != nil)
	if err != nil {
		return nil, err
	}
	org, number, a := r.Org, r.Number, r.Assistant
	release := c.lockAdmit(org.ID)
	defer release()
	if err := c.limits.Check(ctx, org, req.To); err != nil {
		return nil, err
	}
	if err := outbound.CheckCallbackSecret(ctx, c.store, req, a.ID); err != nil {
		return nil, err
	}
	if number.Provider != db.ProviderBYOSIP {
		req.Resolved = r
		return c.opts.Hosted.Initiate(ctx, req)
	}
	return c.originateSIP(ctx, org, number, a, req, release) // releases once the record exists
}

// outboundPlan is an outbound call prepared by the API goroutine (the
// record, the dial string): the session's own goroutine takes it over
// (takeOutbound) before it dials, so no other goroutine writes the
// session's fields.
type outboundPlan struct {
	req    call.InitiateRequest
	a      *db.Assistant
	rec    *db.Call
	secret string
	dial   string
	dialID string
	trunks []db.SIPTrunk // in dial order
	placed chan string   // the first leg, once the INVITE has left
	result chan dialResult
}

func (c *Calls) originateSIP(ctx context.Context, org *db.Organization, number *db.PhoneNumber, a *db.Assistant, req call.InitiateRequest, releaseAdmit func()) (*call.InitiateResult, error) {
	trunks, err := c.store.EnabledTrunksOfOrg(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	own := ""
	if number.SIPTrunkID != nil {
		own = *number.SIPTrunkID
	}
	p := &outboundPlan{req: req, a: a, dialID: db.NewID(), trunks: trunkdial.Order(trunks, own),
		placed: make(chan string, 1), result: make(chan dialResult, 1)}
	if req.StatusCallback != "" {
		if p.secret, err = c.store.SMSWebhookSecret(ctx, a.ID); err != nil {
			return nil, call.ErrNoCallbackSecret
		}
	}
	s := newOutboundSession(c, org.ID)
	p.dial, err = trunkdial.DialString(trunks, own, req.To, trunkdial.Options{
		LeadingPlus: org.Settings.SIPTrunkConfig.OutboundLeadingPlusEnabled,
		CallerID:    req.From, LegTimeout: c.opts.LegTimeout,
		Vars: map[string]string{"sipbridge_call_id": s.id, "sipbridge_dial": p.dialID, "origination_caller_id_name": strings.TrimPrefix(req.From, "+")},
	})
	if err != nil {
		return nil, err
	}
	p.rec = &db.Call{ID: s.id, OrgID: org.ID, AssistantID: &a.ID, PhoneNumberID: &number.ID, Direction: db.DirectionOutbound,
		FromNumber: req.From, ToNumber: req.To, ResolvedDID: req.From, Status: db.CallRinging, StartedAt: c.opts.Now().UTC(), Node: c.opts.Node}
	if err := c.store.CreateCall(ctx, p.rec); err != nil {
		return nil, err
	}
	releaseAdmit() // the record counts from now on
	c.mu.Lock()
	c.byID[s.id] = s
	c.mu.Unlock()
	c.registry.Add(s.id, org.ID, c)
	s.live = c.registry.Also() // the call's goroutine: dialOutbound, then runOutbound
	go s.dialOutbound(p)
	if req.Wait {
		r := <-p.result
		return r.res, r.err
	}
	// The call is placed once its first leg exists (the INVITE has left);
	// an originate that fails before that (no gateway up, FreeSWITCH
	// unreachable) is answered as an error at once.
	select {
	case r := <-p.result:
		return r.res, r.err
	case leg := <-p.placed:
		return &call.InitiateResult{CallID: s.id, CallSID: leg, Ringing: true}, nil
	}
}

// dialResult is what an outbound originate came to.
type dialResult struct {
	res *call.InitiateResult
	err error
}

// takeOutbound is the session's goroutine taking over the call the API
// prepared: its record, assistant, status callback and dial tracking.
func (s *callSession) takeOutbound(p *outboundPlan) *trunkdial.Track {
	c := s.c
	s.assistant = p.a
	s.rec = p.rec
	s.status = c.statusNotifier(p.req.StatusCallback, p.secret, s.id, s.log, s.event)
	s.info = assistant.StartInfo{From: p.req.From, To: p.req.To, AssistantID: p.a.ID, Direction: db.DirectionOutbound,
		WelcomeMessage: cmp.Or(p.req.WelcomeMessage, p.a.WelcomeMessage), Extra: map[string]string{}, AudioFormat: p.a.Config.AudioFormat}
	for k, v := range p.req.Variables {
		s.info.Extra[k] = v
	}
	if p.req.Agenda != "" {
		s.info.Extra["agenda"] = p.req.Agenda
	}
	s.watchAMD(p.req)
	track := s.trackDial(p.dialID, p.trunks)
	// On the dispatcher: the record is updated by the dial's goroutine.
	snapshot := *p.rec // a copy: this goroutine writes rec
	status := s.status
	track.OnCreate = func(leg string) {
		st := call.StatusOf(call.StatusRinging, &snapshot, c.opts.Now())
		st.CallSID = leg
		status.Notify(st)
	}
	s.event(call.EventDialing, db.JSONMap{"to": p.req.To, "dial_string": p.dial})
	return track
}

// dialOutbound runs the outbound call's originate and, once a trunk has
// answered, the call itself (runOutbound); it owns the call's count in
// the registry of live calls (s.live).
func (s *callSession) dialOutbound(p *outboundPlan) {
	c := s.c
	track := s.takeOutbound(p)
	octx, cancel := context.WithTimeout(c.ctx, trunkdial.MaxDialTime(p.dial, c.opts.LegTimeout))
	job := make(chan dialResult, 1)
	go func() {
		out, err := c.sw.BGAPI(octx, "originate "+p.dial+" &park()")
		job <- dialResult{err: err, res: &call.InitiateResult{CallSID: out}}
	}()
	r := s.ring(p, track, job)
	cancel()
	if c.ctx.Err() != nil {
		s.cancelRinging(p.dialID) // stopping: the job goes on in FreeSWITCH, end its legs
	}
	c.dialOver(p.dialID)
	out := strings.TrimSpace(r.res.CallSID)
	leg, ok := strings.CutPrefix(out, "+OK ")
	if ok && s.ending() {
		killAnswered(c, out) // answered as it was being cancelled
		out, ok = "-ERR ORIGINATOR_CANCEL", false
	}
	if err := s.dialOutcome(out, leg, ok, r.err); err != nil {
		s.end()
		c.remove(s)
		s.exit() // hangup and transfer requests made while it rang
		s.notifyEnd(call.StatusFailed)
		p.result <- dialResult{err: err}
		s.live()
		return
	}
	p.result <- dialResult{res: &call.InitiateResult{CallID: s.id, CallSID: leg}}
	s.runOutbound()
}

// ring waits for the outbound call's originate to return. Meanwhile the
// call is Ringing: its first leg makes it placed, and a hangup asked
// through the API cancels it (Ending). Other requests wait for the call.
func (s *callSession) ring(p *outboundPlan, track *trunkdial.Track, job <-chan dialResult) dialResult {
	created := track.Created
	var later []request
	defer func() {
		for _, r := range later {
			s.requests.Push(r)
		}
	}()
	for {
		select {
		case r := <-job:
			return r
		case <-created:
			created = nil
			// Placed: the record names the first leg until one answers.
			leg := track.FirstLeg()
			s.update(map[string]any{"call_sid": leg})
			s.rec.CallSID = leg
			s.event(call.EventPlaced, db.JSONMap{"leg": leg})
			p.placed <- leg
		case <-s.requests.Wake():
			for _, r := range s.requests.Drain() {
				if r.kind != reqHangup {
					later = append(later, r)
				} else if s.life.State() == call.Ringing {
					s.cancelRinging(p.dialID)
				}
			}
		}
	}
}

// cancelRinging cancels the outbound call's own originate (dialID).
func (s *callSession) cancelRinging(dialID string) {
	s.to(call.Ending)
	s.c.cancelDial(dialID)
}

// dialOutcome closes the record of an originate that connected nobody and
// returns why; for an answered one it records the answer and returns nil.
func (s *callSession) dialOutcome(out, leg string, ok bool, err error) error {
	c := s.c
	if err != nil && (errors.Is(err, esl.ErrNotConnected) || errors.Is(err, esl.ErrClosed)) {
		// Nothing was dialled: FreeSWITCH is not reachable.
		s.update(map[string]any{"status": db.CallFailed, "hangup_cause": "SWITCH_UNAVAILABLE",
			"reason": "FreeSWITCH is not connected: " + err.Error(), "ended_at": c.opts.Now().UTC()})
		s.rec.HangupCause, s.rec.Status = "SWITCH_UNAVAILABLE", db.CallFailed
		return fmt.Errorf("%w: %w", call.ErrSwitchUnavailable, err)
	}
	if err != nil || !ok || leg == "" {
		derr := s.dialFailed(out, err)
		if s.ending() { // cancelled while it rang
			return call.ErrCallCancelled
		}
		return derr
	}
	s.uuid = leg
	s.log = s.log.With("call_uuid", leg)
	c.addLeg(leg, s)
	now := c.opts.Now().UTC()
	s.answered(now)
	cols := map[string]any{"status": db.CallInProgress, "answered_at": now, "call_sid": leg}
	_, trunk := s.dialAttempts(leg, "")
	if trunk != nil {
		cols["trunk_id"] = trunk.ID
		s.rec.TrunkID = &trunk.ID
		s.log = s.log.With("trunk", trunk.GatewayName)
	}
	s.update(cols)
	s.rec.CallSID, s.rec.Status = leg, db.CallInProgress
	s.event(call.EventAnswered, trunkdial.Detail(db.JSONMap{"leg": leg}, trunk))
	s.status.Notify(call.StatusOf(call.StatusAnswered, s.rec, now))
	return nil
}

// dialFailed closes the record of a call no trunk connected and returns the
// error naming each trunk's cause (from the legs' hangup events, the last
// one from the originate reply).
func (s *callSession) dialFailed(out string, err error) error {
	_, _, final, _ := trunkdial.Reply(out, err)
	att, _ := s.dialAttempts("", final)
	derr := &call.DialError{Cause: final, Attempts: att}
	s.event(call.EventDialFailed, db.JSONMap{"cause": final})
	s.update(map[string]any{"status": db.CallFailed, "hangup_cause": final, "reason": derr.Error(), "ended_at": s.c.opts.Now().UTC()})
	s.rec.Status, s.rec.HangupCause, s.rec.Reason = db.CallFailed, final, derr.Error()
	s.log.Warn("outbound call failed on every trunk", "cause", final, "attempts", derr.Error())
	return derr
}

// notifyFinish posts the end of an outbound call from the columns finish
// wrote.
func (s *callSession) notifyFinish(cols map[string]any) {
	if s.status == nil {
		return
	}
	s.rec.HangupCause, _ = cols["hangup_cause"].(string)
	s.rec.Reason, _ = cols["reason"].(string)
	s.rec.DurationSeconds, _ = cols["duration_seconds"].(int)
	event := call.StatusFailed
	if cols["status"] == db.CallCompleted {
		event = call.StatusCompleted
	}
	s.notifyEnd(event)
}

// notifyEnd posts the call's last status (completed or failed) with the
// record's cause.
func (s *callSession) notifyEnd(event string) {
	if s.status == nil || s.rec == nil {
		return
	}
	st := call.StatusOf(event, s.rec, s.c.opts.Now())
	st.Cause, st.Reason, st.DurationSeconds = s.rec.HangupCause, s.rec.Reason, s.rec.DurationSeconds
	s.status.Notify(st)
}

// runOutbound bridges an answered outbound call to its assistant.
func (s *callSession) runOutbound() {
	defer s.live()
	defer s.c.remove(s)
	defer s.cleanup()
	defer s.exit()
	if s.connectAssistant() {
		if s.assistant.RecordingEnabled {
			s.startRecording()
		}
		s.playWelcome()
		s.startPipe()
		s.startStream()
	}
	s.loop()
}

// connectAssistant dials the assistant's stream; on failure it runs the
// fault path and reports false.
func (s *callSession) connectAssistant() bool {
	dialCtx, cancel := context.WithTimeout(s.c.ctx, s.c.opts.AssistantConnectTimeout)
	defer cancel()
	opts := append([]assistant.DialOption{assistant.WithConnectTimeout(s.c.opts.AssistantConnectTimeout),
		assistant.WithLogger(s.log), assistant.WithNetDialContext(call.AddressPolicy(s.c.opts.AddressPolicy).DialContext)},
		s.c.opts.DialOptions...)
	s.info.AccountSID = call.TwilioAccountSID(s.rec.OrgID)
	// call_id is the record's id, the one the API knows; the channel's
	// UUID stays available as call_sid (either finds the call in the API).
	s.info.CallID = s.id
	if s.info.Extra == nil {
		s.info.Extra = map[string]string{}
	}
	s.info.Extra[assistant.ParamCallID] = s.id
	s.info.Extra[assistant.ParamCallSID] = s.uuid
	if hex := strings.ReplaceAll(s.uuid, "-", ""); len(hex) == 32 {
		s.info.CallSID = "CA" + hex // start.callSid: Twilio's shape, from the channel as before
	}
	st, err := assistant.Dial(dialCtx, s.assistant.StreamURL, s.info, opts...)
	if err != nil {
		s.log.Warn("assistant unreachable", "err", err)
		s.event(call.EventAssistantUnreachable, db.JSONMap{"error": err.Error()})
		s.fault("assistant unreachable")
		return false
	}
	s.stream = st
	s.asst.Store(st)
	s.event(call.EventAssistantConnected, db.JSONMap{"stream_sid": st.StreamSID()})
	return true
}

// legOf routes a leg of an outbound call (it carries sipbridge_call_id) to
// its session before the originate has answered.
func (c *Calls) legOf(e *esl.Event) *callSession {
	id := e.Get("variable_sipbridge_call_id")
	if id == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.byID[id]
	if s != nil {
		c.byUUID[e.UUID()] = s
	}
	return s
}

// watchAMD starts the answering machine detection an outbound call asked
// for: its reports come back to the session's goroutine (onAMD).
func (s *callSession) watchAMD(req call.InitiateRequest) {
	if !req.AMD {
		return
	}
	w, err := amdwatch.New(req.AMDAction, func(r amdwatch.Report) { s.requests.Push(request{kind: reqAMD, amd: r}) })
	if err != nil {
		s.log.Warn("answering machine detection not started", "err", err)
	}
	s.amd = w
}

// onAMD tells the assistant and the timeline what answered, and hangs up
// a machine when amd_action says so.
func (s *callSession) onAMD(r amdwatch.Report) {
	s.log.Info("answering machine detection", "result", r.Result, "amd_ms", r.MS, "beep_report", r.BeepReport, "beep", r.Beep)
	s.event(call.EventAMD, r.Detail())
	if s.stream != nil {
		if err := s.stream.SendAMD(r.Message()); err != nil {
			s.log.Debug("amd not sent to the assistant", "err", err)
		}
	}
	if r.Hangup && !s.ending() && !s.transferred() {
		s.event(call.EventHangupRequested, db.JSONMap{"by": "amd"})
		s.closeAssistant(true)
		s.kill(causeNormal, amdwatch.HangupReason)
	}
}

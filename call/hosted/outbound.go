package hosted

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/telnyx"
)

// Initiate places an outbound call from a number hosted at Twilio (Calls
// API, Url={PUBLIC_BASE_URL}/twiml, StatusCallback=…/twiml/status; with
// amd, Twilio's asynchronous AMD posting to …/twiml/amd), Telnyx (Call Control dial with the
// bidirectional stream; with amd, answering_machine_detection) or Vonage (Voice API with an NCCO connecting the
// websocket). The record is created first; the provider's call id is
// stored once it answers. Provider failures wrap ErrProviderCall.
//
// req.Resolved is required: the calls service looks up the organization,
// the from-number and the assistant, and applies the limits, before it
// hands a hosted number's call over.
func (h *Path) Initiate(ctx context.Context, req call.InitiateRequest) (*call.InitiateResult, error) {
	if req.Resolved == nil || req.Resolved.Org == nil || req.Resolved.Number == nil || req.Resolved.Assistant == nil {
		return nil, errUnresolved
	}
	org, number, a := req.Resolved.Org, req.Resolved.Number, req.Resolved.Assistant
	if h.opts.PublicBaseURL == "" {
		return nil, numbers.ErrNoPublicURL
	}
	prov := number.Provider
	switch prov {
	case provider.NameTwilio, provider.NameTelnyx, provider.NameVonage:
	default:
		return nil, fmt.Errorf("%w: %s", call.ErrNotSIPNumber, prov)
	}
	if req.AMD && prov == provider.NameVonage {
		return nil, call.ErrAMDHosted // the call's audio never reaches the switch, and Vonage is not asked to detect
	}
	p, err := h.client(ctx, org.ID, a, prov)
	if err != nil {
		return nil, err
	}
	c, rec, err := h.createOutbound(ctx, org, number, a, req)
	if err != nil {
		return nil, err
	}
	if req.StatusCallback != "" {
		if err := h.watchStatus(ctx, c, rec, req.StatusCallback); err != nil {
			return nil, err
		}
	}
	// Once asked, the provider may place the call whatever the client does:
	// the request's cancellation must not lose its id.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	sid, err := h.dial(ctx, p, c, req)
	if err != nil {
		c.log.Warn("outbound hosted call failed at the provider", "err", err)
		c.event(call.EventDialFailed, db.JSONMap{"error": err.Error()})
		c.finish(finishInfo{cause: "PROVIDER_ERROR", reason: "provider refused the call: " + err.Error(), failed: true})
		return nil, fmt.Errorf("%w: %w", ErrProviderCall, err)
	}
	c.placed(sid)
	c.log.Info("outbound hosted call placed", "to", req.To, "from", req.From)
	return &call.InitiateResult{CallID: c.id, CallSID: sid, Ringing: true}, nil
}

// errUnresolved: Initiate was called without the call's organization,
// number and assistant.
var errUnresolved = errors.New("hosted call not resolved: InitiateRequest.Resolved needs the organization, number and assistant")

// createOutbound stores the ringing record of an outbound call and
// registers it.
func (h *Path) createOutbound(ctx context.Context, org *db.Organization, number *db.PhoneNumber, a *db.Assistant, req call.InitiateRequest) (*hostedCall, *db.Call, error) {
	prov := number.Provider
	c, err := h.newCall(prov, org.ID, a, true)
	if err != nil {
		return nil, nil, err
	}
	rec := &db.Call{ID: c.id, OrgID: org.ID, AssistantID: &a.ID, PhoneNumberID: &number.ID, Provider: prov,
		Direction: db.DirectionOutbound, FromNumber: req.From, ToNumber: req.To, ResolvedDID: req.From,
		Status: db.CallRinging, StartedAt: h.opts.Now().UTC(), Replica: h.opts.Replica}
	if err := h.store.CreateCall(ctx, rec); err != nil {
		h.forget(c)
		return nil, nil, err
	}
	extra := map[string]string{}
	for k, v := range req.Variables {
		extra[k] = v
	}
	if req.Agenda != "" {
		extra["agenda"] = req.Agenda
	}
	c.startInfo(req.From, req.To, req.WelcomeMessage, extra)
	c.amdOn, c.amdAction = req.AMD, req.AMDAction
	c.event(call.EventDialing, db.JSONMap{"to": req.To, "provider": prov})
	return c, rec, nil
}

// watchStatus sets up the posts of an outbound call's progress to its
// status_callback, signed with the assistant's webhook secret; without
// one the call ends (call.ErrNoCallbackSecret).
func (h *Path) watchStatus(ctx context.Context, c *hostedCall, rec *db.Call, callbackURL string) error {
	secret, err := h.store.SMSWebhookSecret(ctx, c.assistant.ID)
	if err != nil {
		c.finish(finishInfo{cause: "NO_WEBHOOK_SECRET", reason: call.ErrNoCallbackSecret.Error(), failed: true})
		return call.ErrNoCallbackSecret
	}
	c.cbRec = *rec
	c.status = call.NewNotifier(h.cbCtx, &h.cbWG, h.opts.StatusCallbacks, h.opts.AddressPolicy, callbackURL, secret, c.id, c.log)
	c.status.OnFailed(func(event, err string) {
		c.event(call.EventStatusCallbackFailed, db.JSONMap{"event": event, "error": err})
	})
	return nil
}

// dial asks the provider to place the call and returns its call id.
func (h *Path) dial(ctx context.Context, p provider.Provider, c *hostedCall, req call.InitiateRequest) (string, error) {
	base := h.opts.PublicBaseURL
	switch c.provider {
	case provider.NameTwilio:
		pc := provider.Call{From: req.From, To: req.To, URL: base + "/twiml", StatusCallback: base + "/twiml/status"}
		if req.AMD {
			pc.MachineDetection, pc.AMDCallback = twilioMachineDetection(req.AMDAction), base+"/twiml/amd"
		}
		return p.CreateCall(ctx, pc)
	case provider.NameTelnyx:
		tx, ok := p.(*telnyx.Client)
		if !ok {
			return "", errors.New("not a Telnyx client")
		}
		d := telnyx.Dial{From: req.From, To: req.To, WebhookURL: base + "/telnyx-webhook",
			ClientState: telnyxClientState(c.id), Stream: telnyxStream(h.streamURLWithToken(c))}
		if req.AMD {
			d.AnsweringMachineDetection = telnyxAMDMode(req.AMDAction)
		}
		return tx.Dial(ctx, d)
	case provider.NameVonage:
		return p.CreateCall(ctx, provider.Call{From: req.From, To: req.To, StreamURL: h.streamURLWithToken(c),
			StreamParams: map[string]string{"call_id": c.id}, StatusCallback: base + "/vonage-webhook/event"})
	}
	return "", fmt.Errorf("%w: %s", call.ErrNotSIPNumber, c.provider)
}

// placed records the provider's id of a call it accepted to place and
// arms the watchdog of its ringing and stream.
func (c *hostedCall) placed(sid string) {
	c.setSID(sid)
	c.update(map[string]any{"call_sid": sid})
	c.mu.Lock()
	c.info.Extra["provider_call_id"] = sid
	c.mu.Unlock()
	c.event(call.EventProviderAccepted, db.JSONMap{"provider_call_id": sid})
	c.mu.Lock()
	c.cbRec.CallSID = sid
	c.mu.Unlock()
	c.notifyStatus(call.StatusRinging, "", "", 0)
	c.armTimer(c.h.opts.RingTimeout+c.h.opts.StreamTimeout, "NO_ANSWER", "not answered in time", true)
}

package hosted

import (
	"context"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/route"
)

// routeInbound decides an inbound hosted call to `to` from `from` that
// provider prov's webhook announced: route.Router.Number (number →
// assistant → policy, the SIP path's rules and refusals), and while
// draining a call it would accept is refused as busy.
func (h *Path) routeInbound(ctx context.Context, prov, to, from string) route.NumberRoute {
	rt := h.opts.Router.Number(ctx, prov, to, from)
	if rt.Assistant != nil && h.live.Draining() {
		return route.NumberRoute{Org: rt.Org, Number: rt.Number, Refused: &refuseDraining, Detail: "sipbridge is draining"}
	}
	return rt
}

// refuseDraining is the refusal of a new call while shutting down (the SIP
// path answers 503 too: NORMAL_TEMPORARY_FAILURE).
var refuseDraining = route.Refusal{SIPStatus: 503, Cause: "NORMAL_TEMPORARY_FAILURE", Reason: "sipbridge is shutting down"}

// recordRefused keeps the record of a refused call of a known organization
// (status refused, the SIP status the SIP path would answer, the reason),
// as the SIP path does.
func (h *Path) recordRefused(ctx context.Context, prov, sid string, rt route.NumberRoute, from, to string) {
	h.log.Info("inbound hosted call refused", "provider", prov, "did", to, "from", from, "reason", rt.Refused.Reason, "detail", rt.Detail)
	if rt.Org == nil {
		return
	}
	now := h.opts.Now().UTC()
	rec := &db.Call{OrgID: rt.Org.ID, CallSID: sid, Provider: prov, Direction: db.DirectionInbound, FromNumber: from, ToNumber: to,
		ResolvedDID: to, DIDSource: prov, Status: db.CallRefused, SIPStatus: rt.Refused.SIPStatus, HangupCause: rt.Refused.Cause,
		Reason: rt.Refused.Reason + ": " + rt.Detail, StartedAt: now, EndedAt: &now}
	if rt.Number != nil {
		rec.PhoneNumberID = &rt.Number.ID
	}
	if err := h.store.CreateCall(ctx, rec); err != nil {
		h.log.Warn("refused call record not stored", "err", err)
		return
	}
	_ = h.store.AddCallEvent(ctx, rt.Org.ID, rec.ID, call.EventRefused, db.JSONMap{"sip_status": rt.Refused.SIPStatus,
		"cause": rt.Refused.Cause, "reason": rt.Refused.Reason, "detail": rt.Detail})
}

// createInbound stores the record of an accepted inbound hosted call and
// registers it.
func (h *Path) createInbound(ctx context.Context, prov, sid string, rt route.NumberRoute, from, to string, status string) (*hostedCall, error) {
	org, n, a := rt.Org, rt.Number, rt.Assistant
	c, err := h.newCall(prov, org.ID, a, false)
	if err != nil {
		return nil, err // a drain began after the routing
	}
	rec := &db.Call{ID: c.id, OrgID: org.ID, CallSID: sid, AssistantID: &a.ID, PhoneNumberID: &n.ID, Provider: prov,
		Direction: db.DirectionInbound, FromNumber: from, ToNumber: to, ResolvedDID: to, DIDSource: prov,
		Status: status, StartedAt: h.opts.Now().UTC(), Replica: h.opts.Replica}
	if status == db.CallInProgress {
		now := rec.StartedAt
		rec.AnsweredAt = &now
		c.answeredAt = now
		_ = c.life.To(call.Connecting)
	}
	if err := h.store.CreateCall(ctx, rec); err != nil {
		h.forget(c)
		return nil, err
	}
	c.setSID(sid)
	c.startInfo(from, to, "", map[string]string{"provider_call_id": sid})
	c.event(call.EventRouted, db.JSONMap{"provider": prov, "did": to, "assistant_id": a.ID, "provider_call_id": sid})
	if status == db.CallInProgress {
		c.event(call.EventAnswered, nil)
	}
	c.log.Info("inbound hosted call accepted", "did", to, "from", from, "assistant_id", a.ID)
	c.armTimer(h.opts.StreamTimeout, "STREAM_TIMEOUT", "the provider's media stream did not connect", true)
	return c, nil
}

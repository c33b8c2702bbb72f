package controller

import (
	"context"
	"fmt"
	"slices"

	"github.com/sipbridge/sipbridge/db"
)

// hostedRoute is the decision for an inbound hosted call: the same rules
// as the SIP path (an active number of the organization, its assistant,
// the caller-country allow-list), with the same refusals.
type hostedRoute struct {
	org       *db.Organization // nil: nobody's number
	number    *db.PhoneNumber
	assistant *db.Assistant // nil: refused
	refused   *Refusal
	detail    string
}

// routeInbound decides an inbound hosted call to `to` from `from`.
func (h *Hosted) routeInbound(ctx context.Context, prov, to, from string) hostedRoute {
	rt := h.routeNumber(ctx, prov, to, from)
	if rt.assistant != nil && h.isDraining() {
		return hostedRoute{org: rt.org, number: rt.number, refused: &refuseDraining, detail: "sipbridge is draining"}
	}
	return rt
}

// refuseDraining is the refusal of a new call while shutting down (the SIP
// path answers 503 too).
var refuseDraining = Refusal{503, causeUnavailable, "sipbridge is shutting down"}

// routeNumber finds the number's assistant. The number must be hosted at the
// provider whose webhook asked (prov): another provider's number, or one on
// a SIP trunk, answers like an unknown one, so a webhook of one provider can
// never reach the assistant of a number it does not carry.
func (h *Hosted) routeNumber(ctx context.Context, prov, to, from string) hostedRoute {
	orgID, ok, err := h.store.NumberOwner(ctx, to)
	if err != nil || !ok {
		return hostedRoute{refused: &RefuseUnknownNumber, detail: to}
	}
	org, err := h.store.GetOrg(ctx, orgID)
	if err != nil {
		return hostedRoute{refused: &RefuseUnknownNumber, detail: to}
	}
	rt := hostedRoute{org: org}
	active := true
	recs, _, err := h.store.ListNumbers(ctx, orgID, db.NumberFilter{Exact: to, Active: &active}, db.Page{Limit: 1})
	if err != nil || len(recs) == 0 {
		rt.refused, rt.detail = &RefuseUnknownNumber, to+" (inactive)"
		return rt
	}
	n := &recs[0]
	if n.Provider != prov {
		rt.refused, rt.detail = &RefuseUnknownNumber, to+" (a "+n.Provider+" number, not "+prov+")"
		return rt
	}
	rt.number = n
	if n.AssistantID == nil {
		rt.refused, rt.detail = &RefuseNoAssistant, to
		return rt
	}
	if len(n.AllowedCountryCodes) > 0 {
		cc := callerCountry(from, org.DefaultCountry)
		if !slices.Contains(n.AllowedCountryCodes, cc) {
			rt.refused, rt.detail = &RefuseCountryBlocked, fmt.Sprintf("caller country %q not in %v", cc, []string(n.AllowedCountryCodes))
			return rt
		}
	}
	a, err := h.store.GetAssistant(ctx, orgID, *n.AssistantID)
	if err != nil {
		rt.refused, rt.detail = &RefuseNoAssistant, to+" (assistant not found)"
		return rt
	}
	rt.assistant = a
	return rt
}

// recordRefused keeps the record of a refused call of a known organization
// (status refused, the SIP status the SIP path would answer, the reason),
// as the SIP path does.
func (h *Hosted) recordRefused(ctx context.Context, prov, sid string, rt hostedRoute, from, to string) {
	h.log.Info("inbound hosted call refused", "provider", prov, "did", to, "from", from, "reason", rt.refused.Reason, "detail", rt.detail)
	if rt.org == nil {
		return
	}
	now := h.opts.Now().UTC()
	rec := &db.Call{OrgID: rt.org.ID, CallSID: sid, Provider: prov, Direction: db.DirectionInbound, FromNumber: from, ToNumber: to,
		ResolvedDID: to, DIDSource: prov, Status: db.CallRefused, SIPStatus: rt.refused.SIPStatus, HangupCause: rt.refused.Cause,
		Reason: rt.refused.Reason + ": " + rt.detail, StartedAt: now, EndedAt: &now}
	if rt.number != nil {
		rec.PhoneNumberID = &rt.number.ID
	}
	if err := h.store.CreateCall(ctx, rec); err != nil {
		h.log.Warn("refused call record not stored", "err", err)
		return
	}
	_ = h.store.AddCallEvent(ctx, rt.org.ID, rec.ID, "refused", db.JSONMap{"sip_status": rt.refused.SIPStatus,
		"cause": rt.refused.Cause, "reason": rt.refused.Reason, "detail": rt.detail})
}

// createInbound stores the record of an accepted inbound hosted call and
// registers it.
func (h *Hosted) createInbound(ctx context.Context, prov, sid string, rt hostedRoute, from, to string, status string) (*hostedCall, error) {
	org, n, a := rt.org, rt.number, rt.assistant
	c := h.newCall(prov, org.ID, a, false)
	rec := &db.Call{ID: c.id, OrgID: org.ID, CallSID: sid, AssistantID: &a.ID, PhoneNumberID: &n.ID, Provider: prov,
		Direction: db.DirectionInbound, FromNumber: from, ToNumber: to, ResolvedDID: to, DIDSource: prov,
		Status: status, StartedAt: h.opts.Now().UTC()}
	if status == db.CallInProgress {
		now := rec.StartedAt
		rec.AnsweredAt = &now
		c.answeredAt = now
	}
	if err := h.store.CreateCall(ctx, rec); err != nil {
		h.forget(c)
		return nil, err
	}
	c.setSID(sid)
	c.startInfo(from, to, "", map[string]string{"provider_call_id": sid})
	c.event("routed", db.JSONMap{"provider": prov, "did": to, "assistant_id": a.ID, "provider_call_id": sid})
	if status == db.CallInProgress {
		c.event("answered", nil)
	}
	c.log.Info("inbound hosted call accepted", "did", to, "from", from, "assistant_id", a.ID)
	c.armTimer(h.opts.StreamTimeout, "STREAM_TIMEOUT", "the provider's media stream did not connect", true)
	return c, nil
}

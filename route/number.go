package route

import (
	"context"
	"fmt"
	"slices"

	"github.com/sipbridge/sipbridge/db"
)

// policy is what an organization's number says of an inbound call to it,
// on either path: it needs an assistant, and the caller's country must be
// in the number's allow-list when it has one. called names the number in
// the detail. nil: the call is accepted.
func policy(org *db.Organization, n *db.PhoneNumber, caller, called string) (*Refusal, string) {
	if n.AssistantID == nil {
		return &RefuseNoAssistant, called
	}
	if len(n.AllowedCountryCodes) > 0 {
		cc := CallerCountry(caller, org.DefaultCountry)
		if !slices.Contains(n.AllowedCountryCodes, cc) {
			return &RefuseCountryBlocked, fmt.Sprintf("caller country %q not in %v", cc, []string(n.AllowedCountryCodes))
		}
	}
	return nil, ""
}

// NumberRoute is the decision for an inbound call to a number hosted at a
// provider: the same rules as a SIP call's (an active number of the
// organization, its assistant, the caller-country allow-list), with the
// same refusals.
type NumberRoute struct {
	Org       *db.Organization // nil: nobody's number
	Number    *db.PhoneNumber
	Assistant *db.Assistant // nil: refused
	Refused   *Refusal
	Detail    string
}

// Number routes a call to `to` from `from` that provider prov's webhook
// announced: number → assistant → policy. The number must be hosted at
// prov: another provider's number, or one on a SIP trunk, answers like an
// unknown one, so a webhook of one provider can never reach the assistant
// of a number it does not carry.
func (r *Router) Number(ctx context.Context, prov, to, from string) NumberRoute {
	orgID, ok, err := r.store.NumberOwner(ctx, to)
	if err != nil || !ok {
		return NumberRoute{Refused: &RefuseUnknownNumber, Detail: to}
	}
	org, err := r.store.GetOrg(ctx, orgID)
	if err != nil {
		return NumberRoute{Refused: &RefuseUnknownNumber, Detail: to}
	}
	rt := NumberRoute{Org: org}
	n, err := r.numberOf(ctx, orgID, to)
	if err != nil {
		rt.Refused, rt.Detail = &RefuseUnknownNumber, to+" (inactive)"
		return rt
	}
	if n.Provider != prov {
		rt.Refused, rt.Detail = &RefuseUnknownNumber, to+" (a "+n.Provider+" number, not "+prov+")"
		return rt
	}
	rt.Number = n
	if refused, detail := policy(org, n, from, to); refused != nil {
		rt.Refused, rt.Detail = refused, detail
		return rt
	}
	a, err := r.store.GetAssistant(ctx, orgID, *n.AssistantID)
	if err != nil {
		rt.Refused, rt.Detail = &RefuseNoAssistant, to+" (assistant not found)"
		return rt
	}
	rt.Assistant = a
	return rt
}

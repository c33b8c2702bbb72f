package controller

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"github.com/sipbridge/sipbridge/controller/did"
	"github.com/sipbridge/sipbridge/db"
)

// Refusal is why an inbound call is not answered, with the SIP answer the
// caller gets. The hangup cause makes FreeSWITCH send that SIP status.
type Refusal struct {
	SIPStatus int
	Cause     string // FreeSWITCH hangup cause for uuid_kill
	Reason    string
}

// Refusals of inbound calls, pinned by a table test. mod_sofia answers an
// unanswered channel's hangup cause with the SIP status of its
// hangup_cause_to_sip: CALL_REJECTED is 603 Decline there, so a 403 needs
// INCOMING_CALL_BARRED (Q.850 55; OUTGOING_CALL_BARRED and
// BEARERCAPABILITY_NOTAUTH map to 403 too). Seen on the real switch: the
// e2e refusals scenario.
var (
	RefuseUnknownTrunk   = Refusal{403, "INCOMING_CALL_BARRED", "the call matches no enabled trunk"}
	RefuseUnknownNumber  = Refusal{404, "UNALLOCATED_NUMBER", "the called number is not an active number of the trunk's organization"}
	RefuseAmbiguous      = Refusal{404, "UNALLOCATED_NUMBER", "the called extension maps to several numbers"}
	RefuseNoAssistant    = Refusal{480, "SUBSCRIBER_ABSENT", "the number has no assistant"}
	RefuseCountryBlocked = Refusal{403, "INCOMING_CALL_BARRED", "the caller's country is not allowed for this number"}
)

// Route is the decision for one inbound call.
type Route struct {
	Trunk       *db.SIPTrunk
	TrunkBy     string // acl | gateway | trunk_variable | source_address
	Number      *db.PhoneNumber
	AssistantID string
	DID         did.Result
	Refused     *Refusal // nil when the call is accepted
	Detail      string   // for the log and the call record
}

// Router decides what happens to an inbound call.
type Router struct {
	store *db.Store
}

// NewRouter returns a router.
func NewRouter(store *db.Store) *Router { return &Router{store: store} }

func first(vars did.Vars, name string) string {
	if v := vars(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// identifyTrunk finds the trunk the call came in on: the ACL list that let it
// in (sip_acl_authed_by, every trunk has its own list), the gateway a
// registration trunk's contact was called on (sip_gateway), the trunk id
// variable our gateways set, else the trunk whose allowed addresses hold the
// source address.
func (r *Router) identifyTrunk(ctx context.Context, vars did.Vars) (*db.SIPTrunk, string, error) {
	for _, c := range []struct{ variable, by string }{{"variable_sip_acl_authed_by", "acl"}, {"variable_sip_gateway", "gateway"}} {
		if name := first(vars, c.variable); name != "" {
			t, err := r.store.TrunkByGatewayName(ctx, name)
			if err == nil && t.Enabled {
				return t, c.by, nil
			}
			if err != nil && !errors.Is(err, db.ErrNotFound) {
				return nil, "", err
			}
		}
	}
	if id := first(vars, "variable_sipbridge_trunk_id"); id != "" {
		if t, err := r.store.TrunkByID(ctx, id); err == nil && t.Enabled {
			return t, "trunk_variable", nil
		}
	}
	ip, err := netip.ParseAddr(first(vars, "variable_sip_network_ip"))
	if err != nil {
		return nil, "", nil
	}
	trunks, err := r.store.EnabledTrunks(ctx)
	if err != nil {
		return nil, "", err
	}
	var match *db.SIPTrunk
	for i := range trunks {
		for _, c := range trunks[i].AllowedAddresses {
			if p, err := netip.ParsePrefix(c); err == nil && p.Contains(ip.Unmap()) {
				if match != nil && match.ID != trunks[i].ID {
					return nil, "", nil // several trunks share the address: no guess
				}
				match = &trunks[i]
			}
		}
	}
	return match, "source_address", nil
}

// Decide routes an inbound call from its channel variables.
func (r *Router) Decide(ctx context.Context, vars did.Vars) (*Route, error) {
	rt := &Route{}
	t, by, err := r.identifyTrunk(ctx, vars)
	if err != nil {
		return nil, err
	}
	if t == nil {
		rt.Refused, rt.Detail = &RefuseUnknownTrunk, "source "+first(vars, "variable_sip_network_ip")
		return rt, nil
	}
	rt.Trunk, rt.TrunkBy = t, by
	org, err := r.store.GetOrg(ctx, t.OrgID)
	if err != nil {
		return nil, err
	}
	active := true
	onTrunk, _, err := r.store.ListNumbers(ctx, t.OrgID, db.NumberFilter{SIPTrunkID: t.ID, Active: &active}, db.Page{Limit: 1000})
	if err != nil {
		return nil, err
	}
	var trunkNumbers []string
	for _, n := range onTrunk {
		trunkNumbers = append(trunkNumbers, n.PhoneNumber)
	}
	known := func(e164 string) bool {
		_, err := r.numberOf(ctx, t.OrgID, e164)
		return err == nil
	}
	res, err := did.Resolve(vars, did.Options{DefaultCountry: org.DefaultCountry, TrunkNumbers: trunkNumbers, Known: known})
	rt.DID = res
	var amb *did.AmbiguousError
	switch {
	case errors.As(err, &amb):
		rt.Refused, rt.Detail = &RefuseAmbiguous, amb.Error()
		return rt, nil
	case err != nil:
		rt.Refused, rt.Detail = &RefuseUnknownNumber, describeCandidates(res)
		return rt, nil
	}
	n, err := r.numberOf(ctx, t.OrgID, res.DID)
	if err != nil {
		// Another organization's number, or none: the same answer.
		rt.Refused, rt.Detail = &RefuseUnknownNumber, res.DID+" from "+res.Source
		return rt, nil
	}
	rt.Number = n
	if n.AssistantID == nil {
		rt.Refused, rt.Detail = &RefuseNoAssistant, res.DID
		return rt, nil
	}
	if len(n.AllowedCountryCodes) > 0 {
		cc := callerCountry(first(vars, "Caller-Caller-ID-Number"), org.DefaultCountry)
		if !slices.Contains(n.AllowedCountryCodes, cc) {
			rt.Refused, rt.Detail = &RefuseCountryBlocked, fmt.Sprintf("caller country %q not in %v", cc, []string(n.AllowedCountryCodes))
			return rt, nil
		}
	}
	rt.AssistantID = *n.AssistantID
	return rt, nil
}

// numberOf returns the organization's active number.
func (r *Router) numberOf(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, error) {
	active := true
	recs, _, err := r.store.ListNumbers(ctx, orgID, db.NumberFilter{Exact: e164, Active: &active}, db.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, db.ErrNotFound
	}
	return &recs[0], nil
}

// callerCountry is the ISO-2 country of the caller's number, "" when unknown
// (anonymous or not a phone number: refused wherever a country list applies).
func callerCountry(number, defaultCountry string) string {
	n, err := did.NormalizeE164(number, defaultCountry)
	if err != nil {
		return ""
	}
	pn, err := phonenumbers.Parse(n, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(pn)
}

func describeCandidates(res did.Result) string {
	if len(res.Candidates) == 0 {
		return "no candidate in the SIP headers"
	}
	var parts []string
	for _, c := range res.Candidates {
		v := c.E164
		if v == "" {
			v = c.Extension
		}
		if v == "" {
			v = "?"
		}
		parts = append(parts, c.Source+"="+v)
	}
	return "candidates: " + strings.Join(parts, ", ")
}

// Package route is the inbound decision of both voice paths: which trunk a
// SIP call came in on (its ACL list, gateway, source address), the called
// number (route/did), then number → assistant → policy, the part a hosted
// provider's call shares (Number).
package route

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/route/did"
	"github.com/sipbridge/sipbridge/trunk"
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
	// RefuseInboundDisabled: the trunk's inbound_enabled is false (for the
	// organization's default trunk: sip_trunk_config.inbound_enabled).
	RefuseInboundDisabled = Refusal{480, "SUBSCRIBER_ABSENT", "inbound calls are disabled on the trunk (inbound_enabled=false)"}
	// RefuseNoSRTP: the trunk's srtp is mandatory and the offer has no
	// SDES crypto line (INCOMPATIBLE_DESTINATION is 488 Not Acceptable Here).
	RefuseNoSRTP = Refusal{488, "INCOMPATIBLE_DESTINATION", "the trunk requires SRTP (srtp=mandatory) and the offer has no a=crypto"}
)

// RefuseSharedAddress is the refusal of a call from an address several
// trunks allow when the called number does not name exactly one of them.
var RefuseSharedAddress = Refusal{404, "UNALLOCATED_NUMBER", "the source address is allowed by several trunks and the called number belongs to none (or several) of them"}

// Route is the decision for one inbound call.
type Route struct {
	Trunk       *db.SIPTrunk
	TrunkBy     string // acl | gateway | trunk_variable | source_address | did
	Number      *db.PhoneNumber
	AssistantID string
	DID         did.Result
	Refused     *Refusal // nil when the call is accepted
	Detail      string   // for the log and the call record
	// Source is the address the call is from: "203.0.113.5", or through a
	// trusted SIP front "203.0.113.5 via proxy 127.0.0.1".
	Source string
}

// Store is what routing reads: trunks, organizations, numbers and
// assistants (a *db.Store; the routing table tests use a map).
type Store interface {
	TrunkByGatewayName(ctx context.Context, name string) (*db.SIPTrunk, error)
	TrunkByID(ctx context.Context, id string) (*db.SIPTrunk, error)
	EnabledTrunks(ctx context.Context) ([]db.SIPTrunk, error)
	GetOrg(ctx context.Context, id int64) (*db.Organization, error)
	OrgsByID(ctx context.Context, ids []int64) ([]db.Organization, error)
	ListNumbers(ctx context.Context, orgID int64, f db.NumberFilter, p db.Page) ([]db.PhoneNumber, int64, error)
	NumberOwner(ctx context.Context, e164 string) (int64, bool, error)
	GetAssistant(ctx context.Context, orgID int64, id string) (*db.Assistant, error)
}

var _ Store = (*db.Store)(nil)

// Router decides what happens to an inbound call.
type Router struct {
	store Store
	// implicitACL tells what a trunk without allowed_addresses allows
	// (trunk.Sync.ResolvedACL); nil: the IP literals among its hosts.
	implicitACL func(*db.SIPTrunk) []netip.Prefix
	front       Front // trusted SIP proxies; zero: none
}

// NewRouter returns a router. implicitACL, when set, tells what a trunk
// without allowed_addresses allows (the addresses its hosts resolved to);
// nil: the IP literals among its gateway and proxy.
func NewRouter(store Store, implicitACL func(*db.SIPTrunk) []netip.Prefix) *Router {
	return &Router{store: store, implicitACL: implicitACL}
}

// candidate is an enabled trunk the call may have come in on, and how it
// was seen.
type candidate struct {
	trunk *db.SIPTrunk
	by    string // acl | gateway | trunk_variable | source_address
}

// allows reports whether the trunk's ACL list holds ip: its
// allowed_addresses, else (a registration trunk) what its gateway and
// proxy hosts resolved to.
func (r *Router) allows(t *db.SIPTrunk, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, c := range t.AllowedAddresses {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(ip) {
			return true
		}
	}
	if len(t.AllowedAddresses) > 0 {
		return false
	}
	var implicit []netip.Prefix
	if r.implicitACL != nil {
		implicit = r.implicitACL(t)
	} else {
		for _, hp := range []string{t.Gateway, t.Proxy} {
			if a, err := netip.ParseAddr(trunk.HostOf(hp)); err == nil {
				implicit = append(implicit, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			}
		}
	}
	for _, p := range implicit {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Decide routes an inbound call from its channel variables. The trunk is
// the one trunk that may have let the call in (candidates); when the
// source address is allowed by several (two trunks of one organization, or
// shared carrier space of several), the called number decides: the trunk
// its number is on, when that trunk is one of them (TrunkBy "did"), never
// the order of FreeSWITCH's lists.
func (r *Router) Decide(ctx context.Context, vars did.Vars) (*Route, error) {
	from := r.sourceOf(vars)
	rt := &Route{Source: from.String()}
	if from.bad != "" {
		rt.Refused, rt.Detail = &RefuseUnknownTrunk, from.bad
		return rt, nil
	}
	cands, err := r.candidates(ctx, vars, from)
	if err != nil {
		return nil, err
	}
	switch len(cands) {
	case 0:
		rt.Refused, rt.Detail = &RefuseUnknownTrunk, "source "+rt.Source
		return rt, nil
	case 1:
		return r.decideOnTrunk(ctx, vars, rt, cands[0])
	}
	for _, c := range cands[1:] {
		if c.trunk.OrgID != cands[0].trunk.OrgID {
			return r.decideAcrossOrgs(ctx, vars, rt, cands)
		}
	}
	return r.decideByNumber(ctx, vars, rt, cands)
}

// resolution is the called number as one candidate trunk reads it.
type resolution struct {
	org    *db.Organization
	res    did.Result
	err    error
	number *db.PhoneNumber // the organization's active number, nil if none
}

// resolveOn resolves the DID with the trunk's organization's options.
func (r *Router) resolveOn(ctx context.Context, vars did.Vars, t *db.SIPTrunk) (*resolution, error) {
	active := true
	numbers := fetchIf(true, func() ([]db.PhoneNumber, error) {
		n, _, err := r.store.ListNumbers(ctx, t.OrgID, db.NumberFilter{SIPTrunkID: t.ID, Active: &active}, db.Page{Limit: 1000, NoTotal: true})
		return n, err
	})
	org, err := r.store.GetOrg(ctx, t.OrgID) // with the trunk's numbers at once
	onTrunk, nerr := numbers()
	if err != nil {
		return nil, err
	}
	if err = nerr; err != nil {
		return nil, err
	}
	var trunkNumbers []string
	for _, n := range onTrunk {
		trunkNumbers = append(trunkNumbers, n.PhoneNumber)
	}
	// Each number is looked up once per call: Known's answer is the
	// number the call is then routed to.
	type lookup struct {
		n   *db.PhoneNumber
		err error
	}
	seen := map[string]lookup{}
	numberOf := func(e164 string) (*db.PhoneNumber, error) {
		if l, ok := seen[e164]; ok {
			return l.n, l.err
		}
		n, err := r.numberOf(ctx, t.OrgID, e164)
		seen[e164] = lookup{n, err}
		return n, err
	}
	known := func(e164 string) bool {
		_, err := numberOf(e164)
		return err == nil
	}
	out := &resolution{org: org}
	out.res, out.err = did.Resolve(vars, did.Options{DefaultCountry: org.DefaultCountry, TrunkNumbers: trunkNumbers, Known: known})
	if out.err == nil {
		n, err := numberOf(out.res.DID)
		switch {
		case err == nil:
			out.number = n
		case !errors.Is(err, db.ErrNotFound):
			return nil, err
		}
	}
	return out, nil
}

// decideOnTrunk routes a call that only one trunk may have let in: any
// active number of the trunk's organization.
func (r *Router) decideOnTrunk(ctx context.Context, vars did.Vars, rt *Route, c candidate) (*Route, error) {
	rt.Trunk, rt.TrunkBy = c.trunk, c.by
	rs, err := r.resolveOn(ctx, vars, c.trunk)
	if err != nil {
		return nil, err
	}
	rt.DID = rs.res
	var amb *did.AmbiguousError
	switch {
	case errors.As(rs.err, &amb):
		rt.Refused, rt.Detail = &RefuseAmbiguous, amb.Error()
		return rt, nil
	case rs.err != nil:
		rt.Refused, rt.Detail = &RefuseUnknownNumber, describeCandidates(rs.res)
		return rt, nil
	case rs.number == nil:
		// Another organization's number, or none: the same answer.
		rt.Refused, rt.Detail = &RefuseUnknownNumber, rs.res.DID+" from "+rs.res.Source
		return rt, nil
	}
	return r.accept(vars, rt, rs)
}

// sourceRank orders DID sources as did.Resolve tries them; a number mapped
// from an extension comes last.
func sourceRank(source string) int {
	for i, s := range []string{did.SourceDiversion, did.SourceHistoryInfo, did.SourceXOriginalCalled, did.SourceXOriginalNumber,
		did.SourceXForwardedTo, did.SourceXOriginalTo, did.SourcePCalledPartyID, did.SourceRequestURI, did.SourceTo} {
		if s == source {
			return i
		}
	}
	return 100
}

// decideByNumber routes a call that several trunks of ONE organization may
// have let in (a registration trunk and an IP-auth trunk to one carrier).
// Each candidate reads the called number as it would alone (its trunk's
// numbers for a PBX extension); a candidate claims the call when that
// number is on it, or is the organization's number on no trunk. The claim
// read from the earliest header wins (an extension mapped to a trunk's
// single number comes last); claims on two different numbers there are
// refused, as is a call no candidate claims.
func (r *Router) decideByNumber(ctx context.Context, vars did.Vars, rt *Route, cands []candidate) (*Route, error) {
	var claims []claim
	var firstRes *resolution
	for _, c := range cands {
		rs, err := r.resolveOn(ctx, vars, c.trunk)
		if err != nil {
			return nil, err
		}
		if firstRes == nil {
			firstRes = rs
		}
		if n := rs.number; n != nil && (n.SIPTrunkID == nil || *n.SIPTrunkID == c.trunk.ID) {
			claims = append(claims, claim{rs.res, rs.number, rs.org})
		}
	}
	win, ok := bestClaim(claims)
	if !ok {
		rt.Refused, rt.DID = &RefuseSharedAddress, firstRes.res
		rt.Detail = sharedDetail(rt.Source, cands) + "; " + describeCandidates(firstRes.res)
		if len(claims) > 0 {
			rt.Detail = sharedDetail(rt.Source, cands) + "; the call names numbers of several of them"
		}
		rt.Trunk, rt.TrunkBy = cands[0].trunk, cands[0].by // the record stays in the organization
		for _, c := range cands {
			if c.by == "acl" {
				rt.Trunk, rt.TrunkBy = c.trunk, c.by
			}
		}
		return rt, nil
	}
	return r.acceptClaim(vars, rt, win, cands)
}

// decideAcrossOrgs routes a call that trunks of several organizations may
// have let in (shared carrier space). The called number must be read from
// a header (an extension means nothing across organizations) with the
// default country of the organization that owns it, and be on one of the
// candidate trunks or on no trunk of a candidate's organization. Numbers
// are looked up once each across the platform, and organizations once
// together, so a carrier shared by many organizations costs a few queries,
// not a few per organization. A call no candidate claims is refused and
// recorded for nobody: it could be any of theirs.
func (r *Router) decideAcrossOrgs(ctx context.Context, vars did.Vars, rt *Route, cands []candidate) (*Route, error) {
	byOrg := map[int64][]candidate{}
	var ids []int64
	for _, c := range cands {
		if _, ok := byOrg[c.trunk.OrgID]; !ok {
			ids = append(ids, c.trunk.OrgID)
		}
		byOrg[c.trunk.OrgID] = append(byOrg[c.trunk.OrgID], c)
	}
	orgs, err := r.store.OrgsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	orgOf := map[int64]*db.Organization{}
	var countries []string
	for i := range orgs {
		orgOf[orgs[i].ID] = &orgs[i]
		if !slices.Contains(countries, orgs[i].DefaultCountry) {
			countries = append(countries, orgs[i].DefaultCountry)
		}
	}
	numbers := map[string]*db.PhoneNumber{} // e164 → a candidate organization's active number, or nil
	var lookErr error
	lookup := func(e164 string) *db.PhoneNumber {
		if n, ok := numbers[e164]; ok {
			return n
		}
		var n *db.PhoneNumber
		owner, ok, err := r.store.NumberOwner(ctx, e164)
		if err == nil && ok && byOrg[owner] != nil {
			n, err = r.numberOf(ctx, owner, e164)
			if errors.Is(err, db.ErrNotFound) {
				n, err = nil, nil
			}
		}
		if err != nil {
			lookErr = err
			return nil
		}
		numbers[e164] = n
		return n
	}
	claimable := func(n *db.PhoneNumber, country string) bool {
		if n == nil || orgOf[n.OrgID] == nil || orgOf[n.OrgID].DefaultCountry != country {
			return false
		}
		return n.SIPTrunkID == nil || slices.ContainsFunc(byOrg[n.OrgID], func(c candidate) bool { return c.trunk.ID == *n.SIPTrunkID })
	}
	var claims []claim
	var firstRes did.Result
	for i, country := range countries {
		res, err := did.Resolve(vars, did.Options{DefaultCountry: country, Known: func(e164 string) bool { return claimable(lookup(e164), country) }})
		if lookErr != nil {
			return nil, lookErr
		}
		if i == 0 {
			firstRes = res
		}
		if err == nil && res.Source != did.SourceExtension && claimable(lookup(res.DID), country) {
			n := lookup(res.DID)
			claims = append(claims, claim{res, n, orgOf[n.OrgID]})
		}
	}
	win, ok := bestClaim(claims)
	if !ok {
		rt.Refused, rt.DID = &RefuseSharedAddress, firstRes
		rt.Detail = sharedDetail(rt.Source, cands) + "; " + describeCandidates(firstRes)
		if len(claims) > 0 {
			rt.Detail = sharedDetail(rt.Source, cands) + "; the call names numbers of several of them"
		}
		return rt, nil
	}
	return r.acceptClaim(vars, rt, win, cands)
}

// claim is a candidate organization's number that the call names.
type claim struct {
	res    did.Result
	number *db.PhoneNumber
	org    *db.Organization
}

// bestClaim returns the claim read from the earliest header; false when
// there is none, or when two different numbers tie there.
func bestClaim(claims []claim) (claim, bool) {
	var best claim
	rank, tie := -1, false
	for _, cl := range claims {
		switch rk := sourceRank(cl.res.Source); {
		case rank < 0 || rk < rank:
			best, rank, tie = cl, rk, false
		case rk == rank && cl.number.ID != best.number.ID:
			tie = true
		}
	}
	return best, rank >= 0 && !tie
}

// acceptClaim takes the call on the claimed number's trunk, or (a number on
// no trunk) on its organization's candidate FreeSWITCH named, else its
// first by priority, then name.
func (r *Router) acceptClaim(vars did.Vars, rt *Route, cl claim, cands []candidate) (*Route, error) {
	better := func(c, than *candidate) bool {
		if than.by == "acl" || c.by == "acl" {
			return c.by == "acl"
		}
		if c.trunk.Priority != than.trunk.Priority {
			return c.trunk.Priority < than.trunk.Priority
		}
		return strings.ToLower(c.trunk.Name) < strings.ToLower(than.trunk.Name)
	}
	var pick *candidate
	for i := range cands {
		c := &cands[i]
		switch {
		case c.trunk.OrgID != cl.number.OrgID:
		case cl.number.SIPTrunkID != nil:
			if c.trunk.ID == *cl.number.SIPTrunkID {
				pick = c
			}
		case pick == nil || better(c, pick):
			pick = c
		}
	}
	rt.Trunk, rt.TrunkBy, rt.DID = pick.trunk, "did", cl.res
	return r.accept(vars, rt, &resolution{org: cl.org, res: cl.res, number: cl.number})
}

// sharedDetail names the source and the trunks allowing it (for the log;
// in a record only when they are all of its organization).
func sharedDetail(src string, cands []candidate) string {
	names := make([]string, 0, len(cands))
	for _, c := range cands {
		names = append(names, c.trunk.GatewayName)
	}
	return "source " + src + " allowed by " + strings.Join(names, ", ")
}

// accept finishes a route to the organization's number: its assistant and
// its caller-country allow-list.
func (r *Router) accept(vars did.Vars, rt *Route, rs *resolution) (*Route, error) {
	n := rs.number
	rt.Number = n
	if rt.Trunk != nil && rt.Trunk.InboundDisabled {
		rt.Refused, rt.Detail = &RefuseInboundDisabled, rt.Trunk.GatewayName+" refuses inbound calls; called "+rs.res.DID
		return rt, nil
	}
	if rt.Trunk != nil && rt.Trunk.SRTP == "mandatory" && !strings.Contains(vars.First("variable_switch_r_sdp"), "a=crypto:") {
		rt.Refused, rt.Detail = &RefuseNoSRTP, rt.Trunk.GatewayName+" requires SRTP; called "+rs.res.DID
		return rt, nil
	}
	if refused, detail := policy(rs.org, n, vars.First("Caller-Caller-ID-Number"), rs.res.DID); refused != nil {
		rt.Refused, rt.Detail = refused, detail
		return rt, nil
	}
	rt.AssistantID = *n.AssistantID
	return rt, nil
}

// ActiveNumber returns the organization's active number (db.ErrNotFound
// when it has none by that E.164).
func (r *Router) ActiveNumber(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, error) {
	return r.numberOf(ctx, orgID, e164)
}

// numberOf returns the organization's active number.
func (r *Router) numberOf(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, error) {
	active := true
	recs, _, err := r.store.ListNumbers(ctx, orgID, db.NumberFilter{Exact: e164, Active: &active}, db.Page{Limit: 1, NoTotal: true})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, db.ErrNotFound
	}
	return &recs[0], nil
}

// CallerCountry is the ISO-2 country of the caller's number, "" when unknown
// (anonymous or not a phone number: refused wherever a country list applies).
func CallerCountry(number, defaultCountry string) string {
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

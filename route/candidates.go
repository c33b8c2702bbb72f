package route

import (
	"context"
	"errors"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/route/did"
)

// candidates returns every enabled trunk that may have let the call in,
// each once: the one whose ACL list FreeSWITCH names (sip_acl_authed_by:
// the FIRST list that matched, so with several lists holding the address it
// says nothing about which trunk the call is for), the gateway a
// registration trunk's contact was called on (sip_gateway, or the trunk id
// variable our gateways set), and every trunk whose allowed_addresses hold
// the source address. The gateway comes from the Request-URI, which the
// sender chooses, so it counts only when FreeSWITCH named no ACL list, or
// named that trunk or another trunk of its organization, or the trunk's own
// addresses hold the source.
//
// Through a trusted SIP front (src.proxied) FreeSWITCH's ACL list names the
// proxies, not a trunk: the carrier's address from the front's header is
// the source, and every trunk must allow it.
func (r *Router) candidates(ctx context.Context, vars did.Vars, from source) ([]candidate, error) {
	var out []candidate
	add := func(t *db.SIPTrunk, by string) {
		for _, c := range out {
			if c.trunk.ID == t.ID {
				return
			}
		}
		out = append(out, candidate{t, by})
	}
	src := from.addr
	// The lookups do not depend on one another: they run at once, and
	// their answers are taken in order below. Through a front, the ACL
	// list FreeSWITCH names is the proxies', not a trunk's.
	aclName, gwName, trunkID := vars.First("variable_sip_acl_authed_by"), vars.First("variable_sip_gateway"), vars.First("variable_sipbridge_trunk_id")
	if from.proxied {
		aclName = ""
	}
	byACL := fetchIf(aclName != "", func() (*db.SIPTrunk, error) { return r.store.TrunkByGatewayName(ctx, aclName) })
	byGateway := fetchIf(gwName != "", func() (*db.SIPTrunk, error) { return r.store.TrunkByGatewayName(ctx, gwName) })
	byID := fetchIf(trunkID != "", func() (*db.SIPTrunk, error) { return r.store.TrunkByID(ctx, trunkID) })
	enabled := fetchIf(src.IsValid(), func() ([]db.SIPTrunk, error) { return r.store.EnabledTrunks(ctx) })
	var acl *db.SIPTrunk
	if aclName != "" {
		t, err := byACL()
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return nil, err
		}
		if err == nil && t.Enabled {
			acl = t
			add(t, "acl")
		}
	}
	trusted := func(t *db.SIPTrunk) bool {
		if from.proxied {
			return r.allows(t, src)
		}
		return acl == nil || acl.ID == t.ID || acl.OrgID == t.OrgID || r.allows(t, src)
	}
	if gwName != "" {
		t, err := byGateway()
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return nil, err
		}
		if err == nil && t.Enabled && trusted(t) {
			add(t, "gateway")
		}
	}
	if trunkID != "" {
		if t, err := byID(); err == nil && t.Enabled && trusted(t) {
			add(t, "trunk_variable")
		}
	}
	if src.IsValid() {
		trunks, err := enabled()
		if err != nil {
			return nil, err
		}
		for i := range trunks {
			if r.allows(&trunks[i], src) {
				add(&trunks[i], "source_address")
			}
		}
	}
	return out, nil
}

package route_test

import (
	"context"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/route"
)

// mapStore is route.Store over maps: the routing table runs without a
// database (route_test.go runs the same rules on SQLite and PostgreSQL).
type mapStore struct {
	orgs       map[int64]*db.Organization
	trunks     []db.SIPTrunk
	numbers    []db.PhoneNumber
	assistants map[string]*db.Assistant
}

func (m *mapStore) TrunkByGatewayName(_ context.Context, name string) (*db.SIPTrunk, error) {
	for i := range m.trunks {
		if m.trunks[i].GatewayName == name {
			return &m.trunks[i], nil
		}
	}
	return nil, db.ErrNotFound
}

func (m *mapStore) TrunkByID(_ context.Context, id string) (*db.SIPTrunk, error) {
	for i := range m.trunks {
		if m.trunks[i].ID == id {
			return &m.trunks[i], nil
		}
	}
	return nil, db.ErrNotFound
}

func (m *mapStore) EnabledTrunks(context.Context) ([]db.SIPTrunk, error) {
	var out []db.SIPTrunk
	for _, t := range m.trunks {
		if t.Enabled {
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *mapStore) GetOrg(_ context.Context, id int64) (*db.Organization, error) {
	if o := m.orgs[id]; o != nil {
		return o, nil
	}
	return nil, db.ErrNotFound
}

func (m *mapStore) OrgsByID(_ context.Context, ids []int64) ([]db.Organization, error) {
	var out []db.Organization
	for _, id := range ids {
		if o := m.orgs[id]; o != nil {
			out = append(out, *o)
		}
	}
	return out, nil
}

func (m *mapStore) ListNumbers(_ context.Context, orgID int64, f db.NumberFilter, _ db.Page) ([]db.PhoneNumber, int64, error) {
	var out []db.PhoneNumber
	for _, n := range m.numbers {
		switch {
		case n.OrgID != orgID, f.Exact != "" && n.PhoneNumber != f.Exact, f.Active != nil && n.IsActive != *f.Active,
			f.SIPTrunkID != "" && (n.SIPTrunkID == nil || *n.SIPTrunkID != f.SIPTrunkID):
			continue
		}
		out = append(out, n)
	}
	return out, int64(len(out)), nil
}

func (m *mapStore) NumberOwner(_ context.Context, e164 string) (int64, bool, error) {
	for _, n := range m.numbers {
		if n.PhoneNumber == e164 {
			return n.OrgID, true, nil
		}
	}
	return 0, false, nil
}

func (m *mapStore) GetAssistant(_ context.Context, orgID int64, id string) (*db.Assistant, error) {
	if a := m.assistants[id]; a != nil && a.OrgID == orgID {
		return a, nil
	}
	return nil, db.ErrNotFound
}

func ptr(s string) *string { return &s }

func tableStore() *mapStore {
	carrier, closed, secure := "t-carrier", "t-closed", "t-secure"
	return &mapStore{
		orgs: map[int64]*db.Organization{1: {ID: 1, DefaultCountry: "CA"}, 2: {ID: 2, DefaultCountry: "GB"}},
		trunks: []db.SIPTrunk{
			{ID: carrier, OrgID: 1, GatewayName: "o1_carrier", Enabled: true, AllowedAddresses: []string{"203.0.113.0/24"}},
			{ID: closed, OrgID: 1, GatewayName: "o1_closed", Enabled: true, InboundDisabled: true, AllowedAddresses: []string{"192.0.2.0/24"}},
			{ID: secure, OrgID: 1, GatewayName: "o1_secure", Enabled: true, SRTP: "mandatory", AllowedAddresses: []string{"192.0.2.128/25"}},
			{ID: "t-off", OrgID: 2, GatewayName: "o2_off", Enabled: false, AllowedAddresses: []string{"198.51.100.0/24"}},
		},
		numbers: []db.PhoneNumber{
			{ID: "n1", OrgID: 1, PhoneNumber: "+16478491000", Provider: db.ProviderBYOSIP, IsActive: true, SIPTrunkID: &carrier, AssistantID: ptr("a1")},
			{ID: "n2", OrgID: 1, PhoneNumber: "+16478491005", Provider: db.ProviderBYOSIP, IsActive: true, SIPTrunkID: &carrier},
			{ID: "n3", OrgID: 1, PhoneNumber: "+16478491007", Provider: db.ProviderBYOSIP, IsActive: true, AssistantID: ptr("a1"), AllowedCountryCodes: []string{"CA"}},
			{ID: "n4", OrgID: 1, PhoneNumber: "+16478491009", Provider: db.ProviderBYOSIP, IsActive: true, SIPTrunkID: &closed, AssistantID: ptr("a1")},
			{ID: "n10", OrgID: 1, PhoneNumber: "+16478491010", Provider: db.ProviderBYOSIP, IsActive: true, SIPTrunkID: &secure, AssistantID: ptr("a1")},
			{ID: "n5", OrgID: 2, PhoneNumber: "+442079460018", Provider: "twilio", IsActive: true, AssistantID: ptr("a2")},
			{ID: "n6", OrgID: 2, PhoneNumber: "+442079460019", Provider: "twilio", IsActive: false, AssistantID: ptr("a2")},
			{ID: "n7", OrgID: 2, PhoneNumber: "+442079460020", Provider: "telnyx", IsActive: true, AssistantID: ptr("a2")},
			{ID: "n8", OrgID: 2, PhoneNumber: "+442079460021", Provider: "twilio", IsActive: true, AssistantID: ptr("gone")},
			{ID: "n9", OrgID: 2, PhoneNumber: "+442079460022", Provider: "twilio", IsActive: true, AssistantID: ptr("a2"), AllowedCountryCodes: []string{"GB"}},
		},
		assistants: map[string]*db.Assistant{"a1": {ID: "a1", OrgID: 1}, "a2": {ID: "a2", OrgID: 2}},
	}
}

// TestDecideTable: the SIP decision, trunk then number then policy, each
// refusal with its SIP answer.
func TestDecideTable(t *testing.T) {
	router := route.NewRouter(tableStore(), nil)
	for _, c := range []struct {
		name      string
		vars      []string
		refused   *route.Refusal
		trunkBy   string
		assistant string
	}{
		{"acl, number on the trunk", []string{"variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478491000"}, nil, "acl", "a1"},
		{"source address", []string{"variable_sip_network_ip", "203.0.113.9", "variable_sip_req_user", "+16478491000"}, nil, "source_address", "a1"},
		{"no trunk", []string{"variable_sip_network_ip", "10.9.9.9", "variable_sip_req_user", "+16478491000"}, &route.RefuseUnknownTrunk, "", ""},
		{"a disabled trunk lets nothing in", []string{"variable_sip_network_ip", "198.51.100.7", "variable_sip_req_user", "+442079460018"}, &route.RefuseUnknownTrunk, "", ""},
		{"unknown number", []string{"variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478499999"}, &route.RefuseUnknownNumber, "acl", ""},
		{"another organization's number", []string{"variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+442079460018"}, &route.RefuseUnknownNumber, "acl", ""},
		{"number without assistant", []string{"variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478491005"}, &route.RefuseNoAssistant, "acl", ""},
		{"caller country allowed", []string{"variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478491007", "Caller-Caller-ID-Number", "+14165550100"}, nil, "acl", "a1"},
		{"caller country blocked", []string{"variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478491007", "Caller-Caller-ID-Number", "+442079460018"}, &route.RefuseCountryBlocked, "acl", ""},
		{"anonymous caller, country list", []string{"variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478491007", "Caller-Caller-ID-Number", "anonymous"}, &route.RefuseCountryBlocked, "acl", ""},
		{"inbound disabled", []string{"variable_sip_acl_authed_by", "o1_closed", "variable_sip_req_user", "+16478491009"}, &route.RefuseInboundDisabled, "acl", ""},
		{"srtp mandatory, plain offer", []string{"variable_sip_acl_authed_by", "o1_secure", "variable_sip_req_user", "+16478491010",
			"variable_switch_r_sdp", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n"}, &route.RefuseNoSRTP, "acl", ""},
		{"srtp mandatory, crypto offered", []string{"variable_sip_acl_authed_by", "o1_secure", "variable_sip_req_user", "+16478491010",
			"variable_switch_r_sdp", "v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n"}, nil, "acl", "a1"},
		{"srtp off, plain offer", []string{"variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478491000",
			"variable_switch_r_sdp", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n"}, nil, "acl", "a1"},
	} {
		rt, err := router.Decide(context.Background(), vars(c.vars...))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (rt.Refused == nil) != (c.refused == nil) || (c.refused != nil && *rt.Refused != *c.refused) ||
			rt.TrunkBy != c.trunkBy || rt.AssistantID != c.assistant {
			t.Errorf("%s: refused %+v by %q assistant %q (%s), want %+v by %q assistant %q", c.name, rt.Refused, rt.TrunkBy, rt.AssistantID, rt.Detail,
				c.refused, c.trunkBy, c.assistant)
		}
	}
}

// TestNumberTable: a hosted provider's call, number → assistant → policy.
func TestNumberTable(t *testing.T) {
	router := route.NewRouter(tableStore(), nil)
	for _, c := range []struct {
		name, prov, to, from string
		refused              *route.Refusal
		detail               string
		org                  bool
	}{
		{"accepted", "twilio", "+442079460018", "+14165550100", nil, "", true},
		{"nobody's number", "twilio", "+442079469999", "+14165550100", &route.RefuseUnknownNumber, "+442079469999", false},
		{"inactive", "twilio", "+442079460019", "+14165550100", &route.RefuseUnknownNumber, "+442079460019 (inactive)", true},
		{"another provider's number", "twilio", "+442079460020", "+14165550100", &route.RefuseUnknownNumber, "+442079460020 (a telnyx number, not twilio)", true},
		{"a SIP trunk's number", "twilio", "+16478491000", "+14165550100", &route.RefuseUnknownNumber, "+16478491000 (a byo-sip-trunk number, not twilio)", true},
		{"assistant gone", "twilio", "+442079460021", "+14165550100", &route.RefuseNoAssistant, "+442079460021 (assistant not found)", true},
		{"caller country blocked", "twilio", "+442079460022", "+14165550100", &route.RefuseCountryBlocked, `caller country "CA" not in [GB]`, true},
		{"caller country allowed", "twilio", "+442079460022", "+442079460099", nil, "", true},
	} {
		rt := router.Number(context.Background(), c.prov, c.to, c.from)
		if (rt.Refused == nil) != (c.refused == nil) || (c.refused != nil && *rt.Refused != *c.refused) || rt.Detail != c.detail || (rt.Org != nil) != c.org {
			t.Errorf("%s: refused %+v %q org %v, want %+v %q org %v", c.name, rt.Refused, rt.Detail, rt.Org != nil, c.refused, c.detail, c.org)
		}
		if c.refused == nil && (rt.Assistant == nil || rt.Number == nil || rt.Number.PhoneNumber != c.to) {
			t.Errorf("%s: accepted without its number and assistant: %+v", c.name, rt)
		}
	}
}

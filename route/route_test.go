package route_test

import (
	"context"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/route"
	"gorm.io/gorm"
)

func vars(kv ...string) func(string) []string {
	m := map[string][]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return func(n string) []string { return m[n] }
}

func TestRefusalTable(t *testing.T) {
	for _, c := range []struct {
		r      route.Refusal
		status int
		cause  string
	}{
		{route.RefuseUnknownTrunk, 403, "INCOMING_CALL_BARRED"},
		{route.RefuseUnknownNumber, 404, "UNALLOCATED_NUMBER"},
		{route.RefuseAmbiguous, 404, "UNALLOCATED_NUMBER"},
		{route.RefuseNoAssistant, 480, "SUBSCRIBER_ABSENT"},
		{route.RefuseCountryBlocked, 403, "INCOMING_CALL_BARRED"},
		{route.RefuseInboundDisabled, 480, "SUBSCRIBER_ABSENT"},
		{route.RefuseNoSRTP, 488, "INCOMPATIBLE_DESTINATION"},
		{route.RefuseSharedAddress, 404, "UNALLOCATED_NUMBER"},
	} {
		if c.r.SIPStatus != c.status || c.r.Cause != c.cause || c.r.Reason == "" {
			t.Errorf("%+v, want %d %s", c.r, c.status, c.cause)
		}
	}
}

func TestInboundRouting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { testInboundRouting(t, g, false) })
}

// testInboundRouting: with cached, the router's reads are cached on the
// change feed (route_cache_test.go).
func testInboundRouting(t *testing.T, g *gorm.DB, cached bool) {
	ctx := context.Background()
	store := db.NewStore(g, dbtest.Keyring(t), nil)
	a, _, _ := store.EnsureOrg(ctx, "a")
	a.DefaultCountry = "CA"
	store.UpdateOrg(ctx, a, db.OrgSecrets{})
	b, _, _ := store.EnsureOrg(ctx, "b")
	mkTrunk := func(org int64, gw string, register bool, allowed ...string) *db.SIPTrunk {
		tr := &db.SIPTrunk{ID: db.NewID(), OrgID: org, Name: gw, GatewayName: gw, Gateway: "sip.example.com", Enabled: true, Register: register,
			Transport: "udp", AllowedAddresses: allowed}
		if err := store.CreateTrunk(ctx, tr); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	ipTrunk := mkTrunk(a.ID, "o1_carrier", false, "203.0.113.0/24")
	regTrunk := mkTrunk(a.ID, "o1_zadarma", true)
	mkTrunk(b.ID, "o2_other", false, "198.51.100.0/24")
	asst := &db.Assistant{OrgID: a.ID, Name: "Front"}
	store.SaveAssistant(ctx, asst, db.AssistantSecrets{})
	mkNumber := func(org int64, e164 string, trunk *db.SIPTrunk, assistant *string, allowed ...string) *db.PhoneNumber {
		n := &db.PhoneNumber{OrgID: org, PhoneNumber: e164, Provider: db.ProviderBYOSIP, IsActive: true, AssistantID: assistant, AllowedCountryCodes: allowed}
		if trunk != nil {
			n.SIPTrunkID = &trunk.ID
		}
		if err := store.SaveNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	mkNumber(a.ID, "+16478491000", ipTrunk, &asst.ID)
	mkNumber(a.ID, "+16478491005", regTrunk, nil)
	mkNumber(a.ID, "+16478491007", nil, &asst.ID, "CA")
	mkNumber(b.ID, "+442079460018", nil, nil)
	router := routerOn(t, g, store, cached)
	decide := func(v func(string) []string) *route.Route {
		t.Helper()
		r, err := router.Decide(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// ACL-identified trunk, PBX extension + Diversion: accepted.
	r := decide(vars("variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "9228",
		"variable_sip_i_diversion", "<sip:+16478491000@pbx.example.com>;reason=unconditional", "Caller-Caller-ID-Number", "+14165550100"))
	if r.Refused != nil || r.TrunkBy != "acl" || r.AssistantID != asst.ID || r.DID.Source != "diversion" {
		t.Fatalf("accepted call: %+v %+v", r, r.Refused)
	}
	// Extension alone, one number on the trunk: that number.
	r = decide(vars("variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "9228", "variable_sip_to_user", "9228"))
	if r.Refused != nil || r.Number.PhoneNumber != "+16478491000" || r.DID.Source != "extension" {
		t.Fatalf("extension: %+v %+v", r.DID, r.Refused)
	}
	// A second number on the trunk makes it ambiguous: refused, never guessed.
	mkNumber(a.ID, "+16478491001", ipTrunk, &asst.ID)
	r = decide(vars("variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "9228"))
	if r.Refused == nil || *r.Refused != route.RefuseAmbiguous || r.Detail == "" {
		t.Fatalf("ambiguous: %+v", r)
	}
	// Registration trunk by gateway; number without assistant → 480.
	r = decide(vars("variable_sip_gateway", "o1_zadarma", "variable_sip_req_user", "gw+o1_zadarma", "variable_sip_to_user", "+16478491005"))
	if r.TrunkBy != "gateway" || r.Refused == nil || *r.Refused != route.RefuseNoAssistant {
		t.Fatalf("no assistant: %+v", r)
	}
	// Unknown number, and another organization's number: the same 404.
	for _, num := range []string{"+16478499999", "+442079460018"} {
		r = decide(vars("variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", num))
		if r.Refused == nil || *r.Refused != route.RefuseUnknownNumber {
			t.Fatalf("%s: %+v", num, r)
		}
	}
	// Caller country allow-list.
	for caller, ok := range map[string]bool{"+14165550100": true, "+442079460018": false, "anonymous": false} {
		r = decide(vars("variable_sip_network_ip", "203.0.113.9", "variable_sip_req_user", "+16478491007", "Caller-Caller-ID-Number", caller))
		if r.TrunkBy != "source_address" || (r.Refused == nil) != ok || (!ok && *r.Refused != route.RefuseCountryBlocked) {
			t.Fatalf("caller %s: %+v %+v", caller, r, r.Refused)
		}
	}
	// inbound_enabled=false on the trunk: 480, with the number known (the
	// record stays in the organization); enabled again, the call goes on.
	ipTrunk.InboundDisabled = true
	if err := store.UpdateTrunk(ctx, ipTrunk); err != nil {
		t.Fatal(err)
	}
	diverted := vars("variable_sip_acl_authed_by", "o1_carrier", "variable_sip_i_diversion", "<sip:+16478491000@pbx.example.com>")
	r = decide(diverted)
	if r.Refused == nil || *r.Refused != route.RefuseInboundDisabled || r.Number == nil || r.Trunk.ID != ipTrunk.ID || r.Detail == "" {
		t.Fatalf("inbound disabled: %+v %+v", r, r.Refused)
	}
	ipTrunk.InboundDisabled = false
	if err := store.UpdateTrunk(ctx, ipTrunk); err != nil {
		t.Fatal(err)
	}
	if r = decide(diverted); r.Refused != nil {
		t.Fatalf("inbound enabled again: %+v", r.Refused)
	}
	// No trunk: an address in no list, no ACL, no gateway.
	r = decide(vars("variable_sip_network_ip", "192.0.2.1", "variable_sip_req_user", "+16478491000"))
	if r.Refused == nil || *r.Refused != route.RefuseUnknownTrunk {
		t.Fatalf("unknown trunk: %+v", r)
	}
	// A disabled trunk's list no longer identifies it.
	ipTrunk.Enabled = false
	store.UpdateTrunk(ctx, ipTrunk)
	r = decide(vars("variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478491000"))
	if r.Refused == nil || *r.Refused != route.RefuseUnknownTrunk {
		t.Fatalf("disabled trunk: %+v", r)
	}
}

// Identify by number, authorize by address. FreeSWITCH names the FIRST ACL
// list that holds the source (sip_acl_authed_by), so when several trunks
// allow an address — two of one organization (a registration trunk and an
// IP-auth trunk to one carrier) or shared carrier space of several — the
// called number's trunk decides, never the list order; a number none of
// them owns is refused, never landed in whichever organization came first.
func TestInboundRoutingSharedAddress(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { testInboundRoutingSharedAddress(t, g, false) })
}

func testInboundRoutingSharedAddress(t *testing.T, g *gorm.DB, cached bool) {
	ctx := context.Background()
	store := db.NewStore(g, dbtest.Keyring(t), nil)
	a, _, _ := store.EnsureOrg(ctx, "a")
	a.DefaultCountry = "CA"
	store.UpdateOrg(ctx, a, db.OrgSecrets{})
	b, _, _ := store.EnsureOrg(ctx, "b")
	mkTrunk := func(org int64, gw string, register bool, priority int, gateway string, allowed ...string) *db.SIPTrunk {
		tr := &db.SIPTrunk{ID: db.NewID(), OrgID: org, Name: gw, GatewayName: gw, Gateway: gateway, Enabled: true, Register: register,
			Priority: priority, Transport: "udp", AllowedAddresses: allowed}
		if err := store.CreateTrunk(ctx, tr); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	const carrier = "192.0.2.10" // shared carrier space: both organizations allow it
	aIP := mkTrunk(a.ID, "oa_ip", false, 1, "sip.carrier.example.com", carrier+"/32")
	aReg := mkTrunk(a.ID, "oa_reg", true, 2, "sip.carrier.example.com", carrier+"/32")
	aOther := mkTrunk(a.ID, "oa_other", false, 1, "pbx.a.example.com", "198.51.100.1/32")
	aLit := mkTrunk(a.ID, "oa_lit", true, 1, "192.0.2.20:5060") // its ACL: what its gateway is
	bIP := mkTrunk(b.ID, "ob_ip", false, 1, "sip.carrier.example.com", "192.0.2.0/28")
	bIP2 := mkTrunk(b.ID, "ob_ip2", false, 1, "sip.carrier.example.com", "192.0.2.20/32")
	bPBX := mkTrunk(b.ID, "ob_pbx", false, 1, "pbx.b.example.com", "198.51.100.77/32")
	aTwo1 := mkTrunk(a.ID, "oa_two1", false, 1, "pbx2.a.example.com", "192.0.2.30/32")
	mkTrunk(a.ID, "oa_two2", false, 1, "pbx2.a.example.com", "192.0.2.30/32")
	asstA := &db.Assistant{OrgID: a.ID, Name: "A"}
	store.SaveAssistant(ctx, asstA, db.AssistantSecrets{})
	asstB := &db.Assistant{OrgID: b.ID, Name: "B"}
	store.SaveAssistant(ctx, asstB, db.AssistantSecrets{})
	mkNumber := func(org int64, e164 string, trunk *db.SIPTrunk, assistant string) {
		n := &db.PhoneNumber{OrgID: org, PhoneNumber: e164, Provider: db.ProviderBYOSIP, IsActive: true, AssistantID: &assistant}
		if trunk != nil {
			n.SIPTrunkID = &trunk.ID
		}
		if err := store.SaveNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	mkNumber(a.ID, "+16478491000", aIP, asstA.ID)
	mkNumber(a.ID, "+16478491001", aReg, asstA.ID)
	mkNumber(a.ID, "+16478491002", nil, asstA.ID) // the organization's, on no trunk
	mkNumber(a.ID, "+16478491003", aOther, asstA.ID)
	mkNumber(a.ID, "+16478491004", aLit, asstA.ID)
	mkNumber(b.ID, "+12125550100", bIP, asstB.ID)
	mkNumber(b.ID, "+12125550101", bIP2, asstB.ID)
	router := routerOn(t, g, store, cached)

	type want struct {
		trunk   *db.SIPTrunk // nil: no trunk (refused across organizations)
		by      string
		refused *route.Refusal
	}
	for _, c := range []struct {
		name string
		vars []string
		want want
	}{
		{"B's list first cannot take A's call", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "+16478491000"},
			want{aIP, "did", nil}},
		{"A's list first cannot take B's call", []string{"variable_sip_acl_authed_by", "oa_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "+12125550100"},
			want{bIP, "did", nil}},
		{"a national number, read with its owner's country", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "6478491000"},
			want{aIP, "did", nil}},
		{"the registration trunk's number", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "+16478491001"},
			want{aReg, "did", nil}},
		{"the same, named by FreeSWITCH as A's IP trunk", []string{"variable_sip_acl_authed_by", "oa_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "+16478491001"},
			want{aReg, "did", nil}},
		{"the organization's number on no trunk: by priority", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "+16478491002"},
			want{aIP, "did", nil}},
		{"the organization's number on no trunk: the named list", []string{"variable_sip_acl_authed_by", "oa_reg", "variable_sip_network_ip", carrier, "variable_sip_req_user", "+16478491002"},
			want{aReg, "did", nil}},
		{"a number none of them owns", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "+16478499999"},
			want{nil, "", &route.RefuseSharedAddress}},
		{"A's number on a trunk that does not allow the address", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "+16478491003"},
			want{nil, "", &route.RefuseSharedAddress}},
		{"an extension alone from shared space: never a guess", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier, "variable_sip_req_user", "9228"},
			want{nil, "", &route.RefuseSharedAddress}},
		{"a header number outranks another trunk's single-number extension", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier,
			"variable_sip_req_user", "9228", "variable_sip_i_diversion", "<sip:+16478491000@pbx.example.com>;reason=unconditional"},
			want{aIP, "did", nil}},
		{"a registration call to A's contact through B's list", []string{"variable_sip_acl_authed_by", "ob_ip", "variable_sip_network_ip", carrier,
			"variable_sip_gateway", "oa_reg", "variable_sip_req_user", "gw+oa_reg", "variable_sip_to_user", "+16478491001"},
			want{aReg, "did", nil}},
		{"a forged gw+ from B's own PBX reaches nothing of A", []string{"variable_sip_acl_authed_by", "ob_pbx", "variable_sip_network_ip", "198.51.100.77",
			"variable_sip_gateway", "oa_reg", "variable_sip_req_user", "gw+oa_reg", "variable_sip_to_user", "+16478491001"},
			want{bPBX, "acl", &route.RefuseUnknownNumber}},
		{"a registration trunk's gateway address (no allowed_addresses)", []string{"variable_sip_acl_authed_by", "ob_ip2", "variable_sip_network_ip", "192.0.2.20",
			"variable_sip_req_user", "+16478491004"},
			want{aLit, "did", nil}},
		{"and B's number from there", []string{"variable_sip_acl_authed_by", "oa_lit", "variable_sip_network_ip", "192.0.2.20", "variable_sip_req_user", "+12125550101"},
			want{bIP2, "did", nil}},
		{"one organization's two trunks, unknown number: refused on its record", []string{"variable_sip_acl_authed_by", "oa_two1", "variable_sip_network_ip", "192.0.2.30",
			"variable_sip_req_user", "+16478499999"},
			want{aTwo1, "acl", &route.RefuseSharedAddress}},
		{"one trunk only: as before", []string{"variable_sip_acl_authed_by", "ob_pbx", "variable_sip_network_ip", "198.51.100.77", "variable_sip_req_user", "+16478491000"},
			want{bPBX, "acl", &route.RefuseUnknownNumber}},
		{"one trunk by source address", []string{"variable_sip_network_ip", "192.0.2.5", "variable_sip_req_user", "+12125550100"},
			want{bIP, "source_address", nil}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := router.Decide(ctx, vars(c.vars...))
			if err != nil {
				t.Fatal(err)
			}
			gotTrunk := ""
			if r.Trunk != nil {
				gotTrunk = r.Trunk.GatewayName
			}
			wantTrunk := ""
			if c.want.trunk != nil {
				wantTrunk = c.want.trunk.GatewayName
			}
			if gotTrunk != wantTrunk || r.TrunkBy != c.want.by || (r.Refused == nil) != (c.want.refused == nil) ||
				(r.Refused != nil && *r.Refused != *c.want.refused) {
				t.Fatalf("trunk %q by %q refused %+v (%s), want %q by %q refused %+v", gotTrunk, r.TrunkBy, r.Refused, r.Detail, wantTrunk, c.want.by, c.want.refused)
			}
			if r.Refused == nil {
				wantAsst := asstA.ID
				if c.want.trunk.OrgID == b.ID {
					wantAsst = asstB.ID
				}
				if r.AssistantID != wantAsst || r.Number == nil || r.Number.OrgID != c.want.trunk.OrgID {
					t.Fatalf("accepted into the wrong organization: %+v", r)
				}
			}
		})
	}
}

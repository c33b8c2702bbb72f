package controller_test

import (
	"context"
	"testing"

	"github.com/sipbridge/sipbridge/controller"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
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
		r      controller.Refusal
		status int
		cause  string
	}{
		{controller.RefuseUnknownTrunk, 403, "CALL_REJECTED"},
		{controller.RefuseUnknownNumber, 404, "UNALLOCATED_NUMBER"},
		{controller.RefuseAmbiguous, 404, "UNALLOCATED_NUMBER"},
		{controller.RefuseNoAssistant, 480, "SUBSCRIBER_ABSENT"},
		{controller.RefuseCountryBlocked, 403, "CALL_REJECTED"},
	} {
		if c.r.SIPStatus != c.status || c.r.Cause != c.cause || c.r.Reason == "" {
			t.Errorf("%+v, want %d %s", c.r, c.status, c.cause)
		}
	}
}

func TestInboundRouting(t *testing.T) {
	dbtest.Each(t, testInboundRouting)
}

func testInboundRouting(t *testing.T, g *gorm.DB) {
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
	router := controller.NewRouter(store)
	decide := func(v func(string) []string) *controller.Route {
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
	if r.Refused == nil || *r.Refused != controller.RefuseAmbiguous || r.Detail == "" {
		t.Fatalf("ambiguous: %+v", r)
	}
	// Registration trunk by gateway; number without assistant → 480.
	r = decide(vars("variable_sip_gateway", "o1_zadarma", "variable_sip_req_user", "gw+o1_zadarma", "variable_sip_to_user", "+16478491005"))
	if r.TrunkBy != "gateway" || r.Refused == nil || *r.Refused != controller.RefuseNoAssistant {
		t.Fatalf("no assistant: %+v", r)
	}
	// Unknown number, and another organization's number: the same 404.
	for _, num := range []string{"+16478499999", "+442079460018"} {
		r = decide(vars("variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", num))
		if r.Refused == nil || *r.Refused != controller.RefuseUnknownNumber {
			t.Fatalf("%s: %+v", num, r)
		}
	}
	// Caller country allow-list.
	for caller, ok := range map[string]bool{"+14165550100": true, "+442079460018": false, "anonymous": false} {
		r = decide(vars("variable_sip_network_ip", "203.0.113.9", "variable_sip_req_user", "+16478491007", "Caller-Caller-ID-Number", caller))
		if r.TrunkBy != "source_address" || (r.Refused == nil) != ok || (!ok && *r.Refused != controller.RefuseCountryBlocked) {
			t.Fatalf("caller %s: %+v %+v", caller, r, r.Refused)
		}
	}
	// No trunk: an address in no list, no ACL, no gateway.
	r = decide(vars("variable_sip_network_ip", "192.0.2.1", "variable_sip_req_user", "+16478491000"))
	if r.Refused == nil || *r.Refused != controller.RefuseUnknownTrunk {
		t.Fatalf("unknown trunk: %+v", r)
	}
	// A disabled trunk's list no longer identifies it.
	ipTrunk.Enabled = false
	store.UpdateTrunk(ctx, ipTrunk)
	r = decide(vars("variable_sip_acl_authed_by", "o1_carrier", "variable_sip_req_user", "+16478491000"))
	if r.Refused == nil || *r.Refused != controller.RefuseUnknownTrunk {
		t.Fatalf("disabled trunk: %+v", r)
	}
}

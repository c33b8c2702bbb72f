package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
)

// Two organizations take calls from one carrier address (shared carrier
// space, SHARED_CARRIER_CIDRS): FreeSWITCH names whichever ACL list comes
// first in sip_acl_authed_by, yet each organization's number lands in its
// own organization (trunk_by "did" on the timeline), org B's list coming
// first cannot make org A's call fail, and a number neither owns is
// refused with 404 and recorded for neither.
func TestSharedCarrierAddressRoutesByNumber(t *testing.T) {
	ce := newCallEnv(t)
	ctx := context.Background()
	ce.addNumber("+16478491000", ce.assistant.ID) // org A's, on its trunk (127.0.0.1)
	trunkB := &db.SIPTrunk{ID: db.NewID(), OrgID: ce.orgB, Name: "Carrier", GatewayName: "o" + itoa(ce.orgB) + "_carrier", Gateway: "127.0.0.1",
		Priority: 1, Enabled: true, Register: false, Transport: "udp", AllowedAddresses: db.StringList{"127.0.0.0/29"}} // holds A's 127.0.0.1
	if err := ce.store.CreateTrunk(ctx, trunkB); err != nil {
		t.Fatal(err)
	}
	asstB := &db.Assistant{OrgID: ce.orgB, Name: "B's", StreamURL: ce.asst.URL(), WelcomeMessage: "Hello from B"}
	if err := ce.store.SaveAssistant(ctx, asstB, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	numB := &db.PhoneNumber{OrgID: ce.orgB, PhoneNumber: "+12125550100", Provider: db.ProviderBYOSIP, CountryCode: "US",
		SIPTrunkID: &trunkB.ID, CapVoice: true, IsActive: true, AssistantID: &asstB.ID}
	if err := ce.store.SaveNumber(ctx, numB); err != nil {
		t.Fatal(err)
	}
	callsOf := func(org int64) []db.Call {
		calls, _, err := ce.store.ListCalls(ctx, org, db.CallFilter{}, db.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return calls
	}
	recordOf := func(org int64, uuid string) *db.Call {
		for _, c := range callsOf(org) {
			if c.CallSID == uuid {
				return &c
			}
		}
		return nil
	}

	// Org A's PBX call (9228 + Diversion naming A's number), let in by
	// org B's list: it is org A's call.
	call := ce.pbxCall(nil)
	call.ACLAuthedBy = trunkB.GatewayName
	uuidA, err := ce.sw.Call(call)
	if err != nil {
		t.Fatal(err)
	}
	acA := ce.asst.next(3 * time.Second)
	recA := ce.waitCall(uuidA, db.CallInProgress, 3*time.Second)
	if recA.TrunkID == nil || *recA.TrunkID != ce.trunk.ID || recA.ResolvedDID != "+16478491000" {
		t.Fatalf("org A's record %+v", recA)
	}
	if !hasEvent(t, ce.env, ce.keyA, recA.ID, "routed", map[string]any{"trunk": ce.trunk.GatewayName, "trunk_by": "did", "did": "+16478491000"}) {
		t.Fatalf("timeline: %s", ce.mustDo("GET", "/api/v1/calls/"+recA.ID+"/events", ce.keyA, nil, 200).Raw)
	}
	if recordOf(ce.orgB, uuidA) != nil {
		t.Fatal("org B got a record of org A's call")
	}
	if r := ce.do("GET", "/api/v1/calls/"+recA.ID, ce.keyB, nil); r.Status != 404 {
		t.Fatalf("org B reads org A's call: %d", r.Status)
	}

	// Org B's call, let in by org A's list: it is org B's.
	uuidB, err := ce.sw.Call(fstest.InboundCall{FromUser: "+14165550100", RequestUser: "+12125550100", ACLAuthedBy: ce.trunk.GatewayName})
	if err != nil {
		t.Fatal(err)
	}
	acB := ce.asst.next(3 * time.Second)
	var recB *db.Call
	if !waitUntil(3*time.Second, func() bool {
		recB = recordOf(ce.orgB, uuidB)
		return recB != nil && recB.Status == db.CallInProgress
	}) {
		t.Fatalf("org B's call: %+v\n%s", recB, tail(ce.logs.String(), 3000))
	}
	if *recB.TrunkID != trunkB.ID || *recB.AssistantID != asstB.ID || recordOf(ce.orgA, uuidB) != nil {
		t.Fatalf("org B's record %+v", recB)
	}
	if !hasEvent(t, ce.env, ce.keyB, recB.ID, "routed", map[string]any{"trunk": trunkB.GatewayName, "trunk_by": "did"}) {
		t.Fatalf("org B's timeline: %s", ce.mustDo("GET", "/api/v1/calls/"+recB.ID+"/events", ce.keyB, nil, 200).Raw)
	}
	_, _, _, _, _, startA, _ := acA.snapshot()
	_, _, _, _, _, startB, _ := acB.snapshot()
	pa, _ := startA["customParameters"].(map[string]any)
	pb, _ := startB["customParameters"].(map[string]any)
	if pa["to"] != "+16478491000" || pa["welcome_message"] != "Hello from Acme" || pb["to"] != "+12125550100" || pb["welcome_message"] != "Hello from B" {
		t.Fatalf("the assistants were told: A %v, B %v", pa, pb)
	}

	// A number neither owns, from the shared address: 404, no record.
	uuidX, err := ce.sw.Call(fstest.InboundCall{FromUser: "+14165550100", RequestUser: "+16478499999", ACLAuthedBy: trunkB.GatewayName})
	if err != nil {
		t.Fatal(err)
	}
	ce.waitCommand("uuid_kill "+uuidX+" UNALLOCATED_NUMBER", 3*time.Second)
	if recordOf(ce.orgA, uuidX) != nil || recordOf(ce.orgB, uuidX) != nil {
		t.Fatal("a call neither organization owns was recorded")
	}
	if !strings.Contains(ce.logs.String(), "allowed by") {
		t.Fatalf("the refusal does not say why:\n%s", tail(ce.logs.String(), 3000))
	}

	// Again and again: org B's list first never costs org A a call.
	for i := 0; i < 3; i++ {
		call := ce.pbxCall(nil)
		call.ACLAuthedBy = trunkB.GatewayName
		uuid, err := ce.sw.Call(call)
		if err != nil {
			t.Fatal(err)
		}
		ce.asst.next(3 * time.Second)
		ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
		ce.sw.Hangup(uuid, "NORMAL_CLEARING")
		ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
	}
	ce.sw.Hangup(uuidA, "NORMAL_CLEARING")
	ce.sw.Hangup(uuidB, "NORMAL_CLEARING")
	ce.waitCall(uuidA, db.CallCompleted, 3*time.Second)
}

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() { addScenario(scenario{"tenants_shared_carrier", testTenantsSharedCarrier}) }

// Addresses of the two-tenant scenario: srcShared is in the suite's
// SHARED_CARRIER_CIDRS (a carrier both organizations buy from); srcOwned is
// not.
const (
	srcShared = "127.0.0.61"
	srcOwned  = "127.0.0.65"
)

// sharedCarrierCIDRs is the suite's SHARED_CARRIER_CIDRS.
const sharedCarrierCIDRs = "127.0.0.60/30"

// testTenantsSharedCarrier: two organizations on one switch, as a hostile
// tenant would try it. Organization B cannot list an address organization A's
// trunk allows (409, without naming A) unless it is shared carrier space.
// From a shared carrier address, each organization's number reaches its own
// assistant and record, whatever order FreeSWITCH tries the two lists in:
// the called number decides (trunk_by did). A number neither owns is 404
// and leaves a record in neither.
func testTenantsSharedCarrier(t *testing.T, b *Bridge) {
	sw := b.SW
	out := b.Run(t, "admin", "create-key", "--org", "e2e tenant b")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	orgB := &Client{Base: b.API.Base, Key: strings.TrimSpace(lines[len(lines)-1])}

	asstA, asstB := StartAssistant(t), StartAssistant(t)
	idA := b.CreateAssistant(t, "Tenant A Desk", asstA, nil)
	var ab struct {
		ID string `json:"id"`
	}
	orgB.Call(t, "POST", "/api/v1/assistants", map[string]any{"name": "Tenant B Desk", "stream_url": asstB.URL()}, http.StatusCreated, &ab)

	// A's own address: B may not claim it.
	b.ipTrunk(t, "Tenant A Own", srcOwned, srcOwned+":5060", nil)
	st, body := orgB.Do(t, "POST", "/api/v1/sip-trunks", map[string]any{"name": "Tenant B Grab", "gateway": srcOwned + ":5060",
		"register": false, "allowed_addresses": []string{srcOwned + "/32"}})
	if st != http.StatusConflict || !strings.Contains(string(body), `"field":"allowed_addresses"`) || strings.Contains(string(body), "Tenant A") {
		t.Fatalf("org B listing org A's carrier address: %d %s, want 409 on allowed_addresses naming nobody", st, body)
	}

	// The shared carrier: both organizations list it.
	trA := b.ipTrunk(t, "Tenant A Carrier", srcShared, srcShared+":5060", nil)
	var trB Trunk
	orgB.Call(t, "POST", "/api/v1/sip-trunks", map[string]any{"name": "Tenant B Carrier", "gateway": srcShared + ":5060",
		"register": false, "allowed_addresses": []string{srcShared + "/32"}}, http.StatusCreated, &trB)
	t.Cleanup(func() {
		orgB.Do(t, "DELETE", "/api/v1/sip-trunks/"+trB.ID, nil)
		orgB.Do(t, "DELETE", "/api/v1/assistants/"+ab.ID, nil)
	})
	const numA, numB, numNobody = "+16478496001", "+16478496002", "+16478496009"
	b.addNumberOn(t, numA, idA, trA.ID)
	orgB.Call(t, "POST", "/api/v1/phone-numbers/purchase", map[string]any{"phone_number": numB, "provider": "byo-sip-trunk",
		"sip_trunk_id": trB.ID, "assistant_id": ab.ID}, http.StatusOK, nil)
	t.Cleanup(func() { orgB.Do(t, "POST", "/api/v1/phone-numbers/release", map[string]any{"phone_number": numB}) })
	testkit.Eventually(t, 15*time.Second, "org B's carrier trunk applied", func() bool {
		var tr Trunk
		orgB.Call(t, "GET", "/api/v1/sip-trunks/"+trB.ID, nil, http.StatusOK, &tr)
		return tr.SyncStatus.State == "applied"
	}, nil)
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	calls := []*Sipp{
		StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcShared, Remote: sw.remote(), Calls: 1, Timeout: 20 * time.Second,
			Data: toUser("+14165550601", numA)}),
		StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcShared, Remote: sw.remote(), Calls: 1, Timeout: 20 * time.Second,
			Data: toUser("+14165550602", numB)}),
		StartSipp(t, SippOptions{Scenario: "uac-refused.xml", IP: srcShared, Remote: sw.remote(), Calls: 1, Timeout: 20 * time.Second,
			Data: call{From: "+14165550609", To: numNobody, Code: 404}}),
	}
	for i, s := range calls {
		if code := s.Wait(t, 30*time.Second); code != 0 {
			t.Errorf("call %d from the shared carrier: sipp exited %d (%s): %s", i, code, sippExit(code), s.Report())
		}
	}
	if got := asstA.ByParam(t, "to", numA, 5*time.Second).Param("from"); got != "+14165550601" {
		t.Errorf("org A's assistant got the call from %q", got)
	}
	if got := asstB.ByParam(t, "to", numB, 5*time.Second).Param("from"); got != "+14165550602" {
		t.Errorf("org B's assistant got the call from %q", got)
	}
	for _, c := range asstA.Conns() {
		if c.Param("to") != numA {
			t.Errorf("org A's assistant got a call to %s", c.Param("to"))
		}
	}
	for _, c := range asstB.Conns() {
		if c.Param("to") != numB {
			t.Errorf("org B's assistant got a call to %s", c.Param("to"))
		}
	}

	// Each record in its own organization, attributed by the number.
	recA := b.waitRecord(t, "org A's call record closed", 10*time.Second, func(c CallRecord) bool { return c.To == numA && c.EndedAt != nil })
	if recA.TrunkID == nil || *recA.TrunkID != trA.ID || recA.Status != "completed" {
		t.Errorf("org A's record %+v, want completed on %s", recA, trA.ID)
	}
	if by := routedBy(t, b.API, recA.ID); by != "did" {
		t.Errorf("org A's call was attributed by %q, want did", by)
	}
	var pageB []CallRecord
	testkit.Eventually(t, 10*time.Second, "org B's call record closed", func() bool {
		orgB.Call(t, "GET", "/api/v1/calls?limit=50", nil, http.StatusOK, &pageB)
		for _, c := range pageB {
			if c.To == numB && c.EndedAt != nil {
				return true
			}
		}
		return false
	}, nil)
	for _, c := range pageB {
		switch c.To {
		case numB:
			if c.TrunkID == nil || *c.TrunkID != trB.ID || c.Status != "completed" {
				t.Errorf("org B's record %+v, want completed on %s", c, trB.ID)
			}
			if by := routedBy(t, orgB, c.ID); by != "did" {
				t.Errorf("org B's call was attributed by %q, want did", by)
			}
		default:
			t.Errorf("org B holds a record of a call to %s: %+v", c.To, c)
		}
	}
	for _, c := range b.callRecords(t, "") {
		if c.To == numB || c.To == numNobody || c.ResolvedDID == numNobody {
			t.Errorf("org A holds a record of a call to %s: %+v", c.To, c)
		}
	}
}

// routedBy returns how a call's trunk was found (the routed event's trunk_by).
func routedBy(t *testing.T, c *Client, callID string) string {
	t.Helper()
	var evs []CallEvent
	c.Call(t, "GET", "/api/v1/calls/"+callID+"/events", nil, http.StatusOK, &evs)
	for _, e := range evs {
		if e.Type == "routed" {
			return fmt.Sprint(e.Detail["trunk_by"])
		}
	}
	return ""
}

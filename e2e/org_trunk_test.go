package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"org_trunk", testOrgTrunk})
}

// srcOrgTrunk is the org_trunk scenario's carrier: registrar, callee and
// the source of its inbound calls.
const srcOrgTrunk = "127.0.0.21"

// listOf reads a list route into items, whatever the list's envelope (a
// bare array, or {"items": […]}).
func listOf[T any](t testing.TB, b *Bridge, path string) []T {
	t.Helper()
	st, raw := b.API.Do(t, "GET", path, nil)
	if st != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, st, raw)
	}
	var items []T
	if raw = bytes.TrimSpace(raw); len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &items); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return items
	}
	var page struct {
		Items []T `json:"items"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return page.Items
}

// orgTrunkView is a trunk with the fields this scenario reads.
type orgTrunkView struct {
	Trunk
	Source         string `json:"source"`
	Realm          string `json:"realm"`
	InboundEnabled bool   `json:"inbound_enabled"`
}

// testOrgTrunk: Burki's organization-level SIP configuration, sent as
// documented to PUT /api/v1/organizations/{id}, pointing at a carrier that
// is registrar and callee in one. The organization's trunk appears in
// /sip-trunks (source organization) and registers (REGED, the carrier
// seeing the username); the documented byo-sip-trunk registration puts the
// number on it with no sip_trunk_id; an outbound call from the number goes
// through it, the dialled number keeping its + (outbound_leading_plus_enabled
// true) and losing it once that is false; with inbound_enabled false an
// inbound call to the number is refused with 480 and recorded as refused
// with the reason, and once true again the same call is put through.
func testOrgTrunk(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Org Trunk Desk", asst, nil)
	carrier := StartSipp(t, SippOptions{Scenario: "registrar-uas.xml", IP: srcOrgTrunk, Timeout: 120 * time.Second})

	var org struct {
		ID int64 `json:"id"`
	}
	b.API.Call(t, "GET", "/api/v1/organization", nil, http.StatusOK, &org)
	orgPath := fmt.Sprintf("/api/v1/organizations/%d", org.ID)
	sipConfig := func(leadingPlus, inbound bool) map[string]any {
		return map[string]any{
			"sip_gateway": fmt.Sprintf("%s:%d", carrier.IP, carrier.Port), "sip_username": "15551234567", "sip_password": "your_sip_password",
			"sip_trunk_config": map[string]any{
				"sip_domain": "zadarma.com", "inbound_enabled": inbound, "outbound_leading_plus_enabled": leadingPlus,
				"auth_plan": map[string]any{"type": "credentials", "username": "15551234567", "password": "your_sip_password"},
			},
		}
	}
	var view struct {
		SIPTrunkID     string `json:"sip_trunk_id"`
		SIPTrunkSource string `json:"sip_trunk_source"`
	}
	b.API.Call(t, "PUT", orgPath, sipConfig(true, false), http.StatusOK, &view)
	t.Cleanup(func() {
		b.removeTrunk(t, Trunk{ID: view.SIPTrunkID, Name: "the organization's trunk"})
		b.API.Call(t, "PUT", orgPath, map[string]any{"sip_trunk_config": map[string]any{"outbound_leading_plus_enabled": true}}, http.StatusOK, nil)
	})
	if view.SIPTrunkID == "" || view.SIPTrunkSource != "organization" {
		t.Fatalf("PUT %s answered trunk %q source %q", orgPath, view.SIPTrunkID, view.SIPTrunkSource)
	}
	trunks := listOf[orgTrunkView](t, b, "/api/v1/sip-trunks")
	if len(trunks) != 1 || trunks[0].ID != view.SIPTrunkID || trunks[0].Source != "organization" || !trunks[0].Register ||
		trunks[0].Realm != "zadarma.com" || trunks[0].InboundEnabled {
		t.Fatalf("/sip-trunks: %+v, want the organization's trunk alone (register, realm zadarma.com, inbound disabled)", trunks)
	}
	tr := b.WaitTrunk(t, view.SIPTrunkID, "gateway_state REGED", 10*time.Second, func(tr Trunk) bool { return tr.GatewayState == "REGED" })
	if g, ok := b.SW.Gateway(t, tr.GatewayName); !ok || g.State != "REGED" || g.Username != "15551234567" {
		t.Errorf("FreeSWITCH's gateway: %+v (present %v), want REGED as 15551234567", g, ok)
	}
	if regs := carrier.Received("REGISTER "); len(regs) == 0 || !strings.Contains(regs[0], "15551234567@") {
		t.Errorf("the carrier saw %d REGISTERs, want one from 15551234567", len(regs))
	}

	// The next documented step: register the number, no trunk named.
	const number = "+15551234567"
	var bought struct {
		Success bool `json:"success"`
		Details struct {
			TrunkID string `json:"sip_trunk_id"`
		} `json:"purchase_details"`
	}
	b.API.Call(t, "POST", "/api/v1/phone-numbers/purchase", map[string]any{"phone_number": number, "provider": "byo-sip-trunk",
		"friendly_name": "My SIP Number", "assistant_id": asstID}, http.StatusOK, &bought)
	t.Cleanup(func() {
		if st, data := b.API.Do(t, "POST", "/api/v1/phone-numbers/release", map[string]any{"phone_number": number}); st != http.StatusOK {
			t.Errorf("cleanup: release %s: %d %s", number, st, data)
		}
	})
	if !bought.Success || bought.Details.TrunkID != view.SIPTrunkID {
		t.Fatalf("byo-sip-trunk number: %+v, want it on the organization's trunk %s", bought, view.SIPTrunkID)
	}
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	outbound := func(t *testing.T, to, wantUser string) {
		before := len(carrier.Received("INVITE "))
		var res struct {
			CallID string `json:"call_id"`
		}
		b.API.Call(t, "POST", "/api/v1/calls/initiate", map[string]any{"to_phone_number": to, "from_phone_number": number, "assistant_id": asstID}, http.StatusOK, &res)
		invites := carrier.Received("INVITE ")
		if len(invites) != before+1 {
			t.Fatalf("the carrier got %d new INVITEs, want 1", len(invites)-before)
		}
		if ruri, _, _ := strings.Cut(invites[before], "\n"); !strings.HasPrefix(ruri, "INVITE sip:"+wantUser+"@") {
			t.Errorf("the carrier got %q, want the user %s", ruri, wantUser)
		}
		asst.ByParam(t, "to", to, 10*time.Second)
		byes := len(carrier.Received("BYE "))
		b.API.Call(t, "POST", "/api/v1/calls/"+res.CallID+"/hangup", nil, http.StatusAccepted, nil)
		testkit.Eventually(t, 5*time.Second, "the BYE at the carrier", func() bool { return len(carrier.Received("BYE ")) == byes+1 }, nil)
		b.WaitCall(t, "the outbound record completed", 5*time.Second, func(c Call) bool { return c.ID == res.CallID && c.Status == "completed" })
	}
	t.Run("outbound", func(t *testing.T) { outbound(t, "+12125557001", "+12125557001") })
	t.Run("outbound_without_plus", func(t *testing.T) {
		b.API.Call(t, "PUT", orgPath, map[string]any{"sip_trunk_config": map[string]any{"outbound_leading_plus_enabled": false}}, http.StatusOK, nil)
		outbound(t, "+12125557002", "12125557002")
	})

	inbound := func(from string, hold bool) *Sipp {
		c := call{From: from, To: number, Code: 480}
		if hold {
			return StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcOrgTrunk, Remote: b.SW.remote(), Calls: 1, Timeout: 15 * time.Second,
				Data: toUser(from, number)})
		}
		return StartSipp(t, SippOptions{Scenario: "uac-refused.xml", IP: srcOrgTrunk, Remote: b.SW.remote(), Calls: 1, Timeout: 15 * time.Second, Data: c})
	}
	t.Run("inbound_disabled", func(t *testing.T) {
		const from = "+14165550721"
		if s := inbound(from, false); s.Wait(t, 25*time.Second) != 0 {
			t.Fatalf("the inbound call was not refused with 480: %s", s.Report())
		}
		rec := b.WaitCall(t, "the refused record", 5*time.Second, func(c Call) bool { return c.From == from && c.To == number && c.EndedAt != nil })
		if rec.Status != "refused" || rec.SIPStatus != 480 || !strings.Contains(rec.Reason, "inbound calls are disabled") ||
			rec.TrunkID == nil || *rec.TrunkID != view.SIPTrunkID || rec.AnsweredAt != nil {
			t.Errorf("record %s: want refused 480 on the organization's trunk with the reason", jsonString(rec))
		}
		if c := asst.Conns(); len(c) != 2 {
			t.Errorf("%d streams reached the assistant, want the 2 outbound calls only", len(c))
		}
	})
	t.Run("inbound_enabled", func(t *testing.T) {
		b.API.Call(t, "PUT", orgPath, map[string]any{"sip_trunk_config": map[string]any{"inbound_enabled": true}}, http.StatusOK, nil)
		const from = "+14165550722"
		if s := inbound(from, true); s.Wait(t, 25*time.Second) != 0 {
			t.Fatalf("the inbound call was not put through: %s", s.Report())
		}
		rec := b.WaitCall(t, "the inbound record", 5*time.Second, func(c Call) bool { return c.From == from && c.To == number && c.EndedAt != nil })
		if rec.Status != "completed" || rec.ResolvedDID != number || rec.TrunkID == nil || *rec.TrunkID != view.SIPTrunkID {
			t.Errorf("record %s: want completed on the organization's trunk", jsonString(rec))
		}
	})
}

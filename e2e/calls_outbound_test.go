package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"outbound", testOutbound})
}

// srcOutbound2 lets in the second outbound trunk's carrier (unused inbound,
// but every IP-auth trunk names its addresses).
const srcOutbound2 = "127.0.0.18"

// legTimeout is the suite's LEG_TIMEOUT: how long a trunk rings before the
// next is tried (sipbridge's default is 30 s).
const legTimeout = 3 * time.Second

// testOutbound: POST /api/v1/calls/initiate from a number on the
// organization's SIP trunks, with wait=true (the blocking answer scripts
// use; outbound_progress covers the default, immediate one).
//
// failover: the number's own trunk (priority 1) has a carrier that rings
// and never answers, the second trunk (priority 2) one that answers. The
// first rings for LEG_TIMEOUT (3 s here), FreeSWITCH cancels it (CANCEL,
// 487) and the one originate with `|` fails over. The call is answered on
// the second carrier, whose
// INVITE asks for the dialled number with the from-number as caller ID;
// the API answers 200 with the call's ids; the assistant gets `start` with
// direction outbound, from and to; the record is in progress until the API
// hangs it up, then completed, the carrier having got the BYE.
//
// all_trunks_fail: the same two carriers refuse the next number at once
// (503, then 486): 502 all_trunks_failed with attempts naming each trunk, its gateway
// and its cause in dial order, and a failed record.
func testOutbound(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Outbound Caller", asst, nil)
	const busyNumber = "+12125550486"
	first := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 2, Timeout: 60 * time.Second,
		Data: uasData{Code: 180, Except: strings.TrimPrefix(busyNumber, "+"), ExceptCode: 503, ExceptPhrase: "Service Unavailable"}})
	second := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 2, Timeout: 60 * time.Second,
		Data: uasData{Code: 200, Except: strings.TrimPrefix(busyNumber, "+"), ExceptCode: 486, ExceptPhrase: "Busy Here"}})
	tr1 := b.ipTrunk(t, "Out First", srcOutbound, fmt.Sprintf("%s:%d", first.IP, first.Port), map[string]any{"priority": 1})
	tr2 := b.ipTrunk(t, "Out Second", srcOutbound2, fmt.Sprintf("%s:%d", second.IP, second.Port), map[string]any{"priority": 2})
	const from = "+16478495000"
	b.addNumberOn(t, from, asstID, tr1.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	t.Run("failover", func(t *testing.T) {
		const to = "+12125550123"
		started := time.Now()
		var res struct {
			Message string `json:"message"`
			CallSID string `json:"call_sid"`
			CallID  string `json:"call_id"`
		}
		b.API.Call(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": to,
			"welcome_message": "Hello from the e2e suite", "wait": true}, http.StatusOK, &res)
		t.Logf("initiate answered in %v: %+v", time.Since(started).Round(time.Millisecond), res)
		if res.CallID == "" || res.CallSID == "" {
			t.Fatalf("initiate answered %+v, want call_id and call_sid", res)
		}
		if n := len(first.Received("INVITE ")); n != 1 {
			t.Errorf("the priority-1 carrier got %d INVITEs, want 1 (tried first)", n)
		}
		if n := len(first.Received("CANCEL ")); n != 1 {
			t.Errorf("the priority-1 carrier got %d CANCELs, want 1 (it rang out)", n)
		}
		if took := time.Since(started); took < legTimeout {
			t.Errorf("initiate answered after %v: before the first trunk's %v of ringing", took, legTimeout)
		}
		invites := second.Received("INVITE ")
		if len(invites) != 1 {
			t.Fatalf("the priority-2 carrier got %d INVITEs, want 1", len(invites))
		}
		ruri, _, _ := strings.Cut(invites[0], "\n")
		if rpid := sipHeader(invites[0], "Remote-Party-ID"); !strings.HasPrefix(ruri, "INVITE sip:"+to+"@") || !strings.Contains(rpid, from+"@") {
			t.Errorf("the carrier got %q with Remote-Party-ID %q; want %s from %s", ruri, rpid, to, from)
		}

		ac := asst.ByParam(t, "to", to, 10*time.Second)
		for k, want := range map[string]string{"direction": "outbound", "from": from, "assistant_id": asstID, "welcome_message": "Hello from the e2e suite"} {
			if got := ac.Param(k); got != want {
				t.Errorf("start.customParameters.%s = %q, want %q", k, got, want)
			}
		}
		testkit.Eventually(t, 5*time.Second, "audio from the call at the assistant", func() bool { return ac.Frames() >= 5 }, nil)
		rec := b.call(t, res.CallID)
		if rec.Direction != "outbound" || rec.Status != "in-progress" || rec.CallSID != res.CallSID || rec.AnsweredAt == nil {
			t.Errorf("record %s: want outbound, in-progress, answered, call_sid %s", jsonString(rec), res.CallSID)
		}

		b.API.Call(t, "POST", "/api/v1/calls/"+res.CallID+"/hangup", nil, http.StatusAccepted, nil)
		testkit.Eventually(t, 5*time.Second, "the BYE at the carrier", func() bool { return len(second.Received("BYE ")) == 1 }, nil)
		b.WaitCall(t, "the record completed", 5*time.Second, func(c Call) bool { return c.ID == res.CallID && c.Status == "completed" && c.EndedAt != nil })
		types := eventTypes(b.callEvents(t, res.CallID))
		if !slices.Contains(types, "dialing") || !slices.Contains(types, "answered") {
			t.Errorf("timeline %q: want dialing and answered", types)
		}
	})

	t.Run("all_trunks_fail", func(t *testing.T) {
		st, body := b.API.Do(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": busyNumber, "wait": true})
		if st != http.StatusBadGateway {
			t.Fatalf("initiate with every carrier refusing: %d %s, want 502", st, body)
		}
		var out struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
			Attempts []struct {
				Trunk   string `json:"trunk"`
				Gateway string `json:"gateway"`
				Cause   string `json:"cause"`
			} `json:"attempts"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("502 body %s: %v", body, err)
		}
		t.Logf("502: %s", body)
		type attempt = struct{ Trunk, Gateway, Cause string }
		var got []attempt
		for _, a := range out.Attempts {
			got = append(got, attempt{a.Trunk, a.Gateway, a.Cause})
		}
		want := []attempt{{"Out First", tr1.GatewayName, "NORMAL_TEMPORARY_FAILURE"}, {"Out Second", tr2.GatewayName, "USER_BUSY"}}
		if out.Error.Code != "all_trunks_failed" || !slices.Equal(got, want) {
			t.Errorf("502 %s attempts %+v; want all_trunks_failed with %+v (503 and 486)", out.Error.Code, got, want)
		}
		for _, s := range []*Sipp{first, second} {
			if code := s.Wait(t, 10*time.Second); code != 0 {
				t.Errorf("carrier %s:%d exited %d (%s): %s", s.IP, s.Port, code, sippExit(code), s.Report())
			}
		}
		rec := b.waitRecord(t, "the failed record", 5*time.Second, func(c CallRecord) bool { return c.To == busyNumber && c.EndedAt != nil })
		if rec.Status != "failed" || rec.Direction != "outbound" {
			t.Errorf("record %s: want a failed outbound call", jsonString(rec))
		}
	})
}

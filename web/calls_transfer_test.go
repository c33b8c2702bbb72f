package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
)

// The assistant asks for a transfer to a PBX user by REFER; the PBX
// declines (603): the call stays up (sip_refer_continue_after_reply) and is
// bridged out through the trunks to the number in the URI instead; the
// timeline says so. The REFER carried none of the inbound headers.
func TestReferDeclinedFallsBackToBridge(t *testing.T) {
	ce := newCallEnv(t)
	backup := ce.addTrunk("Backup", 2)
	ce.loadTrunks()
	ce.allowCountries("CA", "US")
	ce.mustDo("PUT", "/api/v1/organization", ce.keyA, map[string]any{"sip_trunk_config": map[string]any{"outbound_leading_plus_enabled": false}}, 200)
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetReferOutcome("", fstest.ReferDecline)
	uuid, err := ce.sw.Call(ce.pbxCall(map[string][]string{
		"Diversion": {"<sip:+16478491000@pbx.example.com>;reason=unconditional"}, "X-Custom-Tag": {"abc123"}}))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() > 5 }) {
		t.Fatal("no media")
	}
	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": "sip:+14165550199@pbx.example.com"}})
	ce.waitCommand("uuid_deflect "+uuid+" sip:+14165550199@pbx.example.com", 2*time.Second)
	bridge := ce.waitCommand("uuid_bridge "+uuid+" ", 15*time.Second)
	leg := strings.Fields(bridge)[2]
	if ce.sw.Bridged(uuid) != leg {
		t.Fatalf("caller bridged to %q, want %q", ce.sw.Bridged(uuid), leg)
	}
	// The originate went over the trunks in priority order, the number's
	// own trunk first, without the + (outbound_leading_plus_enabled off).
	att := ce.sw.DialAttempts()
	if len(att) == 0 || att[0].Gateway != ce.trunk.GatewayName || att[0].Number != "14165550199" {
		t.Fatalf("dial attempts %+v", att)
	}
	orig := ce.commandsWith("originate ")
	if len(orig) != 1 || !strings.Contains(orig[0], "sofia/gateway/"+ce.trunk.GatewayName+"/14165550199|") ||
		!strings.Contains(orig[0], "sofia/gateway/"+backup.GatewayName+"/14165550199") || !strings.Contains(orig[0], "originate_continue_on_timeout=true") {
		t.Fatalf("originate %q", orig)
	}
	for _, r := range ce.sw.Refers(uuid) {
		for h := range r.Headers {
			if strings.EqualFold(h, "X-Custom-Tag") || strings.EqualFold(h, "Diversion") {
				t.Fatalf("the REFER copied the inbound header %s", h)
			}
		}
	}
	// The caller hangs up: both legs end, the record is completed.
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	rec := ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
	r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
	for _, ev := range []string{"transfer_requested", "refer_sent", "refer_failed", "transfer_fallback", "transferred"} {
		if !strings.Contains(r.Raw, `"type":"`+ev+`"`) {
			t.Errorf("timeline lacks %s: %s", ev, r.Raw)
		}
	}
	if !waitUntil(2*time.Second, func() bool { return len(ce.sw.Channels()) == 0 }) {
		t.Fatalf("channels left: %v", ce.sw.Channels())
	}
}

// The API transfers a live call to a phone number: the first trunk rings
// out (leg timeout), the second answers, the caller is bridged to it.
func TestTransferAPIBridgesWithFailover(t *testing.T) {
	ce := newCallEnv(t)
	backup := ce.addTrunk("Backup", 2)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})
	uuid, ac, rec := ce.liveCall()
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "not a number"}); r.Status != 400 || r.errField() != "to" {
		t.Fatalf("bad target: %d %s", r.Status, r.Raw)
	}
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyB, map[string]any{"to": "+14165550199"}); r.Status != 404 {
		t.Fatalf("org B transfers org A's call: %d", r.Status)
	}
	ce.mustDo("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "+14165550199"}, 202)
	bridge := ce.waitCommand("uuid_bridge "+uuid+" ", 15*time.Second)
	att := ce.sw.DialAttempts()
	if len(att) != 2 || att[0].Cause != "ALLOTTED_TIMEOUT" || att[1].Gateway != backup.GatewayName || !att[1].Answered {
		t.Fatalf("attempts %+v", att)
	}
	if leg := strings.Fields(bridge)[2]; leg != att[1].UUID {
		t.Fatalf("bridged to %s, answered leg %s", leg, att[1].UUID)
	}
	select {
	case <-ac.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the assistant's stream stayed open after the transfer")
	}
}

// A trunk set to transfer by REFER: an E.164 target gets a REFER with the
// trunk's Refer-To template; the far end accepts, the NOTIFY says 200, and
// sipbridge hangs its leg up with BLIND_TRANSFER.
func TestTransferByTrunkReferTemplate(t *testing.T) {
	ce := newCallEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	if r := ce.do("PUT", "/api/v1/sip-trunks/"+ce.trunk.ID, ce.keyA, map[string]any{"transfer_mode": "refer"}); r.Status != 400 || r.errField() != "refer_to_template" {
		t.Fatalf("refer without a template: %d %s", r.Status, r.Raw)
	}
	if r := ce.do("PUT", "/api/v1/sip-trunks/"+ce.trunk.ID, ce.keyA, map[string]any{"transfer_mode": "refer", "refer_to_template": "sip:me@pbx"}); r.Status != 400 || r.errField() != "refer_to_template" {
		t.Fatalf("template without {e164}: %d %s", r.Status, r.Raw)
	}
	v := ce.mustDo("PUT", "/api/v1/sip-trunks/"+ce.trunk.ID, ce.keyA, map[string]any{"transfer_mode": "refer", "refer_to_template": "sip:{e164}@pbx.example.com"}, 200)
	if v.Body["transfer_mode"] != "refer" || v.Body["refer_to_template"] != "sip:{e164}@pbx.example.com" {
		t.Fatalf("trunk %s", v.Raw)
	}
	ce.sw.SetReferOutcome("", fstest.ReferAccept)
	ce.allowCountries("CA") // the PBX dials the number the REFER names: the allow-list applies
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ce.asst.next(3 * time.Second)
	rec := ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
	ce.mustDo("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "+14165550199", "mode": "refer"}, 202)
	ce.waitCommand("uuid_deflect "+uuid+" sip:+14165550199@pbx.example.com", 3*time.Second)
	rec = ce.waitCall(uuid, db.CallCompleted, 5*time.Second)
	if rec.HangupCause != "BLIND_TRANSFER" || !strings.Contains(rec.Reason, "REFER") {
		t.Fatalf("record %+v", rec)
	}
	if n := len(ce.commandsWith("originate")); n != 0 {
		t.Fatalf("an accepted REFER was bridged too (%d originates)", n)
	}
	// The record is closed just before the hangup entry is added to the
	// timeline: wait for that last entry.
	var r resp
	waitUntil(2*time.Second, func() bool {
		r = ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
		return strings.Contains(r.Raw, `"type":"hangup"`)
	})
	for _, ev := range []string{"refer_sent", "refer_notify", "refer_accepted", "hangup"} {
		if !strings.Contains(r.Raw, `"type":"`+ev+`"`) {
			t.Errorf("timeline lacks %s: %s", ev, r.Raw)
		}
	}
}

// A transfer that cannot happen is refused before anything is torn down:
// the call stays with its assistant.
func TestTransferRefusedLeavesTheCallAlone(t *testing.T) {
	ce := newCallEnv(t)
	ce.loadTrunks()
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, ac, rec := ce.liveCall()
	// The default allow-list is the organization's country (US): Canada is refused.
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "+14165550199"}); r.Status != 403 || r.errField() != "to" {
		t.Fatalf("not allowed country: %d %s", r.Status, r.Raw)
	}
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "+14165550199", "mode": "refer"}); r.Status != 400 || r.errField() != "mode" {
		t.Fatalf("refer without a template: %d %s", r.Status, r.Raw)
	}
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "sip:alice@pbx.example.com", "mode": "bridge"}); r.Status != 400 || r.errField() != "mode" {
		t.Fatalf("bridge to a non-number: %d %s", r.Status, r.Raw)
	}
	// The assistant's own transfer refused the same way is answered with
	// transfer_failed naming the rule.
	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": "+14165550199"}})
	if !waitUntil(2*time.Second, func() bool { return len(ac.transferFailed()) > 0 }) {
		t.Fatal("the assistant's refused transfer got no transfer_failed")
	}
	if f := ac.transferFailed()[0]; f.To != "+14165550199" || !strings.Contains(f.Reason, "allow-list") {
		t.Fatalf("transfer_failed %+v", f)
	}
	n := ac.mediaCount()
	if !waitUntil(2*time.Second, func() bool { return ac.mediaCount() > n+10 }) {
		t.Fatal("the assistant stopped hearing the caller after a refused transfer")
	}
	if c := ce.commandsWith("uuid_audio_stream " + uuid + " stop"); len(c) != 0 {
		t.Fatalf("the stream was stopped: %q", c)
	}
}

// The caller hangs up while the transfer target rings: the ringing leg is
// cancelled at once, nothing is bridged, no channel is left.
func TestCallerHangupCancelsRingingTransfer(t *testing.T) {
	ce := newCallEnv(t)
	backup := ce.addTrunk("Backup", 2)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})
	// The failover leg would answer after 1 s of ringing: it must be hung up
	// as it is created.
	ce.sw.SetDialOutcome(backup.GatewayName, fstest.DialOutcome{Result: fstest.DialAnswer, Ring: 2})
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ce.asst.next(3 * time.Second)
	rec := ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
	ce.mustDo("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "+14165550199"}, 202)
	if !waitUntil(2*time.Second, func() bool { return len(ce.sw.DialAttempts()) == 1 }) {
		t.Fatal("no dial attempt")
	}
	hung := time.Now()
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	ce.waitCommand("hupall ORIGINATOR_CANCEL sipbridge_dial ", 2*time.Second)
	if !waitUntil(2*time.Second, func() bool {
		a := ce.sw.DialAttempts()
		for _, x := range a {
			if x.Answered || x.Cause == "" {
				return false
			}
		}
		return len(a) >= 1 && a[0].Cause == "ORIGINATOR_CANCEL"
	}) {
		t.Fatalf("attempts %+v", ce.sw.DialAttempts())
	}
	time.Sleep(200 * time.Millisecond) // past the backup's ring time
	for _, x := range ce.sw.DialAttempts() {
		if x.Answered {
			t.Fatalf("a leg answered after the caller left: %+v", ce.sw.DialAttempts())
		}
	}
	if time.Since(hung) > time.Second {
		t.Fatalf("the target rang on for %v after the caller left", time.Since(hung))
	}
	ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
	if c := ce.commandsWith("uuid_bridge"); len(c) != 0 {
		t.Fatalf("bridged after the caller left: %q", c)
	}
	if !waitUntil(2*time.Second, func() bool { return len(ce.sw.Channels()) == 0 && ce.calls.Active() == 0 }) {
		t.Fatalf("left: channels %v, sessions %d", ce.sw.Channels(), ce.calls.Active())
	}
}

// The assistant is unreachable and its fallback is a phone number: the
// caller is bridged there before sipbridge ever answers, and the record
// still shows the call answered and completed.
func TestUnreachableAssistantFallsBackToNumberBeforeAnswer(t *testing.T) {
	ce := newCallEnv(t)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.assistant.StreamURL = "ws://127.0.0.1:1/nothing"
	ce.assistant.FallbackTransferNumber = "+14165550199"
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ce.waitCommand("uuid_bridge "+uuid+" ", 3*time.Second)
	// The caller is answered only once the fallback leg has answered.
	var order []string
	for _, c := range ce.sw.Commands() {
		if strings.HasPrefix(c, "originate ") || strings.HasPrefix(c, "uuid_answer "+uuid) || strings.HasPrefix(c, "uuid_bridge ") {
			order = append(order, strings.Fields(c)[0])
		}
	}
	if strings.Join(order, ",") != "originate,uuid_answer,uuid_bridge" {
		t.Fatalf("command order %v", order)
	}
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	rec := ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
	if !strings.Contains(rec.Reason, "transferred to +14165550199") {
		t.Fatalf("record %+v", rec)
	}
}

// While a transfer's bridge leg rings, a second transfer is refused as
// already under way; once the leg has rung out the caller is back with the
// assistant (told transfer_failed) and may be transferred again.
func TestSecondTransferWhileFirstDials(t *testing.T) {
	// 300 switch seconds of ringing: 3 s of wall time with the simulator's step.
	ce := newCallEnv(t, func(o *sip.CallsOptions) { o.LegTimeout = 300 * time.Second })
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	rec := ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
	path := "/api/v1/calls/" + rec.ID + "/transfer"
	ce.mustDo("POST", path, ce.keyA, map[string]any{"to": "+14165550199"}, 202)
	if !waitUntil(2*time.Second, func() bool { return len(ce.sw.DialAttempts()) == 1 }) {
		t.Fatal("no dial attempt")
	}
	if r := ce.do("POST", path, ce.keyA, map[string]any{"to": "+14165550198"}); r.Status != 409 || r.errCode() != "transfer_in_progress" {
		t.Fatalf("second transfer while the first dials: %d %s", r.Status, r.Raw)
	}
	if !waitUntil(8*time.Second, func() bool { return len(ac.transferFailed()) == 1 }) {
		t.Fatalf("the assistant was not told transfer_failed; attempts %+v", ce.sw.DialAttempts())
	}
	ce.mustDo("POST", path, ce.keyA, map[string]any{"to": "+14165550198"}, 202)
	if !waitUntil(2*time.Second, func() bool { return len(ce.sw.DialAttempts()) == 2 }) {
		t.Fatalf("the transfer after the failed one dialled nothing: %+v", ce.sw.DialAttempts())
	}
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
}

package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// initiateBody asks for the blocking answer (wait): the request returns
// once the call is answered or failed on every trunk.
func initiateBody(from, to string) map[string]any {
	return map[string]any{"from_phone_number": from, "to_phone_number": to, "welcome_message": "Hi, this is Acme calling",
		"agenda": "confirm the appointment", "variables": map[string]string{"customer_name": "Ada"}, "wait": true}
}

// The first trunk rings out (leg timeout), the disabled one is skipped, the
// third answers: the call is bridged to the assistant like an inbound one.
func TestInitiateFailsOverToTheNextTrunk(t *testing.T) {
	ce := newCallEnv(t)
	off := ce.addTrunk("Off", 0)
	off.Enabled = false
	if err := ce.store.UpdateTrunk(context.Background(), off); err != nil {
		t.Fatal(err)
	}
	second := ce.addTrunk("Second", 5)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})

	r := ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"), 200)
	sid, _ := r.Body["call_sid"].(string)
	att := ce.sw.DialAttempts()
	if len(att) != 2 || att[0].Gateway != ce.trunk.GatewayName || att[0].Cause != "ALLOTTED_TIMEOUT" || att[1].Gateway != second.GatewayName || att[1].UUID != sid {
		t.Fatalf("attempts %+v, call_sid %q", att, sid)
	}
	if att[1].Vars["origination_caller_id_number"] != "+16478491000" {
		t.Fatalf("caller id %v", att[1].Vars)
	}
	ac := ce.asst.next(3 * time.Second)
	if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() > 20 }) {
		t.Fatalf("no media on the outbound call; logs:\n%s", tail(ce.logs.String(), 3000))
	}
	_, media, _, _, _, start, _ := ac.snapshot()
	p, _ := start["customParameters"].(map[string]any)
	if p["direction"] != "outbound" || p["to"] != "+14165550199" || p["from"] != "+16478491000" || p["agenda"] != "confirm the appointment" ||
		p["customer_name"] != "Ada" || p["welcome_message"] != "Hi, this is Acme calling" ||
		p["call_id"] != r.Body["call_id"] || p["call_sid"] != sid {
		t.Fatalf("customParameters %v", p)
	}
	if f := tone.DominantFrequency(decodeMulaw(media[5:]), 8000, 300, 440, 1000); f != 440 {
		t.Fatalf("the assistant hears %v Hz", f)
	}
	ce.sw.Hangup(sid, "NORMAL_CLEARING")
	rec := ce.waitCall(sid, db.CallCompleted, 3*time.Second)
	if rec.Direction != db.DirectionOutbound || rec.FromNumber != "+16478491000" || rec.ToNumber != "+14165550199" {
		t.Fatalf("record %+v", rec)
	}
	// The call's log lines name it once each: call_id the record's id,
	// call_uuid (once known) the answering leg, no key written twice.
	callLines := 0
	for _, line := range strings.Split(ce.logs.String(), "\n") {
		if !strings.Contains(line, `"call_id":"`+r.Body["call_id"].(string)+`"`) {
			continue
		}
		callLines++
		if k := repeatedKey(line); k != "" {
			t.Errorf("log key %q written twice: %s", k, line)
		}
		if strings.Contains(line, `"call_uuid"`) && !strings.Contains(line, `"call_uuid":"`+sid+`"`) {
			t.Errorf("call_uuid is not the answering leg %s: %s", sid, line)
		}
	}
	if callLines == 0 {
		t.Fatalf("no log line names the call %v", r.Body["call_id"])
	}
}

// repeatedKey returns a top-level key a JSON log line holds twice, if any.
func repeatedKey(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		k, _ := tok.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

// Every trunk fails: 502 naming each trunk's cause; the record is failed.
func TestInitiateAllTrunksFail(t *testing.T) {
	ce := newCallEnv(t)
	second := ce.addTrunk("Second", 5)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialBusy})
	ce.sw.SetDialOutcome(second.GatewayName, fstest.DialOutcome{Result: fstest.DialReject, Cause: "CALL_REJECTED"})
	r := ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"), 502)
	if r.errCode() != "all_trunks_failed" {
		t.Fatalf("%s", r.Raw)
	}
	att, _ := r.Body["attempts"].([]any)
	if len(att) != 2 {
		t.Fatalf("attempts %s", r.Raw)
	}
	a0, a1 := att[0].(map[string]any), att[1].(map[string]any)
	if a0["trunk"] != "PBX" || a0["cause"] != "USER_BUSY" || a1["trunk"] != "Second" || a1["cause"] != "CALL_REJECTED" {
		t.Fatalf("attempts %s", r.Raw)
	}
	calls := ce.mustDo("GET", "/api/v1/calls?status=failed&direction=outbound", ce.keyA, nil, 200)
	if calls.Total != 1 || !strings.Contains(calls.Raw, "USER_BUSY") {
		t.Fatalf("failed record: %s", calls.Raw)
	}
}

// Bad input and other organizations' resources answer before any originate.
func TestInitiateValidationAndLimits(t *testing.T) {
	ce := newCallEnv(t)
	ce.loadTrunks()
	ce.addNumber("+16478491000", ce.assistant.ID)
	for _, tc := range []struct {
		body   map[string]any
		key    string
		status int
		field  string
	}{
		{initiateBody("+16478491000", "4165550199"), ce.keyA, 400, "to_phone_number"},
		{initiateBody("16478491000", "+14165550199"), ce.keyA, 400, "from_phone_number"},
		{map[string]any{"from_phone_number": "+16478491000", "to_phone_number": "+14165550199", "assistant_id": "00000000-0000-0000-0000-000000000000"}, ce.keyA, 404, "assistant_id"},
		{initiateBody("+16478491000", "+14165550199"), ce.keyB, 404, "from_phone_number"},
		{initiateBody("+16478491000", "+442079460018"), ce.keyA, 403, "to_phone_number"}, // default: the organization's country (US) only
		{map[string]any{"from_phone_number": "+16478491000", "to_phone_number": "+14165550199", "nope": 1}, ce.keyA, 400, "nope"},
		{map[string]any{"from_phone_number": "+16478491000", "to_phone_number": "+14165550199", "amd": true, "amd_action": "voicemail"}, ce.keyA, 400, "amd_action"},
		{map[string]any{"from_phone_number": "+16478491000", "to_phone_number": "+14165550199", "amd_action": "hangup"}, ce.keyA, 400, "amd_action"},
		{map[string]any{"from_phone_number": "+16478491000", "to_phone_number": "+14165550199", "amd": false, "amd_action": "none"}, ce.keyA, 400, "amd_action"},
		{map[string]any{"from_phone_number": "+16478491000", "to_phone_number": "+14165550199", "amd": "yes"}, ce.keyA, 400, "amd"},
	} {
		r := ce.do("POST", "/api/v1/calls/initiate", tc.key, tc.body)
		if r.Status != tc.status || r.errField() != tc.field {
			t.Errorf("%v: %d %s, want %d on %s", tc.body, r.Status, r.Raw, tc.status, tc.field)
		}
	}
	if n := len(ce.commandsWith("originate")); n != 0 {
		t.Fatalf("%d originates for refused requests", n)
	}
	// The alias outside /api/v1 takes the same key.
	if r := ce.do("POST", "/calls/initiate", "", initiateBody("+16478491000", "+14165550199")); r.Status != 401 {
		t.Fatalf("alias without a key: %d", r.Status)
	}

	// Concurrent calls: one live call and a limit of 1 → 429.
	ce.allowCountries("*")
	ce.mustDo("PUT", "/api/v1/organization", ce.keyA, map[string]any{"call_limits": map[string]any{"max_concurrent_calls": 1}}, 200)
	r := ce.mustDo("POST", "/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"), 200)
	if r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550198")); r.Status != 429 || r.errCode() != "limit_exceeded" {
		t.Fatalf("over the concurrent limit: %d %s", r.Status, r.Raw)
	}
	ce.sw.Hangup(r.Body["call_sid"].(string), "NORMAL_CLEARING")
	ce.waitCall(r.Body["call_sid"].(string), db.CallCompleted, 3*time.Second)

	// Calls per second: 1/s lets one through and refuses the next at once.
	ce.mustDo("PUT", "/api/v1/organization", ce.keyA, map[string]any{"call_limits": map[string]any{"max_concurrent_calls": 0, "calls_per_second": 1}}, 200)
	first := ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"), 200)
	if r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550198")); r.Status != 429 {
		t.Fatalf("over the rate: %d %s", r.Status, r.Raw)
	}
	ce.sw.Hangup(first.Body["call_sid"].(string), "NORMAL_CLEARING")
	if r := ce.do("PUT", "/api/v1/organization", ce.keyA, map[string]any{"call_limits": map[string]any{"calls_per_second": -1}}); r.Status != 400 || r.errField() != "call_limits.calls_per_second" {
		t.Fatalf("negative rate: %d %s", r.Status, r.Raw)
	}
}

// Hanging up an outbound call that still rings cancels it: the initiate
// request answers 409 cancelled and no leg is left.
func TestHangupCancelsRingingOutboundCall(t *testing.T) {
	// A ring of 300 switch seconds (3 s of wall time with the simulator's
	// step): the default 2 s leg timeout left the test 20 ms of wall time
	// to act while the call rang, too little on a loaded machine.
	ce := newCallEnv(t, func(o *sip.CallsOptions) { o.LegTimeout = 300 * time.Second })
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})
	done := make(chan resp, 1)
	go func() {
		done <- ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"))
	}()
	var id string
	if !waitUntil(3*time.Second, func() bool {
		calls, _, _ := ce.store.ListCalls(context.Background(), ce.orgA, db.CallFilter{Direction: db.DirectionOutbound}, db.Page{Limit: 5})
		if len(calls) == 1 && len(ce.sw.DialAttempts()) == 1 {
			id = calls[0].ID
			return true
		}
		return false
	}) {
		t.Fatal("the call did not start ringing")
	}
	if r := ce.do("POST", "/api/v1/calls/"+id+"/transfer", ce.keyA, map[string]any{"to": "+14165550198"}); r.Status != 409 || r.errCode() != "not_answered" {
		t.Fatalf("transfer of a ringing call: %d %s", r.Status, r.Raw)
	}
	ce.mustDo("POST", "/api/v1/calls/"+id+"/hangup", ce.keyA, nil, 202)
	select {
	case r := <-done:
		if r.Status != 409 || r.errCode() != "cancelled" {
			t.Fatalf("initiate answered %d %s", r.Status, r.Raw)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the ringing call was not cancelled")
	}
	if a := ce.sw.DialAttempts(); a[0].Cause != "ORIGINATOR_CANCEL" {
		t.Fatalf("attempts %+v", a)
	}
	rec, _ := ce.store.GetCall(context.Background(), ce.orgA, id)
	if rec.Status != db.CallFailed || rec.EndedAt == nil {
		t.Fatalf("record %+v", rec)
	}
	if !waitUntil(2*time.Second, func() bool { return len(ce.sw.Channels()) == 0 && ce.calls.Active() == 0 }) {
		t.Fatalf("left: channels %v, sessions %d", ce.sw.Channels(), ce.calls.Active())
	}
}

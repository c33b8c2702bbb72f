package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// Refused inbound calls: FreeSWITCH is told to hang up with the cause that
// makes sofia answer the SIP status the issue pins, and a refused record
// with the reason is kept for the trunk's organization.
func TestInboundRefusals(t *testing.T) {
	ce := newCallEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.addNumber("+16478491009", "")
	ce.addNumber("+16478491010", ce.assistant.ID)

	cases := []struct {
		name      string
		headers   map[string][]string
		cause     string
		sipStatus int
		reason    string
	}{
		{"unknown number", map[string][]string{"Diversion": {"<sip:+16478490000@pbx.example.com>;reason=unconditional"}},
			"UNALLOCATED_NUMBER", 404, "+16478490000"},
		{"ambiguous extension", map[string][]string{}, "UNALLOCATED_NUMBER", 404, "several numbers"},
		{"no assistant", map[string][]string{"X-Original-Called": {"+16478491009"}}, "SUBSCRIBER_ABSENT", 480, "no assistant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uuid, err := ce.sw.Call(ce.pbxCall(tc.headers))
			if err != nil {
				t.Fatal(err)
			}
			ce.waitCommand("uuid_kill "+uuid+" "+tc.cause, 3*time.Second)
			rec := ce.waitCall(uuid, db.CallRefused, 3*time.Second)
			if rec.SIPStatus != tc.sipStatus || !strings.Contains(rec.Reason, tc.reason) {
				t.Fatalf("record: sip_status %d reason %q, want %d containing %q", rec.SIPStatus, rec.Reason, tc.sipStatus, tc.reason)
			}
			if rec.HangupCause != tc.cause {
				t.Fatalf("hangup cause %q, want %q", rec.HangupCause, tc.cause)
			}
			if n := len(ce.commandsWith("uuid_answer " + uuid)); n != 0 {
				t.Fatalf("a refused call was answered")
			}
			// The API shows it to its organization only.
			r := ce.mustDo("GET", "/api/v1/calls?status=refused", ce.keyA, nil, 200)
			if !strings.Contains(r.Raw, uuid) {
				t.Fatalf("refused call missing from the list: %s", r.Raw)
			}
			if r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID, ce.keyB, nil, 404); r.errCode() != "not_found" {
				t.Fatalf("org B sees org A's call: %s", r.Raw)
			}
		})
	}
	// The ambiguous refusal names the candidates in the log, never a guess.
	if !strings.Contains(ce.logs.String(), "+16478491000") || !strings.Contains(ce.logs.String(), "+16478491010") {
		t.Fatalf("the ambiguous refusal does not name the numbers:\n%s", tail(ce.logs.String(), 3000))
	}
}

// An assistant that cannot be reached is dealt with within 2 s: without a
// fallback number the unanswered call is hung up with a temporary failure
// (SIP 503) and the record says why.
func TestAssistantUnreachableHangsUp(t *testing.T) {
	ce := newCallEnv(t)
	ce.assistant.StreamURL = "ws://127.0.0.1:1/nothing"
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	start := time.Now()
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ce.waitCommand("uuid_kill "+uuid+" NORMAL_TEMPORARY_FAILURE", 2*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("hangup took %v", d)
	}
	rec := ce.waitCall(uuid, db.CallFailed, 3*time.Second)
	if !strings.Contains(rec.Reason, "assistant unreachable") || rec.AnsweredAt != nil {
		t.Fatalf("record %+v", rec)
	}
	r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
	if !strings.Contains(r.Raw, "assistant_unreachable") || !strings.Contains(r.Raw, "routed") {
		t.Fatalf("timeline: %s", r.Raw)
	}
}

// SIGTERM's drain: a new call is turned away with a temporary failure
// (503) while the live one goes on; the drain ends when the last call does.
func TestDrainRefusesNewCallsAndWaitsForLiveOnes(t *testing.T) {
	ce := newCallEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	live, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	ce.waitCall(live, db.CallInProgress, 3*time.Second)
	drained := make(chan error, 1)
	go func() { drained <- ce.calls.Drain(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	late, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ce.waitCommand("uuid_kill "+late+" NORMAL_TEMPORARY_FAILURE", 2*time.Second)
	select {
	case <-drained:
		t.Fatal("the drain ended with a call still live")
	case <-time.After(200 * time.Millisecond):
	}
	n := ac.mediaCount()
	if !waitUntil(2*time.Second, func() bool { return ac.mediaCount() > n+10 }) {
		t.Fatal("the live call stopped during the drain")
	}
	ce.sw.Hangup(live, "NORMAL_CLEARING")
	select {
	case err := <-drained:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the drain did not end after the last call")
	}
	ce.waitCall(live, db.CallCompleted, 2*time.Second)
}

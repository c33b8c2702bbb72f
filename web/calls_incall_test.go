package web_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
)

// backWithAssistant checks that a call whose transfer failed is still the
// assistant's: the call is up, the assistant's reply is heard by the
// caller and the caller's audio keeps reaching the assistant.
func backWithAssistant(t *testing.T, ce *callEnv, uuid string, ac *assistantConn) {
	t.Helper()
	if !slices.Contains(ce.sw.Channels(), uuid) {
		t.Fatal("the caller was hung up after the failed transfer")
	}
	heard := len(ce.sw.Heard(uuid))
	media := ac.mediaCount()
	ac.speak(1000, 600)
	if !waitUntil(3*time.Second, func() bool {
		runs := toneRuns(ce.sw.Heard(uuid)[heard:], 1000)
		return len(runs) > 0 && runs[len(runs)-1][1]-runs[len(runs)-1][0] >= 50
	}) {
		t.Fatalf("the caller did not hear the assistant after the failed transfer (runs %v)", toneRuns(ce.sw.Heard(uuid)[heard:], 1000))
	}
	if ac.mediaCount() < media+10 {
		t.Fatalf("the caller's audio stopped reaching the assistant: %d frames after, %d before", ac.mediaCount(), media)
	}
}

// The assistant transfers to a PBX user by REFER and the PBX declines
// (603); the user part is no number, so nothing can be bridged instead:
// the caller stays with the assistant, which is told transfer_failed with
// the target and the reason, and the conversation goes on.
func TestReferDeclinedReturnsCallerToAssistant(t *testing.T) {
	ce := pipeEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetReferOutcome("", fstest.ReferDecline)
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() > 5 }) {
		t.Fatal("no media")
	}
	const to = "sip:sales@pbx.example.com"
	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": to}})
	ce.waitCommand("uuid_deflect "+uuid+" "+to, 2*time.Second)
	if !waitUntil(5*time.Second, func() bool { return len(ac.transferFailed()) > 0 }) {
		t.Fatal("the assistant was not told transfer_failed")
	}
	f := ac.transferFailed()[0]
	if f.To != to || !strings.Contains(f.Reason, "603") {
		t.Fatalf("transfer_failed %+v, want to %s and the 603 in the reason", f, to)
	}
	backWithAssistant(t, ce, uuid, ac)
	if ev, _, _, _, _, _, stopped := ac.snapshot(); stopped || slices.Contains(ev, "stop") {
		t.Fatal("the assistant's stream was stopped")
	}
	// A second transfer may be asked for: the first one is over.
	rec := ce.waitCall(uuid, db.CallInProgress, time.Second)
	r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
	for _, ev := range []string{"refer_sent", "refer_failed", "transfer_failed"} {
		if !strings.Contains(r.Raw, `"type":"`+ev+`"`) {
			t.Errorf("timeline lacks %s: %s", ev, r.Raw)
		}
	}
	ce.sw.SetReferOutcome("", fstest.ReferAccept)
	ce.mustDo("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "sip:support@pbx.example.com"}, 202)
	rec = ce.waitCall(uuid, db.CallCompleted, 5*time.Second)
	if !strings.Contains(rec.Reason, "transferred by REFER to sip:support@pbx.example.com") {
		t.Fatalf("reason %q", rec.Reason)
	}
}

// A bridged transfer whose every leg fails (the only trunk answers busy):
// the caller stays with the assistant, told transfer_failed.
func TestBridgeTransferEveryLegFailedReturnsCallerToAssistant(t *testing.T) {
	ce := pipeEnv(t)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialBusy})
	uuid, ac, rec := ce.liveCall()
	ce.mustDo("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "+14165550199"}, 202)
	ce.waitCommand("originate ", 2*time.Second)
	if !waitUntil(10*time.Second, func() bool { return len(ac.transferFailed()) > 0 }) {
		t.Fatal("the assistant was not told transfer_failed")
	}
	if f := ac.transferFailed()[0]; f.To != "+14165550199" || !strings.Contains(f.Reason, "USER_BUSY") {
		t.Fatalf("transfer_failed %+v", f)
	}
	if c := ce.commandsWith("uuid_audio_stream " + uuid + " stop"); len(c) != 0 {
		t.Fatalf("the caller's audio stream was stopped: %q", c)
	}
	backWithAssistant(t, ce, uuid, ac)
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
}

// An assistant's goodbye followed by hangup is heard to its end before the
// call is hung up; with "immediate": true the call ends at once.
func TestAssistantHangupAfterGoodbye(t *testing.T) {
	for _, tc := range []struct {
		name      string
		immediate bool
	}{{"after the goodbye", false}, {"immediate", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ce := pipeEnv(t)
			ce.addNumber("+16478491000", ce.assistant.ID)
			uuid, err := ce.sw.Call(ce.pbxCall(nil))
			if err != nil {
				t.Fatal(err)
			}
			ac := ce.asst.next(3 * time.Second)
			ce.waitCommand("sendmsg "+uuid+" execute playback ", 2*time.Second)
			heard := len(ce.sw.Heard(uuid))
			ac.speak(1000, 2000)
			msg := map[string]any{"event": "hangup"}
			if tc.immediate {
				msg["immediate"] = true
			}
			_ = ac.send(msg)
			sent := time.Now()
			rec := ce.waitCall(uuid, db.CallCompleted, 6*time.Second)
			took := time.Since(sent)
			if rec.Reason != "assistant hung up" {
				t.Fatalf("reason %q", rec.Reason)
			}
			runs := toneRuns(ce.sw.Heard(uuid)[heard:], 1000)
			total := 0
			for _, r := range runs {
				total += r[1] - r[0]
			}
			if tc.immediate {
				if took > time.Second || total > 50 {
					t.Fatalf("immediate hangup took %v, the caller heard %d ms of the goodbye", took, total*10)
				}
				return
			}
			if took < 1900*time.Millisecond || len(runs) != 1 || runs[0][1]-runs[0][0] < 195 {
				t.Fatalf("hung up %v after the hangup; the caller heard the 2 s goodbye as runs %v (10 ms windows)", took, runs)
			}
		})
	}
}

// The assistant's start.customParameters.call_id is the API's call id;
// the channel UUID is call_sid, and either names the call in the API,
// within the organization only.
func TestAssistantCallIDIsTheAPIsCallID(t *testing.T) {
	ce := newCallEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, ac, rec := ce.liveCall()
	var start map[string]any
	waitUntil(2*time.Second, func() bool { _, _, _, _, _, start, _ = ac.snapshot(); return start != nil })
	params, _ := start["customParameters"].(map[string]any)
	if params["call_id"] != rec.ID || params["call_sid"] != uuid {
		t.Fatalf("customParameters call_id %v call_sid %v, want %s and %s", params["call_id"], params["call_sid"], rec.ID, uuid)
	}
	for _, ref := range []string{rec.ID, uuid} {
		r := ce.mustDo("GET", "/api/v1/calls/"+ref, ce.keyA, nil, 200)
		if r.Body["id"] != rec.ID {
			t.Fatalf("GET /calls/%s answered call %v, want %s", ref, r.Body["id"], rec.ID)
		}
		if r := ce.do("GET", "/api/v1/calls/"+ref, ce.keyB, nil); r.Status != 404 {
			t.Fatalf("another organization reads the call by %s: %d", ref, r.Status)
		}
	}
	if r := ce.mustDo("GET", "/api/v1/calls/"+uuid+"/events", ce.keyA, nil, 200); !strings.Contains(r.Raw, `"type":"answered"`) {
		t.Fatalf("timeline by channel UUID: %s", r.Raw)
	}
	ce.mustDo("POST", "/api/v1/calls/"+uuid+"/hangup", ce.keyA, nil, 202)
	ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
}

// The assistant presses keys on the call (IVR navigation): its dtmf message
// becomes one uuid_send_dtmf (a-d as A-D) and dtmf_sent on the timeline;
// digits no phone has, or too many, are refused (dtmf_refused with the
// reason, nothing sent) and the conversation goes on. The keys sent are
// not taken for keys the caller pressed.
func TestAssistantSendsDTMF(t *testing.T) {
	ce := pipeEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, ac, rec := ce.liveCall()
	_ = ac.send(map[string]any{"event": "dtmf", "dtmf": map[string]any{"digits": "12#a"}})
	ce.waitCommand("uuid_send_dtmf "+uuid+" 12#A", 2*time.Second)
	for _, bad := range []string{"9x", strings.Repeat("1", 33)} {
		_ = ac.send(map[string]any{"event": "dtmf", "dtmf": map[string]any{"digits": bad}})
	}
	var evs string
	if !waitUntil(3*time.Second, func() bool {
		evs = ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200).Raw
		return strings.Count(evs, `"type":"dtmf_refused"`) == 2
	}) {
		t.Fatalf("timeline without two dtmf_refused: %s", evs)
	}
	for _, want := range []string{`"type":"dtmf_sent","detail":{"digits":"12#A"}`, `"digits":"9x","reason":"invalid dtmf digits: \"x\" is not one of 0-9 * # A-D"`,
		`"reason":"invalid dtmf digits: 33 digits, want 1 to 32"`} {
		if !strings.Contains(evs, want) {
			t.Errorf("timeline lacks %s: %s", want, evs)
		}
	}
	if got := ce.sw.SentDTMF(uuid); got != "12#A" {
		t.Errorf("the far end got %q, want 12#A", got)
	}
	if c := ce.commandsWith("uuid_send_dtmf "); len(c) != 1 {
		t.Errorf("uuid_send_dtmf sent %d times, want once: %q", len(c), c)
	}
	backWithAssistant(t, ce, uuid, ac)
	if _, _, _, _, dtmf, _, _ := ac.snapshot(); len(dtmf) != 0 {
		t.Errorf("the assistant was told of caller keys %q", dtmf)
	}
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
}

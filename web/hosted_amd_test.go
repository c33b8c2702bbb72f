package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/provider/twilio"
	"gorm.io/gorm"
)

// TestHostedTwilioAMD: amd on a call from a Twilio number asks Twilio for
// asynchronous answering machine detection (Enable, or DetectMessageEnd
// for wait_beep) posting to /twiml/amd; its signed AnsweredBy reaches the
// assistant as the amd event the SIP path sends, and the timeline; a
// machine is hung up through Twilio's API with amd_action hangup, and with
// wait_beep a machine_end_beep is followed by the beep message (Telnyx and
// Vonage numbers: TestInitiateAMDHosted). On both databases.
func TestHostedTwilioAMD(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { hostedTwilioAMD(t, newHostedEnvOn(t, g)) })
}

func hostedTwilioAMD(t *testing.T, he *hostedEnv) {
	t.Run("hangup", func(t *testing.T) {
		sid, callID, ac := he.twilioAMDCall(t, "+16475557002", "hangup", "Enable")
		form := amdForm(he, sid, "machine_start", 2350)
		if st, _ := he.twilioAMDPost(form, "wrong-token"); st != http.StatusForbidden {
			t.Fatalf("AMD callback with a bad signature: %d, want 403", st)
		}
		if st, body := he.twilioAMDPost(form, he.twilio.AuthToken); st != http.StatusOK {
			t.Fatalf("AMD callback: %d %s", st, body)
		}
		if !waitUntil(2*time.Second, func() bool { return len(ac.amdReports()) > 0 }) {
			t.Fatal("no amd at the assistant")
		}
		if f, ok := he.twilio.WaitCallUpdate(sid, "Status", 2*time.Second); !ok || f.Get("Status") != "completed" {
			t.Fatalf("a machine with amd_action hangup: Twilio updates %v, want Status completed", he.twilio.CallUpdates())
		}
		// Twilio posts again (a retry): nothing more.
		if st, _ := he.twilioAMDPost(form, he.twilio.AuthToken); st != http.StatusOK {
			t.Fatalf("repeated AMD callback: %d", st)
		}
		time.Sleep(100 * time.Millisecond)
		if got := ac.amdReports(); len(got) != 1 || got[0].Result != "machine" || got[0].MS != 2350 || got[0].Beep != nil {
			t.Errorf("amd messages %+v, want one machine at 2350 ms", got)
		}
		tl := he.timeline(t, callID, call.EventAMD)
		if len(tl) != 1 || tl[0]["result"] != "machine" || tl[0]["ms"] != float64(2350) || tl[0]["answered_by"] != "machine_start" || tl[0]["action"] != "hangup" {
			t.Errorf("amd timeline %v", tl)
		}
		if by := he.timeline(t, callID, call.EventHangupRequested); len(by) != 1 || by[0]["by"] != "amd" {
			t.Errorf("hangup_requested %v, want by amd", by)
		}
		he.twilioStatus(t, sid, "completed")
		if rec := he.waitCall(sid, db.CallCompleted, 2*time.Second); rec.Reason != call.AMDHangupReason {
			t.Errorf("record reason %q, want %q", rec.Reason, call.AMDHangupReason)
		}
	})

	t.Run("wait_beep", func(t *testing.T) {
		sid, callID, ac := he.twilioAMDCall(t, "+16475557003", "wait_beep", "DetectMessageEnd")
		if st, body := he.twilioAMDPost(amdForm(he, sid, "machine_end_beep", 5200), he.twilio.AuthToken); st != http.StatusOK {
			t.Fatalf("AMD callback: %d %s", st, body)
		}
		if !waitUntil(2*time.Second, func() bool { return len(ac.amdReports()) >= 2 }) {
			t.Fatalf("amd messages %+v, want the machine then the beep", ac.amdReports())
		}
		got := ac.amdReports()
		if got[0].Result != "machine" || got[0].MS != 5200 || got[0].Beep != nil || got[1].Result != "machine" || got[1].Beep == nil || !*got[1].Beep {
			t.Errorf("amd messages %+v, want machine at 5200 ms, then beep true", got)
		}
		if tl := he.timeline(t, callID, call.EventAMD); len(tl) != 2 || tl[1]["beep"] != true {
			t.Errorf("amd timeline %v, want the machine then the beep", tl)
		}
		for _, u := range he.twilio.CallUpdates() {
			if u.CallSID == sid {
				t.Errorf("wait_beep: the call was updated at Twilio (%v); a machine is left to the assistant", u.Form)
			}
		}
	})

	t.Run("human", func(t *testing.T) {
		sid, _, ac := he.twilioAMDCall(t, "+16475557004", "", "Enable")
		if st, body := he.twilioAMDPost(amdForm(he, sid, "human", 1800), he.twilio.AuthToken); st != http.StatusOK {
			t.Fatalf("AMD callback: %d %s", st, body)
		}
		if !waitUntil(2*time.Second, func() bool { return len(ac.amdReports()) > 0 }) {
			t.Fatal("no amd at the assistant")
		}
		if got := ac.amdReports(); got[0] != (assistant.AMDPayload{Result: "human", MS: 1800}) {
			t.Errorf("amd %+v, want human at 1800 ms", got[0])
		}
		bad := amdForm(he, sid, "robot", 10)
		if st, body := he.twilioAMDPost(bad, he.twilio.AuthToken); st != http.StatusBadRequest {
			t.Errorf("AnsweredBy robot: %d %s, want 400", st, body)
		}
	})
}

// twilioAMDCall places an outbound Twilio call with amd (and amdAction
// when set), checks Twilio was asked for detection (mode), answers it and
// connects its stream; it returns the call's sid, id and assistant.
func (he *hostedEnv) twilioAMDCall(t *testing.T, to, amdAction, mode string) (string, string, *assistantConn) {
	t.Helper()
	in := map[string]any{"from_phone_number": twilioNumber, "to_phone_number": to, "amd": true}
	if amdAction != "" {
		in["amd_action"] = amdAction
	}
	r := he.mustDo(http.MethodPost, "/api/v1/calls/initiate", he.keyA, in, 200)
	sid, _ := r.Body["call_sid"].(string)
	callID, _ := r.Body["call_id"].(string)
	created := he.twilio.CallsCreated()
	f := created[len(created)-1]
	if f.Get("MachineDetection") != mode || f.Get("AsyncAmd") != "true" || f.Get("AsyncAmdStatusCallback") != he.base+"/twiml/amd" {
		t.Fatalf("create form %v, want MachineDetection %s, AsyncAmd true, AsyncAmdStatusCallback %s/twiml/amd", f, mode, he.base)
	}
	he.twilio.SetCallStatus(sid, "in-progress")
	form := url.Values{"CallSid": {sid}, "AccountSid": {he.twilio.AccountSID}, "From": {twilioNumber}, "To": {to},
		"Direction": {"outbound-api"}, "CallStatus": {"in-progress"}}
	st, body := he.twilioVoice(form, he.twilio.AuthToken)
	m := twimlRE.FindStringSubmatch(body)
	if st != 200 || m == nil || m[2] != callID {
		t.Fatalf("outbound TwiML: %d %s", st, body)
	}
	tw := dialProvider(t, m[1])
	tw.sendJSON(map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	tw.sendJSON(map[string]any{"event": "start", "streamSid": "MZ" + to, "start": map[string]any{"streamSid": "MZ" + to, "callSid": sid,
		"customParameters": map[string]string{"call_id": callID, "token": m[3]}}})
	ac := he.asst.next(3 * time.Second)
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, _, s, _ := ac.snapshot(); return s != nil }) {
		t.Fatal("no start at the assistant")
	}
	return sid, callID, ac
}

// amdForm is Twilio's AMD callback for a call.
func amdForm(he *hostedEnv, sid, answeredBy string, ms int) url.Values {
	return url.Values{"CallSid": {sid}, "AccountSid": {he.twilio.AccountSID}, "AnsweredBy": {answeredBy},
		"MachineDetectionDuration": {strconv.Itoa(ms)}}
}

// twilioAMDPost posts an AMD callback signed with token.
func (he *hostedEnv) twilioAMDPost(form url.Values, token string) (int, string) {
	sig := twilio.Signature(token, he.base+"/twiml/amd", form)
	return he.post(http.MethodPost, "/twiml/amd", "application/x-www-form-urlencoded", []byte(form.Encode()), http.Header{"X-Twilio-Signature": {sig}})
}

// twilioStatus posts a signed status callback of an outbound call.
func (he *hostedEnv) twilioStatus(t *testing.T, sid, status string) {
	t.Helper()
	form := url.Values{"CallSid": {sid}, "AccountSid": {he.twilio.AccountSID}, "From": {twilioNumber}, "To": {"+16475557000"},
		"Direction": {"outbound-api"}, "CallStatus": {status}}
	sig := twilio.Signature(he.twilio.AuthToken, he.base+"/twiml/status", form)
	if st, body := he.post(http.MethodPost, "/twiml/status", "application/x-www-form-urlencoded", []byte(form.Encode()), http.Header{"X-Twilio-Signature": {sig}}); st != 200 {
		t.Fatalf("status %s: %d %s", status, st, body)
	}
}

// timeline returns the details of the call's timeline events of one type.
func (he *hostedEnv) timeline(t *testing.T, callID, typ string) []map[string]any {
	t.Helper()
	evs, err := he.store.CallEvents(context.Background(), he.orgA, callID)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e.Detail)
		}
	}
	return out
}

// TestHostedTelnyxAMD: amd on a call from a Telnyx number dials with
// answering_machine_detection (detect, or greeting_end for wait_beep);
// call.machine.detection.ended reaches the assistant as the amd event
// (not_sure as unknown) and the timeline, a machine is hung up through
// Call Control with amd_action hangup, and with wait_beep
// call.machine.greeting.ended brings the beep message. On both databases.
func TestHostedTelnyxAMD(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { hostedTelnyxAMD(t, newHostedEnvOn(t, g)) })
}

func hostedTelnyxAMD(t *testing.T, he *hostedEnv) {
	machineEvent := func(typ, ccid, cs, result string) {
		t.Helper()
		ev := telnyxEvent(typ, ccid, "outgoing", telnyxNumber, "+16475557100", cs, map[string]any{"result": result})
		if st, body := he.telnyxWebhook(ev, time.Now().Unix(), false); st != 200 {
			t.Fatalf("%s: %d %s", typ, st, body)
		}
	}
	t.Run("hangup", func(t *testing.T) {
		ccid, callID, cs, ac := he.telnyxAMDCall(t, "+16475557101", "hangup", "detect")
		machineEvent("call.machine.detection.ended", ccid, cs, "machine")
		if !waitUntil(2*time.Second, func() bool { return len(ac.amdReports()) > 0 }) {
			t.Fatal("no amd at the assistant")
		}
		if _, ok := he.telnyx.WaitAction(ccid, "hangup", 2*time.Second); !ok {
			t.Fatalf("a machine with amd_action hangup: Telnyx actions %v, want hangup", he.telnyx.Actions())
		}
		if got := ac.amdReports(); len(got) != 1 || got[0].Result != "machine" || got[0].Beep != nil {
			t.Errorf("amd messages %+v, want one machine", got)
		}
		tl := he.timeline(t, callID, call.EventAMD)
		if len(tl) != 1 || tl[0]["result"] != "machine" || tl[0]["telnyx_result"] != "machine" || tl[0]["action"] != "hangup" {
			t.Errorf("amd timeline %v", tl)
		}
	})
	t.Run("wait_beep", func(t *testing.T) {
		ccid, callID, cs, ac := he.telnyxAMDCall(t, "+16475557102", "wait_beep", "greeting_end")
		machineEvent("call.machine.detection.ended", ccid, cs, "machine")
		machineEvent("call.machine.greeting.ended", ccid, cs, "beep_detected")
		if !waitUntil(2*time.Second, func() bool { return len(ac.amdReports()) >= 2 }) {
			t.Fatalf("amd messages %+v, want the machine then the beep", ac.amdReports())
		}
		if got := ac.amdReports(); got[0].Beep != nil || got[1].Beep == nil || !*got[1].Beep {
			t.Errorf("amd messages %+v, want machine, then beep true", got)
		}
		if tl := he.timeline(t, callID, call.EventAMD); len(tl) != 2 || tl[1]["beep"] != true {
			t.Errorf("amd timeline %v", tl)
		}
		if _, ok := he.telnyx.WaitAction(ccid, "hangup", 200*time.Millisecond); ok {
			t.Error("wait_beep hung the machine up")
		}
	})
	t.Run("not_sure", func(t *testing.T) {
		ccid, _, cs, ac := he.telnyxAMDCall(t, "+16475557103", "", "detect")
		machineEvent("call.machine.detection.ended", ccid, cs, "not_sure")
		if !waitUntil(2*time.Second, func() bool { return len(ac.amdReports()) > 0 }) {
			t.Fatal("no amd at the assistant")
		}
		if got := ac.amdReports(); got[0].Result != "unknown" {
			t.Errorf("amd %+v, want unknown for not_sure", got)
		}
	})
}

// telnyxAMDCall places an outbound Telnyx call with amd (and amdAction
// when set), checks the dial asked for detection (mode), answers it and
// connects its stream; it returns the call_control_id, call id, client
// state and assistant.
func (he *hostedEnv) telnyxAMDCall(t *testing.T, to, amdAction, mode string) (string, string, string, *assistantConn) {
	t.Helper()
	in := map[string]any{"from_phone_number": telnyxNumber, "to_phone_number": to, "amd": true}
	if amdAction != "" {
		in["amd_action"] = amdAction
	}
	r := he.mustDo(http.MethodPost, "/api/v1/calls/initiate", he.keyA, in, 200)
	callID, _ := r.Body["call_id"].(string)
	ccid, _ := r.Body["call_sid"].(string)
	dials := he.telnyx.Dials()
	d := dials[len(dials)-1]
	if d["answering_machine_detection"] != mode {
		t.Fatalf("dial body %v, want answering_machine_detection %s", d, mode)
	}
	cs := d["client_state"].(string)
	if st, body := he.telnyxWebhook(telnyxEvent("call.answered", ccid, "outgoing", telnyxNumber, to, cs, nil), time.Now().Unix(), false); st != 200 {
		t.Fatalf("call.answered: %d %s", st, body)
	}
	tx := dialProvider(t, d["stream_url"].(string))
	tx.sendJSON(map[string]any{"event": "start", "stream_id": "s-" + to, "start": map[string]any{"call_control_id": ccid}})
	ac := he.asst.next(3 * time.Second)
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, _, s, _ := ac.snapshot(); return s != nil }) {
		t.Fatal("no start at the assistant")
	}
	return ccid, callID, cs, ac
}

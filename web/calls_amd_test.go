package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip/amdwatch"
	"github.com/sipbridge/sipbridge/db"
)

// TestInitiateAMD: answering machine detection on outbound calls through
// the simulator, whose answered leg plays a steady 440 Hz tone (what music
// on hold or a fax sounds like to the detector: a machine, cause tone,
// after 2 s). With amd the assistant is told once and the timeline holds
// the decision; with amd_action hangup the call is hung up with its
// reason; without amd nothing is said.
func TestInitiateAMD(t *testing.T) {
	ce := newCallEnv(t)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	place := func(to string, extra map[string]any) (string, string, *assistantConn) {
		body := map[string]any{"from_phone_number": "+16478491000", "to_phone_number": to, "wait": true}
		for k, v := range extra {
			body[k] = v
		}
		r := ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, body, 200)
		return r.Body["call_id"].(string), r.Body["call_sid"].(string), ce.asst.next(3 * time.Second)
	}
	told, toldSID, toldConn := place("+14165550101", map[string]any{"amd": true})
	hung, hungSID, hungConn := place("+14165550102", map[string]any{"amd": true, "amd_action": "hangup"})
	_, plainSID, plainConn := place("+14165550103", nil)

	if !waitUntil(8*time.Second, func() bool { return len(toldConn.amdReports()) > 0 }) {
		t.Fatalf("no amd at the assistant; logs:\n%s", tail(ce.logs.String(), 3000))
	}
	if got := toldConn.amdReports(); len(got) != 1 || got[0].Result != "machine" || got[0].Beep != nil || got[0].MS < 2000 || got[0].MS > 3000 {
		t.Errorf("amd messages %+v, want one machine at 2–3 s", got)
	}
	tl := ce.timelineOf(told, "amd")
	if len(tl) != 1 || tl[0]["result"] != "machine" || tl[0]["cause"] != "tone" || tl[0]["ms"] != float64(toldConn.amdReports()[0].MS) {
		t.Errorf("amd timeline %v, want the machine as the assistant was told", tl)
	}

	rec := ce.waitCall(hungSID, db.CallCompleted, 5*time.Second)
	if rec.Reason != amdwatch.HangupReason || rec.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("record reason %q cause %q, want %q", rec.Reason, rec.HangupCause, amdwatch.HangupReason)
	}
	if got := hungConn.amdReports(); len(got) != 1 || got[0].Result != "machine" {
		t.Errorf("the hung up call's assistant got amd %+v, want the machine before the end", got)
	}
	if by := ce.timelineOf(hung, "hangup_requested"); len(by) != 1 || by[0]["by"] != "amd" {
		t.Errorf("hangup_requested %v, want by amd", by)
	}
	if tl := ce.timelineOf(hung, "amd"); len(tl) != 1 || tl[0]["action"] != "hangup" {
		t.Errorf("amd timeline %v, want the hangup action", tl)
	}

	// The others stay up; the call without amd, once it has heard more
	// tone than it takes to decide (3 s), was told nothing.
	if !waitUntil(10*time.Second, func() bool { return plainConn.mediaCount() >= 150 }) {
		t.Errorf("%d frames on the call without amd, want 3 s of them", plainConn.mediaCount())
	}
	if got := plainConn.amdReports(); len(got) != 0 {
		t.Errorf("amd %+v on a call without amd", got)
	}
	for _, sid := range []string{toldSID, plainSID} {
		if rec := ce.waitCall(sid, db.CallInProgress, time.Second); rec.EndedAt != nil {
			t.Errorf("call %s ended: %+v", sid, rec)
		}
		ce.sw.Hangup(sid, "NORMAL_CLEARING")
		ce.waitCall(sid, db.CallCompleted, 3*time.Second)
	}
}

// TestInitiateAMDHosted: a Vonage number's call does not pass through the
// switch and Vonage is not asked to detect, so amd is refused (501, field
// amd) before the provider is asked (Twilio and Telnyx numbers:
// TestHostedTwilioAMD, TestHostedTelnyxAMD).
func TestInitiateAMDHosted(t *testing.T) {
	he := newHostedEnv(t)
	r := he.do(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": vonageNumber,
		"to_phone_number": "+16475557777", "assistant_id": he.assistant.ID, "amd": true})
	if r.Status != http.StatusNotImplemented || r.errField() != "amd" {
		t.Fatalf("amd from a Vonage number: %d %s, want 501 on amd", r.Status, r.Raw)
	}
	if c := he.vonage.LastCreate(); c != nil {
		t.Fatalf("a call created at Vonage: %v", c)
	}
}

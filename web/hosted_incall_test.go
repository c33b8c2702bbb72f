package web_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"errors"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/db"
)

// twilioStreamedCall answers a Twilio call and connects its media stream
// and the assistant.
func twilioStreamedCall(t *testing.T, he *hostedEnv, sid, streamSid string) (*db.Call, *providerWS, *assistantConn) {
	t.Helper()
	he.twilio.SetCallStatus(sid, "in-progress")
	rec, streamURL, token := he.twilioAnswer(sid)
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "start", "streamSid": streamSid, "start": map[string]any{"streamSid": streamSid, "callSid": sid,
		"customParameters": map[string]string{"call_id": rec.ID, "token": token}}})
	return rec, tw, he.asst.next(3 * time.Second)
}

// An assistant's goodbye then hangup on a Twilio call: the call is ended
// (Status=completed) only once Twilio has played the goodbye, i.e. sent
// back the mark sipbridge put behind it; "immediate": true ends it at
// once. The assistant's call_id is sipbridge's, call_sid Twilio's.
func TestHostedAssistantHangupAfterGoodbye(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA00000000000000000000000000000021"
	rec, tw, ac := twilioStreamedCall(t, he, sid, "MZ21")
	var start map[string]any
	waitUntil(2*time.Second, func() bool { _, _, _, _, _, start, _ = ac.snapshot(); return start != nil })
	if p, _ := start["customParameters"].(map[string]any); p["call_id"] != rec.ID || p["call_sid"] != sid {
		t.Fatalf("customParameters %v, want call_id %s and call_sid %s", p, rec.ID, sid)
	}
	speakTone(ac, 880, 5)
	_ = ac.send(map[string]any{"event": "hangup"})
	for i := 0; i < 5; i++ {
		tw.next(2*time.Second, "media")
	}
	_, mk, _ := tw.next(2*time.Second, "mark")
	name, _ := mk["mark"].(map[string]any)["name"].(string)
	time.Sleep(300 * time.Millisecond)
	if u := he.twilio.CallUpdates(); len(u) != 0 {
		t.Fatalf("the call was updated %+v before Twilio played the goodbye", u)
	}
	tw.sendJSON(map[string]any{"event": "mark", "streamSid": "MZ21", "sequenceNumber": "9", "mark": map[string]any{"name": name}})
	if f, ok := he.twilio.WaitCallUpdate(sid, "Status", 2*time.Second); !ok || f.Get("Status") != "completed" {
		t.Fatalf("after the goodbye played: updates %+v, want Status=completed", he.twilio.CallUpdates())
	}
	tw.sendJSON(map[string]any{"event": "stop", "streamSid": "MZ21", "stop": map[string]any{"callSid": sid}})
	if done := he.waitCall(sid, db.CallCompleted, 2*time.Second); done.Reason != "assistant hung up" {
		t.Fatalf("reason %q", done.Reason)
	}

	const sid2 = "CA00000000000000000000000000000022"
	_, _, ac2 := twilioStreamedCall(t, he, sid2, "MZ22")
	speakTone(ac2, 880, 50)
	_ = ac2.send(map[string]any{"event": "hangup", "immediate": true})
	if f, ok := he.twilio.WaitCallUpdate(sid2, "Status", time.Second); !ok || f.Get("Status") != "completed" {
		t.Fatalf("immediate hangup: updates %+v", he.twilio.CallUpdates())
	}
}

// A transfer Twilio refuses (21220: the call is not in progress any more,
// as far as Twilio knows) leaves the stream up: the assistant is told
// transfer_failed with Twilio's reason and keeps hearing the caller.
func TestHostedTransferRefusedReturnsToAssistant(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA00000000000000000000000000000023"
	_, tw, ac := twilioStreamedCall(t, he, sid, "MZ23")
	he.twilio.SetCallStatus(sid, "completed")
	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": "sip:desk@pbx.example.com"}})
	if !waitUntil(2*time.Second, func() bool { return len(ac.transferFailed()) > 0 }) {
		t.Fatal("the assistant was not told transfer_failed")
	}
	if f := ac.transferFailed()[0]; f.To != "sip:desk@pbx.example.com" || !strings.Contains(f.Reason, "21220") {
		t.Fatalf("transfer_failed %+v", f)
	}
	before := ac.mediaCount()
	for _, f := range mulawTone(440, 10) {
		tw.sendJSON(map[string]any{"event": "media", "streamSid": "MZ23", "media": map[string]any{"track": "inbound", "payload": base64.StdEncoding.EncodeToString(f)}})
	}
	if !waitMedia(ac, before+10, 2*time.Second) {
		t.Fatalf("the caller's audio no longer reaches the assistant: %d frames, want %d", ac.mediaCount(), before+10)
	}
	select {
	case <-ac.closed:
		t.Fatal("the assistant's stream was closed after a refused transfer")
	default:
	}
}

// TestHostedTransferBeforeStream: a Twilio call transferred through the API
// before its media stream connected is the transfer's, not a call nobody
// answered: the stream watchdog does not hang it up, its record closes
// completed with the transfer as reason, and a stream that still connects
// is refused (no assistant is dialed).
func TestHostedTransferBeforeStream(t *testing.T) {
	he := newHostedEnv(t, func(o *hosted.Options) { o.StreamTimeout = 300 * time.Millisecond })
	const sid = "CA00000000000000000000000000000021"
	he.twilio.SetCallStatus(sid, "in-progress")
	rec, streamURL, token := he.twilioAnswer(sid)
	he.mustDo(http.MethodPost, "/api/v1/calls/"+rec.ID+"/transfer", he.keyA, map[string]any{"to": "+16475554444"}, 202)
	if f, ok := he.twilio.WaitCallUpdate(sid, "Twiml", 2*time.Second); !ok || !strings.Contains(f.Get("Twiml"), "+16475554444") {
		t.Fatalf("transfer update %+v", he.twilio.CallUpdates())
	}
	done := he.waitCall(sid, db.CallCompleted, 2*time.Second)
	if done.Reason != "transferred to +16475554444" {
		t.Fatalf("record %+v", done)
	}
	time.Sleep(500 * time.Millisecond) // past the stream watchdog
	if _, ok := he.twilio.WaitCallUpdate(sid, "Status", 10*time.Millisecond); ok {
		t.Fatalf("the transferred call was hung up: %+v", he.twilio.CallUpdates())
	}
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "start", "streamSid": "MZ21", "start": map[string]any{"streamSid": "MZ21", "callSid": sid,
		"customParameters": map[string]string{"call_id": rec.ID, "token": token}}})
	select {
	case <-he.asst.got:
		t.Fatal("an assistant was dialed for a transferred call")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestHostedCallsInRegistry: a live hosted call is in the process's call
// registry under its organization, with the hosted path as its path (web
// can ask which path carries it); it leaves the registry when it ends.
func TestHostedCallsInRegistry(t *testing.T) {
	reg := call.NewRegistry()
	he := newHostedEnv(t, func(o *hosted.Options) { o.Registry = reg })
	const sid = "CA00000000000000000000000000000023"
	rec, tw, _ := twilioStreamedCall(t, he, sid, "MZ23")
	if p, err := reg.PathOf(he.orgA, rec.ID); err != nil || p != call.Path(he.hosted) {
		t.Fatalf("live call: path %v, err %v", p, err)
	}
	if _, err := reg.PathOf(he.orgA+1, rec.ID); !errors.Is(err, call.ErrCallNotFound) {
		t.Fatalf("another organization found the call: %v", err)
	}
	tw.sendJSON(map[string]any{"event": "stop", "streamSid": "MZ23", "stop": map[string]any{"callSid": sid}})
	he.waitCall(sid, db.CallCompleted, 2*time.Second)
	if _, err := reg.PathOf(he.orgA, rec.ID); !errors.Is(err, call.ErrCallNotFound) || reg.Len() != 0 {
		t.Fatalf("ended call still registered: %v, %d live", err, reg.Len())
	}
}

// An assistant presses keys on a hosted call: on Telnyx through the
// send_dtmf action (dtmf_sent on the timeline), on Twilio, which has no
// such request, refused (dtmf_refused naming the provider); the call goes
// on either way.
func TestHostedAssistantSendsDTMF(t *testing.T) {
	he := newHostedEnv(t)
	const ccid = "v3:dtmf-out"
	if st, body := he.telnyxWebhook(telnyxEvent("call.initiated", ccid, "incoming", callerNumber, telnyxNumber, "", nil), time.Now().Unix(), false); st != 200 {
		t.Fatalf("call.initiated: %d %s", st, body)
	}
	ans, ok := he.telnyx.WaitAction(ccid, "answer", 2*time.Second)
	if !ok {
		t.Fatal("no answer action")
	}
	rec := he.waitCall(ccid, db.CallRinging, time.Second)
	tx := dialProvider(t, ans.Body["stream_url"].(string))
	tx.sendJSON(map[string]any{"event": "start", "stream_id": "s1", "start": map[string]any{"call_control_id": ccid, "client_state": ans.Body["client_state"],
		"media_format": map[string]any{"encoding": "PCMU", "sample_rate": 8000, "channels": 1}}})
	ac := he.asst.next(3 * time.Second)
	_ = ac.send(map[string]any{"event": "dtmf", "dtmf": map[string]any{"digits": "12#"}})
	if a, ok := he.telnyx.WaitAction(ccid, "send_dtmf", 3*time.Second); !ok || a.Body["digits"] != "12#" {
		t.Fatalf("send_dtmf action %+v (sent %v), want digits 12#", a, ok)
	}
	if !waitUntil(2*time.Second, func() bool { return slices.Contains(he.eventTypes(rec.ID), "dtmf_sent") }) {
		t.Fatalf("timeline %q without dtmf_sent", he.eventTypes(rec.ID))
	}

	const sid = "CA00000000000000000000000000000031"
	trec, _, tac := twilioStreamedCall(t, he, sid, "MZ31")
	_ = tac.send(map[string]any{"event": "dtmf", "dtmf": map[string]any{"digits": "9"}})
	if !waitUntil(3*time.Second, func() bool { return slices.Contains(he.eventTypes(trec.ID), "dtmf_refused") }) {
		t.Fatalf("timeline %q without dtmf_refused", he.eventTypes(trec.ID))
	}
	if r := he.mustDo("GET", "/api/v1/calls/"+trec.ID+"/events", he.keyA, nil, 200); !strings.Contains(r.Raw, "not supported on this call (provider twilio)") {
		t.Errorf("dtmf_refused without its reason: %s", r.Raw)
	}
	if u := he.twilio.CallUpdates(); len(u) != 0 {
		t.Errorf("the Twilio call was updated %+v", u)
	}
}

package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/provider/twilio"
	"gorm.io/gorm"
)

const callbackSecret = "whsec_status_callback_test_secret"

// statusReceiver is an https endpoint receiving status callbacks; it checks
// each one's signature itself (hex HMAC-SHA256 of the raw body with the
// assistant's webhook secret) and can refuse the first tries of an event.
type statusReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []receivedStatus
	// refuse: how many times to answer 503 to an event before taking it.
	refuse map[string]int
}

type receivedStatus struct {
	Event    string
	Attempt  string
	SigOK    bool
	Body     map[string]any
	Received time.Time
}

func newStatusReceiver(t *testing.T) *statusReceiver {
	r := &statusReceiver{refuse: map[string]int{}}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		mac := hmac.New(sha256.New, []byte(callbackSecret))
		mac.Write(raw)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		ev, _ := body["event"].(string)
		r.mu.Lock()
		if r.refuse[ev] > 0 {
			r.refuse[ev]--
			r.mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.got = append(r.got, receivedStatus{Event: ev, Attempt: req.Header.Get("X-Sipbridge-Attempt"), Body: body, Received: time.Now(),
			SigOK: hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(req.Header.Get("X-Sipbridge-Signature"))) &&
				req.Header.Get("X-Sipbridge-Event") == ev && req.Header.Get("X-Sipbridge-Call-Id") == body["call_id"]})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *statusReceiver) url() string { return r.srv.URL + "/call-status?k=1" }

// options points call control's status callbacks at the receiver (its test
// certificate), retrying fast.
func (r *statusReceiver) options(o *sip.CallsOptions) {
	o.StatusCallbacks = call.StatusCallbackOptions{Client: r.srv.Client(), RetryBase: 20 * time.Millisecond}
}

// wait returns the events received once n have come.
func (r *statusReceiver) wait(t *testing.T, n int, within time.Duration) []receivedStatus {
	t.Helper()
	var out []receivedStatus
	if !waitUntil(within, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		out = append([]receivedStatus(nil), r.got...)
		return len(out) >= n
	}) {
		t.Fatalf("%d status callbacks received, want %d: %+v", len(out), n, out)
	}
	return out
}

func statusBody(from, to, callback string) map[string]any {
	return map[string]any{"from_phone_number": from, "to_phone_number": to, "status_callback": callback}
}

// timelineOf reads a call's timeline entries of one type.
func (ce *callEnv) timelineOf(callID, typ string) []map[string]any {
	ce.t.Helper()
	evs, err := ce.store.CallEvents(context.Background(), ce.orgA, callID)
	if err != nil {
		ce.t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e.Detail)
		}
	}
	return out
}

func (ce *callEnv) setCallbackSecret() {
	ce.t.Helper()
	if err := ce.store.SetSMSWebhookSecret(context.Background(), ce.orgA, ce.assistant.ID, callbackSecret); err != nil {
		ce.t.Fatal(err)
	}
}

// The default answer comes once the call is placed, while it still rings
// on the first trunk. That trunk rings its own ring_timeout_seconds (20)
// and gives up, the second one answers: the record names the answering
// trunk, the timeline each attempt, and the status callback gets ringing,
// answered and completed, each signed.
func TestInitiateAnswersOncePlacedAndReportsProgress(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		rcv := newStatusReceiver(t)
		ce := newCallEnvOn(t, callEnvConfig{DB: g}, rcv.options)
		second := ce.addTrunk("Second", 5)
		if r := ce.mustDo("PUT", "/api/v1/sip-trunks/"+ce.trunk.ID, ce.keyA, map[string]any{"ring_timeout_seconds": 20}, 200); r.Body["ring_timeout_seconds"] != 20.0 {
			t.Fatalf("trunk view %s", r.Raw)
		}
		ce.mustDo("PUT", "/api/v1/sip-trunks/"+second.ID, ce.keyA, map[string]any{"ring_timeout_seconds": 120}, 200)
		ce.loadTrunks()
		ce.allowCountries("CA")
		ce.addNumber("+16478491000", ce.assistant.ID)
		ce.setCallbackSecret()
		ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})
		ce.sw.SetDialOutcome(second.GatewayName, fstest.DialOutcome{Result: fstest.DialAnswer, Ring: 50})

		r := ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, statusBody("+16478491000", "+14165550199", rcv.url()), 200)
		id, _ := r.Body["call_id"].(string)
		att := ce.sw.DialAttempts()
		if r.Body["status"] != "ringing" || id == "" || len(att) != 1 || r.Body["call_sid"] != att[0].UUID || att[0].Cause != "" || att[0].Answered {
			t.Fatalf("initiate answered %s with attempts %+v", r.Raw, att)
		}
		if rec := ce.mustDo("GET", "/api/v1/calls/"+id, ce.keyA, nil, 200); rec.Body["status"] != "ringing" || rec.Body["call_sid"] != att[0].UUID {
			t.Fatalf("record once placed: %s", rec.Raw)
		}

		got := rcv.wait(t, 2, 5*time.Second)
		if got[0].Event != "ringing" || got[1].Event != "answered" || !got[0].SigOK || !got[1].SigOK {
			t.Fatalf("callbacks %+v", got)
		}
		if got[0].Body["call_id"] != id || got[0].Body["call_sid"] != att[0].UUID || got[0].Body["status"] != "ringing" {
			t.Fatalf("ringing callback %v", got[0].Body)
		}
		att = ce.sw.DialAttempts()
		if len(att) != 2 || att[0].Cause != "ALLOTTED_TIMEOUT" || att[0].Vars["leg_timeout"] != "20" || att[1].Vars["leg_timeout"] != "120" || !att[1].Answered {
			t.Fatalf("attempts %+v", att)
		}
		if b := got[1].Body; b["sip_trunk_id"] != second.ID || b["call_sid"] != att[1].UUID || b["status"] != "in-progress" {
			t.Fatalf("answered callback %v", b)
		}
		rec := ce.mustDo("GET", "/api/v1/calls/"+id, ce.keyA, nil, 200)
		if rec.Body["sip_trunk_id"] != second.ID || rec.Body["status"] != "in-progress" || rec.Body["call_sid"] != att[1].UUID {
			t.Fatalf("answered record %s", rec.Raw)
		}
		tries := ce.timelineOf(id, "dial_attempt")
		if len(tries) != 2 || tries[0]["trunk_id"] != ce.trunk.ID || tries[0]["cause"] != "ALLOTTED_TIMEOUT" || tries[0]["leg"] != att[0].UUID ||
			tries[1]["trunk_id"] != second.ID || tries[1]["cause"] != "ANSWER" || tries[1]["leg"] != att[1].UUID {
			t.Fatalf("dial attempts in the timeline %v", tries)
		}
		// The first trunk rang 20 switch seconds (0.2 s of wall time here).
		if rs, _ := tries[0]["ring_seconds"].(float64); rs < 0.15 {
			t.Fatalf("ring time of the first trunk %v", tries[0])
		}

		ce.sw.Hangup(att[1].UUID, "NORMAL_CLEARING")
		got = rcv.wait(t, 3, 5*time.Second)
		if b := got[2].Body; got[2].Event != "completed" || !got[2].SigOK || b["cause"] != "NORMAL_CLEARING" || b["status"] != "completed" || b["sip_trunk_id"] != second.ID {
			t.Fatalf("completed callback %+v", got[2])
		}
	})
}

// Every trunk refuses after the INVITE left: the request has answered
// 200 ringing, the failure comes as a failed callback naming the cause
// (retried after the receiver's 503), the record and the timeline. With no
// gateway up no leg is ever made: that is still an immediate 502.
func TestInitiateFailureFollowsInCallback(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		rcv := newStatusReceiver(t)
		ce := newCallEnvOn(t, callEnvConfig{DB: g}, rcv.options)
		second := ce.addTrunk("Second", 5)
		ce.allowCountries("CA")
		ce.addNumber("+16478491000", ce.assistant.ID)
		ce.setCallbackSecret()

		// Gateways not loaded yet: FreeSWITCH makes no channel.
		r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, statusBody("+16478491000", "+14165550199", rcv.url()))
		if r.Status != 502 || r.errCode() != "all_trunks_failed" || !strings.Contains(r.Raw, "INVALID_GATEWAY") {
			t.Fatalf("no gateway: %d %s", r.Status, r.Raw)
		}
		if got := rcv.wait(t, 1, 5*time.Second); got[0].Event != "failed" || got[0].Body["cause"] != "INVALID_GATEWAY" {
			t.Fatalf("callback of the call no leg was made for: %+v", got)
		}
		rcv.mu.Lock()
		rcv.refuse["failed"] = 1 // the next failure is taken on its second try
		rcv.mu.Unlock()

		ce.loadTrunks()
		ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialBusy})
		ce.sw.SetDialOutcome(second.GatewayName, fstest.DialOutcome{Result: fstest.DialReject, Cause: "CALL_REJECTED", Ring: 1})
		r = ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, statusBody("+16478491000", "+14165550199", rcv.url()), 200)
		id, _ := r.Body["call_id"].(string)
		if r.Body["status"] != "ringing" {
			t.Fatalf("initiate %s", r.Raw)
		}
		// The first call's failure (no leg) was posted too.
		got := rcv.wait(t, 3, 5*time.Second)
		var mine []receivedStatus
		for _, s := range got {
			if s.Body["call_id"] == id {
				mine = append(mine, s)
			}
		}
		if len(mine) != 2 || mine[0].Event != "ringing" || mine[1].Event != "failed" || !mine[1].SigOK || mine[1].Attempt != "2" {
			t.Fatalf("callbacks of the call %+v (all: %+v)", mine, got)
		}
		if b := mine[1].Body; b["cause"] != "CALL_REJECTED" || b["status"] != "failed" || !strings.Contains(b["reason"].(string), "USER_BUSY") {
			t.Fatalf("failed callback %v", b)
		}
		rec := ce.mustDo("GET", "/api/v1/calls/"+id, ce.keyA, nil, 200)
		if rec.Body["status"] != "failed" || rec.Body["hangup_cause"] != "CALL_REJECTED" || rec.Body["sip_trunk_id"] != nil {
			t.Fatalf("record %s", rec.Raw)
		}
		tries := ce.timelineOf(id, "dial_attempt")
		if len(tries) != 2 || tries[0]["cause"] != "USER_BUSY" || tries[1]["cause"] != "CALL_REJECTED" || tries[1]["trunk_id"] != second.ID {
			t.Fatalf("timeline %v", tries)
		}
	})
}

// status_callback must be https, allowed by the address policy, and
// signable (the assistant has a webhook secret): each refusal is a 4xx
// naming the field, before anything is dialled.
func TestInitiateStatusCallbackRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ce := newCallEnvOn(t, callEnvConfig{DB: g, WebPolicy: defaultPolicy()})
		ce.loadTrunks()
		ce.allowCountries("CA")
		ce.addNumber("+16478491000", ce.assistant.ID)
		for _, tc := range []struct {
			url    string
			status int
		}{
			{"http://hooks.example.com/status", 400},
			{"https://127.0.0.1:8443/status", 400},
			{"https://imds.example/status", 400}, // resolves to a metadata address
			{"not a url", 400},
			{"https://hooks.example.com/status", 422}, // no webhook secret yet
		} {
			r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, statusBody("+16478491000", "+14165550199", tc.url))
			if r.Status != tc.status || r.errField() != "status_callback" {
				t.Errorf("%s: %d %s, want %d naming status_callback", tc.url, r.Status, r.Raw, tc.status)
			}
		}
		if n := len(ce.commandsWith("originate")); n != 0 {
			t.Fatalf("%d originates for refused requests", n)
		}
	})
}

// ring_timeout_seconds: 5–120, a 400 naming it otherwise; a trunk that
// sets none shows the platform's ring time.
func TestTrunkRingTimeoutBounds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ce := newCallEnvOn(t, callEnvConfig{DB: g})
		if r := ce.mustDo("GET", "/api/v1/sip-trunks/"+ce.trunk.ID, ce.keyA, nil, 200); r.Body["ring_timeout_seconds"] != 30.0 {
			t.Fatalf("default ring time: %s", r.Raw)
		}
		for _, v := range []any{4, 121, -1, "20"} {
			r := ce.do("PUT", "/api/v1/sip-trunks/"+ce.trunk.ID, ce.keyA, map[string]any{"ring_timeout_seconds": v})
			if r.Status != 400 || r.errField() != "ring_timeout_seconds" {
				t.Errorf("ring_timeout_seconds %v: %d %s", v, r.Status, r.Raw)
			}
		}
		body := map[string]any{"name": "Carrier", "gateway": "203.0.113.7", "register": false, "allowed_addresses": []string{"203.0.113.7"}, "ring_timeout_seconds": 3}
		if r := ce.do("POST", "/api/v1/sip-trunks", ce.keyA, body); r.Status != 400 || r.errField() != "ring_timeout_seconds" {
			t.Fatalf("create with 3: %d %s", r.Status, r.Raw)
		}
		body["ring_timeout_seconds"] = 5
		r := ce.mustDo("POST", "/api/v1/sip-trunks", ce.keyA, body, 201)
		id, _ := r.Body["id"].(string)
		if got := ce.mustDo("GET", "/api/v1/sip-trunks/"+id, ce.keyA, nil, 200); got.Body["ring_timeout_seconds"] != 5.0 {
			t.Fatalf("stored ring time: %s", got.Raw)
		}
		if r := ce.do("GET", "/api/v1/sip-trunks/"+id, ce.keyB, nil); r.Status != 404 {
			t.Fatalf("org B reads org A's trunk: %d", r.Status)
		}
	})
}

// A bridged transfer: the first trunk rings its ring_timeout_seconds, the
// second answers; the timeline names each attempt and the trunk the call
// was bridged through.
func TestTransferBridgeNamesTheAnsweringTrunk(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ce := newCallEnvOn(t, callEnvConfig{DB: g})
		backup := ce.addTrunk("Backup", 2)
		ce.mustDo("PUT", "/api/v1/sip-trunks/"+ce.trunk.ID, ce.keyA, map[string]any{"ring_timeout_seconds": 7}, 200)
		ce.loadTrunks()
		ce.allowCountries("CA")
		ce.addNumber("+16478491000", ce.assistant.ID)
		ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})
		uuid, err := ce.sw.Call(ce.pbxCall(nil))
		if err != nil {
			t.Fatal(err)
		}
		ce.asst.next(3 * time.Second)
		rec := ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
		ce.mustDo("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "+14165550199"}, 202)
		ce.waitCommand("uuid_bridge "+uuid+" ", 15*time.Second)
		att := ce.sw.DialAttempts()
		if len(att) != 2 || att[0].Vars["leg_timeout"] != "7" || att[0].Cause != "ALLOTTED_TIMEOUT" || !att[1].Answered {
			t.Fatalf("attempts %+v", att)
		}
		var moved []map[string]any
		if !waitUntil(3*time.Second, func() bool { moved = ce.timelineOf(rec.ID, "transferred"); return len(moved) == 1 }) {
			t.Fatal("no transferred entry")
		}
		if moved[0]["trunk_id"] != backup.ID || moved[0]["leg"] != att[1].UUID {
			t.Fatalf("transferred %v", moved[0])
		}
		tries := ce.timelineOf(rec.ID, "dial_attempt")
		if len(tries) != 2 || tries[0]["trunk_id"] != ce.trunk.ID || tries[0]["cause"] != "ALLOTTED_TIMEOUT" || tries[1]["trunk_id"] != backup.ID || tries[1]["cause"] != "ANSWER" {
			t.Fatalf("timeline %v", tries)
		}
		// The record keeps the trunk the call came in on.
		if got, _ := ce.store.GetCall(context.Background(), ce.orgA, rec.ID); got.TrunkID == nil || *got.TrunkID != ce.trunk.ID {
			t.Fatalf("record trunk %v", got.TrunkID)
		}
	})
}

// A Twilio-hosted number: the answer comes once Twilio accepted the call
// (its sid as call_sid), and the status callback follows the provider's
// webhooks: ringing, answered when Twilio fetches the TwiML, failed with
// Twilio's cause for a busy callee.
func TestOutboundTwilioStatusCallback(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		rcv := newStatusReceiver(t)
		he := newHostedEnvOn(t, g, func(o *hosted.Options) {
			o.StatusCallbacks = call.StatusCallbackOptions{Client: rcv.srv.Client(), RetryBase: 20 * time.Millisecond}
		})
		if err := he.store.SetSMSWebhookSecret(context.Background(), he.orgA, he.assistant.ID, callbackSecret); err != nil {
			t.Fatal(err)
		}
		r := he.mustDo(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": twilioNumber,
			"to_phone_number": "+16475557777", "status_callback": rcv.url()}, 200)
		sid, _ := r.Body["call_sid"].(string)
		callID, _ := r.Body["call_id"].(string)
		if r.Body["status"] != "ringing" || sid == "" {
			t.Fatalf("initiate %s", r.Raw)
		}
		got := rcv.wait(t, 1, 3*time.Second)
		if got[0].Event != "ringing" || !got[0].SigOK || got[0].Body["call_sid"] != sid || got[0].Body["provider"] != "twilio" || got[0].Body["call_id"] != callID {
			t.Fatalf("ringing callback %+v", got[0])
		}
		form := url.Values{"CallSid": {sid}, "AccountSid": {he.twilio.AccountSID}, "From": {twilioNumber}, "To": {"+16475557777"},
			"Direction": {"outbound-api"}, "CallStatus": {"in-progress"}}
		if st, body := he.twilioVoice(form, he.twilio.AuthToken); st != 200 {
			t.Fatalf("TwiML: %d %s", st, body)
		}
		got = rcv.wait(t, 2, 3*time.Second)
		if got[1].Event != "answered" || !got[1].SigOK || got[1].Body["status"] != "in-progress" {
			t.Fatalf("answered callback %+v", got[1])
		}

		r = he.mustDo(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": twilioNumber,
			"to_phone_number": "+16475556000", "status_callback": rcv.url()}, 200)
		busySID, _ := r.Body["call_sid"].(string)
		status := url.Values{"CallSid": {busySID}, "AccountSid": {he.twilio.AccountSID}, "From": {twilioNumber}, "To": {"+16475556000"},
			"Direction": {"outbound-api"}, "CallStatus": {"busy"}}
		sig := twilio.Signature(he.twilio.AuthToken, he.base+"/twiml/status", status)
		if st, b := he.post(http.MethodPost, "/twiml/status", "application/x-www-form-urlencoded", []byte(status.Encode()), http.Header{"X-Twilio-Signature": {sig}}); st != 200 {
			t.Fatalf("status: %d %s", st, b)
		}
		got = rcv.wait(t, 4, 3*time.Second)
		var busy []receivedStatus
		for _, s := range got {
			if s.Body["call_sid"] == busySID {
				busy = append(busy, s)
			}
		}
		if len(busy) != 2 || busy[0].Event != "ringing" || busy[1].Event != "failed" || busy[1].Body["cause"] != "busy" || !busy[1].SigOK {
			t.Fatalf("callbacks of the busy call %+v", busy)
		}
	})
}

// Hung up through the API while it rings (the request has long answered):
// the originate is cancelled, the record fails and the callback says
// failed with ORIGINATOR_CANCEL.
func TestHangupWhileRingingPostsFailed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		rcv := newStatusReceiver(t)
		ce := newCallEnvOn(t, callEnvConfig{DB: g}, rcv.options)
		ce.mustDo("PUT", "/api/v1/sip-trunks/"+ce.trunk.ID, ce.keyA, map[string]any{"ring_timeout_seconds": 120}, 200)
		ce.loadTrunks()
		ce.allowCountries("CA")
		ce.addNumber("+16478491000", ce.assistant.ID)
		ce.setCallbackSecret()
		ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})
		r := ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, statusBody("+16478491000", "+14165550199", rcv.url()), 200)
		id, _ := r.Body["call_id"].(string)
		rcv.wait(t, 1, 3*time.Second)
		if r := ce.do("POST", "/api/v1/calls/"+id+"/transfer", ce.keyA, map[string]any{"to": "+14165550198"}); r.Status != 409 || r.errCode() != "not_answered" {
			t.Fatalf("transfer of a ringing call: %d %s", r.Status, r.Raw)
		}
		ce.mustDo("POST", "/api/v1/calls/"+id+"/hangup", ce.keyA, nil, 202)
		got := rcv.wait(t, 2, 3*time.Second)
		if got[1].Event != "failed" || got[1].Body["cause"] != "ORIGINATOR_CANCEL" || !got[1].SigOK {
			t.Fatalf("callbacks %+v", got)
		}
		if a := ce.sw.DialAttempts(); len(a) != 1 || a[0].Cause != "ORIGINATOR_CANCEL" {
			t.Fatalf("attempts %+v", a)
		}
		if rec := ce.mustDo("GET", "/api/v1/calls/"+id, ce.keyA, nil, 200); rec.Body["status"] != "failed" || rec.Body["hangup_cause"] != "ORIGINATOR_CANCEL" {
			t.Fatalf("record %s", rec.Raw)
		}
		if !waitUntil(2*time.Second, func() bool { return len(ce.sw.Channels()) == 0 && ce.calls.Active() == 0 }) {
			t.Fatalf("left: channels %v, sessions %d", ce.sw.Channels(), ce.calls.Active())
		}
	})
}

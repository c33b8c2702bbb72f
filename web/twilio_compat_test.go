package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// twReq is one request to the Twilio-compatible route: account and sid
// build the path, user and pass the Basic credentials ("" user: none).
type twReq struct {
	method, account, sid, user, pass string
	form                             url.Values
	contentType                      string // default form
}

// twilioCompat sends it and decodes the JSON answer.
func (e *env) twilioCompat(r twReq) resp {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	var body io.Reader
	if r.method == http.MethodPost {
		body = strings.NewReader(r.form.Encode())
	}
	req, _ := http.NewRequest(r.method, e.srv.URL+"/2010-04-01/Accounts/"+r.account+"/Calls/"+r.sid+".json", body)
	if r.user != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	if r.method == http.MethodPost {
		ct := r.contentType
		if ct == "" {
			ct = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &out.Body); err != nil {
		e.t.Fatalf("%s %s: not JSON: %d %s", r.method, req.URL.Path, res.StatusCode, raw)
	}
	if res.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
		e.t.Errorf("401 without a Basic challenge: %q", res.Header.Get("WWW-Authenticate"))
	}
	return out
}

// twilioShaped checks an error answer has Twilio's shape, status and code,
// and that its message contains msg.
func twilioShaped(t *testing.T, what string, r resp, status, code int, msg string) {
	t.Helper()
	ok := r.Status == status && r.Body["status"] == float64(status) && r.Body["code"] == float64(code) &&
		r.Body["more_info"] != nil && len(r.Body) == 4
	if m, _ := r.Body["message"].(string); !ok || !strings.Contains(m, msg) {
		t.Errorf("%s: %d %s; want %d, code %d, a message with %q, Twilio's error shape", what, r.Status, r.Raw, status, code, msg)
	}
}

// compatSID is the organization's twilio_compat_account_sid.
func (e *env) compatSID(key string) string {
	e.t.Helper()
	sid, _ := e.mustDo("GET", "/api/v1/organization", key, nil, 200).Body["twilio_compat_account_sid"].(string)
	if !regexp.MustCompile(`^AC[0-9a-f]{32}$`).MatchString(sid) {
		e.t.Fatalf("twilio_compat_account_sid %q", sid)
	}
	return sid
}

// startSIDs waits for the assistant's start message and returns its
// accountSid and callSid.
func startSIDs(t *testing.T, ac *assistantConn) (account, call string) {
	t.Helper()
	var start map[string]any
	if !waitUntil(3*time.Second, func() bool { _, _, _, _, _, start, _ = ac.snapshot(); return start != nil }) {
		t.Fatal("no start message")
	}
	account, _ = start["accountSid"].(string)
	call, _ = start["callSid"].(string)
	return account, call
}

func hasEvent(t *testing.T, e *env, key, callID, typ string, detail map[string]any) bool {
	t.Helper()
	for _, ev := range e.mustDo("GET", "/api/v1/calls/"+callID+"/events", key, nil, 200).List {
		m := ev.(map[string]any)
		if m["type"] != typ {
			continue
		}
		d, _ := m["detail"].(map[string]any)
		match := true
		for k, v := range detail {
			match = match && d[k] == v
		}
		if match {
			return true
		}
	}
	return false
}

// A live SIP call: the assistant's start carries the organization's
// account SID (not org B's, not zeros); the route refuses bad credentials
// and other organizations in Twilio's shape, refuses bad input with 400
// naming the parameter, fetches the call, and Status=completed hangs it up
// through the API's path (the record says so); a second hangup is 200.
func TestTwilioCompatHangupSIPCall(t *testing.T) {
	ce := newCallEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, ac, rec := ce.liveCall()
	acctA, acctB := ce.compatSID(ce.keyA), ce.compatSID(ce.keyB)
	account, callSID := startSIDs(t, ac)
	if account != acctA || acctA == acctB {
		t.Fatalf("start.accountSid %q; org A %q, org B %q", account, acctA, acctB)
	}
	if callSID != "CA"+strings.ReplaceAll(uuid, "-", "") {
		t.Fatalf("start.callSid %q for channel %s", callSID, uuid)
	}
	hangup := url.Values{"Status": {"completed"}}
	good := twReq{account: acctA, sid: callSID, user: acctA, pass: ce.keyA, form: hangup}

	// Authentication: 401 Authenticate, whatever is wrong.
	for name, r := range map[string]twReq{
		"no credentials":            {account: acctA, sid: callSID, form: hangup},
		"wrong key":                 {account: acctA, sid: callSID, user: acctA, pass: "sb_" + strings.Repeat("x", 32), form: hangup},
		"revoked-looking garbage":   {account: acctA, sid: callSID, user: acctA, pass: "hello", form: hangup},
		"org B's key, org A's sid":  {account: acctA, sid: callSID, user: acctA, pass: ce.keyB, form: hangup},
		"org A's key, org B's user": {account: acctA, sid: callSID, user: acctB, pass: ce.keyA, form: hangup},
		"org A's key, org B's path": {account: acctB, sid: callSID, user: acctA, pass: ce.keyA, form: hangup},
		"the all-zero account":      {account: "AC" + strings.Repeat("0", 32), sid: callSID, user: "AC" + strings.Repeat("0", 32), pass: ce.keyA, form: hangup},
	} {
		twilioShaped(t, name, ce.twilioCompat(r), 401, 20003, "Authenticate")
	}
	// Org B, properly authenticated, cannot see org A's call: 404.
	r := ce.twilioCompat(twReq{account: acctB, sid: callSID, user: acctB, pass: ce.keyB, form: hangup})
	twilioShaped(t, "org B's call lookup", r, 404, 20404, "/Calls/"+callSID+".json was not found")
	twilioShaped(t, "org B fetches", ce.twilioCompat(twReq{method: "GET", account: acctB, sid: rec.ID, user: acctB, pass: ce.keyB}), 404, 20404, "not found")
	twilioShaped(t, "unknown call", ce.twilioCompat(twReq{account: acctA, sid: "CA" + strings.Repeat("1", 32), user: acctA, pass: ce.keyA, form: hangup}), 404, 20404, "not found")

	// Bad input: 400 naming the parameter; the call is untouched.
	for name, c := range map[string]struct {
		form  url.Values
		ct    string
		field string
	}{
		"bad status":      {url.Values{"Status": {"busy"}}, "", "Status"},
		"empty status":    {url.Values{"Status": {""}}, "", "Status"},
		"nothing":         {url.Values{}, "", "Status"},
		"url":             {url.Values{"Url": {"https://example.com/twiml"}}, "", "Url"},
		"status and url":  {url.Values{"Url": {"https://example.com/twiml"}, "Status": {"completed"}}, "", "Url"},
		"status + twiml":  {url.Values{"Status": {"completed"}, "Twiml": {"<Response><Hangup/></Response>"}}, "", "Twiml"},
		"status twice":    {url.Values{"Status": {"completed", "canceled"}}, "", "Status"},
		"status callback": {url.Values{"Status": {"completed"}, "StatusCallback": {"https://x"}}, "", "StatusCallback"},
		"time limit":      {url.Values{"Twiml": {"<Response><Hangup/></Response>"}, "TimeLimit": {"30"}}, "", "TimeLimit"},
		"no dial":         {url.Values{"Twiml": {"<Response><Say>bye</Say></Response>"}}, "", "Twiml"},
		"two targets":     {url.Values{"Twiml": {"<Response><Dial><Number>+14165550198</Number><Number>+14165550199</Number></Dial></Response>"}}, "", "Twiml"},
		"not xml":         {url.Values{"Twiml": {"<Response><Dial>+14165550199"}}, "", "Twiml"},
		"bad target":      {url.Values{"Twiml": {"<Response><Dial>12345</Dial></Response>"}}, "", "Twiml"},
		"bad sip target":  {url.Values{"Twiml": {"<Response><Dial><Sip>sip:no-host</Sip></Dial></Response>"}}, "", "Twiml"},
		"json body":       {nil, "application/json", "form encoded"},
	} {
		req := good
		req.form, req.contentType = c.form, c.ct
		twilioShaped(t, name, ce.twilioCompat(req), 400, 20001, c.field)
	}
	if got, _ := ce.store.GetCall(t.Context(), ce.orgA, rec.ID); got.Status != db.CallInProgress || len(ce.commandsWith("uuid_kill")) > 0 || len(ce.commandsWith("originate")) > 0 {
		t.Fatalf("bad input touched the call: %+v, commands %q", got, ce.sw.Commands())
	}

	// Fetch, by callSid and by sipbridge's call id; the key without its
	// sb_ prefix works too (twilio-go takes alphanumeric passwords only).
	for _, sid := range []string{callSID, rec.ID, uuid} {
		f := ce.twilioCompat(twReq{method: "GET", account: acctA, sid: sid, user: acctA, pass: strings.TrimPrefix(ce.keyA, "sb_")})
		if f.Status != 200 || f.Body["sid"] != sid || f.Body["account_sid"] != acctA || f.Body["status"] != "in-progress" ||
			f.Body["from"] != "+14165550100" || f.Body["to"] != "+16478491000" || f.Body["direction"] != "inbound" ||
			f.Body["uri"] != "/2010-04-01/Accounts/"+acctA+"/Calls/"+sid+".json" || f.Body["start_time"] == nil || f.Body["end_time"] != nil {
			t.Fatalf("fetch %s: %d %s", sid, f.Status, f.Raw)
		}
		if _, err := time.Parse(time.RFC1123Z, f.Body["date_created"].(string)); err != nil {
			t.Fatalf("date_created: %v", err)
		}
	}

	// Status=canceled leaves a call in progress alone, as at Twilio.
	req := good
	req.form = url.Values{"Status": {"canceled"}}
	if r := ce.twilioCompat(req); r.Status != 200 || r.Body["status"] != "in-progress" {
		t.Fatalf("canceled on a call in progress: %d %s", r.Status, r.Raw)
	}

	// Status=completed hangs up through the API's path.
	r = ce.twilioCompat(good)
	if r.Status != 200 || r.Body["status"] != "completed" || r.Body["sid"] != callSID || r.Body["account_sid"] != acctA {
		t.Fatalf("hangup: %d %s", r.Status, r.Raw)
	}
	done := ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
	if !strings.Contains(done.Reason, "hung up through the API") || !hasEvent(t, ce.env, ce.keyA, rec.ID, "hangup_requested", map[string]any{"by": "api"}) {
		t.Fatalf("record %+v", done)
	}
	if len(ce.commandsWith("uuid_kill "+uuid)) == 0 {
		t.Fatalf("no uuid_kill: %q", ce.sw.Commands())
	}
	// Ended: hanging up again is done already; a transfer is refused as
	// Twilio refuses to redirect a call that is not in progress.
	if r := ce.twilioCompat(good); r.Status != 200 || r.Body["status"] != "completed" || r.Body["end_time"] == nil || r.Body["duration"] == nil {
		t.Fatalf("second hangup: %d %s", r.Status, r.Raw)
	}
	req.form = url.Values{"Twiml": {"<Response><Dial>+14165550199</Dial></Response>"}}
	twilioShaped(t, "transfer of an ended call", ce.twilioCompat(req), 400, 21220, "not in-progress")
}

// Twiml=<Response><Dial>number</Dial></Response> on a live SIP call takes
// the transfer API's path: the timeline shows the transfer asked by the
// API, the caller is bridged out through the trunk, the answer says
// in-progress.
func TestTwilioCompatTransferSIPCall(t *testing.T) {
	ce := newCallEnv(t)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, ac, rec := ce.liveCall()
	account, callSID := startSIDs(t, ac)
	req := twReq{account: account, sid: callSID, user: account, pass: ce.keyA,
		form: url.Values{"Twiml": {`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response>\n  <Dial>\n    <Number>+14165550199</Number>\n  </Dial>\n</Response>"}}}
	r := ce.twilioCompat(req)
	if r.Status != 200 || r.Body["status"] != "in-progress" || r.Body["sid"] != callSID {
		t.Fatalf("transfer: %d %s", r.Status, r.Raw)
	}
	bridge := ce.waitCommand("uuid_bridge "+uuid+" ", 15*time.Second)
	if leg := strings.Fields(bridge)[2]; ce.sw.Bridged(uuid) != leg {
		t.Fatalf("caller bridged to %q, want %q", ce.sw.Bridged(uuid), leg)
	}
	if !hasEvent(t, ce.env, ce.keyA, rec.ID, "transfer_requested", map[string]any{"to": "+14165550199", "by": "api"}) {
		t.Fatalf("timeline lacks the API's transfer: %s", ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200).Raw)
	}
	select {
	case <-ac.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the assistant's stream stayed open after the transfer")
	}
	if got := ce.mustDo("GET", "/api/v1/calls/"+rec.ID, ce.keyA, nil, 200).Body["status"]; got != db.CallInProgress {
		t.Fatalf("transferred call status %v", got)
	}
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
}

// Status=canceled on an outbound call that still rings cancels it, as
// POST /api/v1/calls/{id}/hangup does (the call is named by its id: its
// assistant has not been started yet). The simulated trunk rings for 2 s of
// switch time, 20 ms of wall time: nothing else happens in between.
func TestTwilioCompatCancelsRingingCall(t *testing.T) {
	// A ring of 300 switch seconds (3 s of wall time with the simulator's
	// step): the default 2 s leg timeout left the test 20 ms of wall time
	// to act while the call rang, too little on a loaded machine.
	ce := newCallEnv(t, func(o *sip.CallsOptions) { o.LegTimeout = 300 * time.Second })
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	account := ce.compatSID(ce.keyA)
	ce.sw.SetDialOutcome(ce.trunk.GatewayName, fstest.DialOutcome{Result: fstest.DialNoAnswer})
	done := make(chan resp, 1)
	go func() {
		done <- ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"))
	}()
	var id string
	if !waitUntil(3*time.Second, func() bool {
		calls, _, _ := ce.store.ListCalls(t.Context(), ce.orgA, db.CallFilter{Direction: db.DirectionOutbound}, db.Page{Limit: 5})
		if len(calls) == 1 && len(ce.sw.DialAttempts()) == 1 {
			id = calls[0].ID
			return true
		}
		return false
	}) {
		t.Fatal("the call did not start ringing")
	}
	r := ce.twilioCompat(twReq{account: account, sid: id, user: account, pass: ce.keyA, form: url.Values{"Status": {"canceled"}}})
	if r.Status != 200 || r.Body["status"] != "canceled" || r.Body["direction"] != "outbound-api" {
		t.Fatalf("cancel: %d %s", r.Status, r.Raw)
	}
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
}

// rewriteHost sends every request of a client built for api.twilio.com to
// sipbridge instead: the only change a Twilio runtime needs.
type rewriteHost struct{ base *url.URL }

func (t rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.base.Scheme, t.base.Host, t.base.Host
	return http.DefaultTransport.RoundTrip(r)
}

// twilioGoClient is twilio-go's Api v2010 service (RestClient.Api) on
// sipbridge's host.
func twilioGoClient(t *testing.T, base, accountSID, password string) *twapi.ApiService {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	cl := &twclient.Client{Credentials: twclient.NewCredentials(accountSID, password), HTTPClient: &http.Client{Transport: rewriteHost{u}}}
	cl.SetAccountSid(accountSID)
	return twapi.NewApiServiceWithClient(cl)
}

// The official twilio-go client, its host pointed at sipbridge, hangs up a
// live SIP call with UpdateCall(Status=completed) and reads it with
// FetchCall, using the account SID from start.accountSid and an API key as
// the auth token; a wrong token is its TwilioRestError 20003.
func TestTwilioCompatTwilioGoClient(t *testing.T) {
	ce := newCallEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
	account, callSID := startSIDs(t, ac)

	bad := twilioGoClient(t, ce.srv.URL, account, strings.Repeat("x", 32))
	_, err = bad.UpdateCall(callSID, (&twapi.UpdateCallParams{}).SetStatus("completed"))
	var rest *twclient.TwilioRestError
	if !asRestError(err, &rest) || rest.Status != 401 || rest.Code != 20003 {
		t.Fatalf("wrong token: %v", err)
	}

	cl := twilioGoClient(t, ce.srv.URL, account, strings.TrimPrefix(ce.keyA, "sb_"))
	got, err := cl.FetchCall(callSID, nil)
	if err != nil || got.Status == nil || *got.Status != "in-progress" || *got.AccountSid != account || *got.To != "+16478491000" {
		t.Fatalf("FetchCall: %+v, %v", got, err)
	}
	upd, err := cl.UpdateCall(callSID, (&twapi.UpdateCallParams{}).SetStatus("completed"))
	if err != nil || upd.Sid == nil || *upd.Sid != callSID || *upd.Status != "completed" {
		t.Fatalf("UpdateCall: %+v, %v", upd, err)
	}
	if done := ce.waitCall(uuid, db.CallCompleted, 3*time.Second); !strings.Contains(done.Reason, "hung up through the API") {
		t.Fatalf("record %+v", done)
	}
}

func asRestError(err error, target **twclient.TwilioRestError) bool {
	e, ok := err.(*twclient.TwilioRestError)
	if ok {
		*target = e
	}
	return ok
}

// A Twilio-hosted call: start.accountSid is the organization's
// Twilio-compatible account SID (not its Twilio account), start.callSid
// Twilio's CallSid; Twiml=<Dial><Sip> on our route transfers it through
// Twilio (the live call's TwiML becomes the <Dial>), as the transfer API
// does.
func TestTwilioCompatHostedCall(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA0000000000000000000000000000c0de"
	rec, streamURL, token := he.twilioAnswer(sid)
	he.twilio.SetCallStatus(sid, "in-progress")
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	tw.sendJSON(map[string]any{"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": map[string]any{"streamSid": "MZ1",
		"accountSid": he.twilio.AccountSID, "callSid": sid, "customParameters": map[string]string{"call_id": rec.ID, "token": token}}})
	ac := he.asst.next(3 * time.Second)
	account, callSID := startSIDs(t, ac)
	if account != he.compatSID(he.keyA) || account == he.twilio.AccountSID || callSID != sid {
		t.Fatalf("start: accountSid %q callSid %q", account, callSID)
	}
	twilioShaped(t, "org B", he.twilioCompat(twReq{account: he.compatSID(he.keyB), sid: sid, user: he.compatSID(he.keyB), pass: he.keyB,
		form: url.Values{"Status": {"completed"}}}), 404, 20404, "not found")

	r := he.twilioCompat(twReq{account: account, sid: sid, user: account, pass: he.keyA,
		form: url.Values{"Twiml": {"<Response><Dial><Sip>sip:frontdesk@pbx.example.com</Sip></Dial></Response>"}}})
	if r.Status != 200 || r.Body["status"] != "in-progress" {
		t.Fatalf("transfer: %d %s", r.Status, r.Raw)
	}
	f, ok := he.twilio.WaitCallUpdate(sid, "Twiml", 2*time.Second)
	if !ok || !strings.Contains(f.Get("Twiml"), "sip:frontdesk@pbx.example.com") {
		t.Fatalf("Twilio updates %+v", he.twilio.CallUpdates())
	}
	if !slices.Contains(he.eventTypes(rec.ID), "transfer_requested") {
		t.Fatalf("timeline %v", he.eventTypes(rec.ID))
	}
	tw.sendJSON(map[string]any{"event": "stop", "streamSid": "MZ1", "stop": map[string]any{"callSid": sid}})
	if done := he.waitCall(sid, db.CallCompleted, 2*time.Second); !strings.Contains(done.Reason, "sip:frontdesk@pbx.example.com") {
		t.Fatalf("record %+v", done)
	}
}

package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

const (
	testTwilioSID   = "AC0123456789abcdef0123456789abcdef"
	testTwilioToken = "authtoken0123456789"
)

// fakeTwilio implements the Api v2010 endpoints the client uses, with
// Twilio's JSON shapes and {code,message,more_info,status} errors.
type fakeTwilio struct {
	t   *testing.T
	rec testkit.Recorder
	srv *httptest.Server

	mu      sync.Mutex
	numbers []map[string]any // owned IncomingPhoneNumbers
	// fail, when set, answers the next matching request instead of the
	// normal handler: key "METHOD suffix" (suffix of the path).
	fail map[string][]failure
}

type failure struct {
	status int
	body   string
	header map[string]string
}

func newFakeTwilio(t *testing.T, prefix string) *fakeTwilio {
	f := &fakeTwilio{t: t, fail: map[string][]failure{}}
	mux := http.NewServeMux()
	acct := prefix + "/2010-04-01/Accounts/{acct}"
	mux.HandleFunc("GET "+acct+"/AvailablePhoneNumbers/{cc}/Local.json", f.available)
	mux.HandleFunc("POST "+acct+"/IncomingPhoneNumbers.json", f.createNumber)
	mux.HandleFunc("GET "+acct+"/IncomingPhoneNumbers.json", f.listNumbers)
	mux.HandleFunc("GET "+acct+"/IncomingPhoneNumbers/{file}", f.fetchNumber)
	mux.HandleFunc("POST "+acct+"/IncomingPhoneNumbers/{file}", f.updateNumber)
	mux.HandleFunc("DELETE "+acct+"/IncomingPhoneNumbers/{file}", f.deleteNumber)
	mux.HandleFunc("POST "+acct+"/Messages.json", f.createMessage)
	mux.HandleFunc("POST "+acct+"/Calls.json", f.createCall)
	mux.HandleFunc("POST "+acct+"/Calls/{file}", f.updateCall)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := f.rec.Record(r)
		r.Body = testkit.NopBody(rec.Body)
		user, pass, ok := r.BasicAuth()
		if !ok || user != testTwilioSID || pass != testTwilioToken {
			testkit.WriteJSON(w, 401, `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`)
			return
		}
		if fl, ok := f.nextFailure(r.Method, r.URL.Path); ok {
			for k, v := range fl.header {
				w.Header().Set(k, v)
			}
			if strings.HasPrefix(fl.body, "{") {
				testkit.WriteJSON(w, fl.status, fl.body)
			} else {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(fl.status)
				w.Write([]byte(fl.body))
			}
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTwilio) failNext(method, suffix string, n int, fl failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.fail[method+" "+suffix] = append(f.fail[method+" "+suffix], fl)
	}
}

func (f *fakeTwilio) nextFailure(method, path string) (failure, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, q := range f.fail {
		m, suffix, _ := strings.Cut(k, " ")
		if m == method && strings.HasSuffix(path, suffix) && len(q) > 0 {
			f.fail[k] = q[1:]
			return q[0], true
		}
	}
	return failure{}, false
}

func (f *fakeTwilio) available(w http.ResponseWriter, r *http.Request) {
	cc := r.PathValue("cc")
	all := []map[string]any{
		{"phone_number": "+14155550100", "friendly_name": "(415) 555-0100", "locality": "San Francisco", "region": "CA", "iso_country": cc,
			"capabilities": map[string]bool{"voice": true, "SMS": true, "MMS": false}},
		{"phone_number": "+14155550199", "locality": "Oakland", "region": "CA", "iso_country": cc,
			"capabilities": map[string]bool{"voice": true, "SMS": false, "MMS": false}},
	}
	// Twilio's capability keys are "voice", "SMS", "MMS"; twilio-go decodes
	// them case-insensitively into its struct.
	json.NewEncoder(w).Encode(map[string]any{"available_phone_numbers": all, "uri": r.URL.Path})
}

func (f *fakeTwilio) numberJSON(sid, number string, form map[string]string) map[string]any {
	return map[string]any{
		"sid": sid, "account_sid": testTwilioSID, "phone_number": number,
		"friendly_name": form["FriendlyName"], "voice_url": form["VoiceUrl"], "voice_method": form["VoiceMethod"],
		"sms_url": form["SmsUrl"], "sms_method": form["SmsMethod"], "status_callback": form["StatusCallback"],
		"status": "in-use", "capabilities": map[string]bool{"voice": true, "sms": true, "mms": true},
	}
}

func (f *fakeTwilio) createNumber(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	form := map[string]string{}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	f.mu.Lock()
	sid := fmt.Sprintf("PN%032d", len(f.numbers)+1)
	n := f.numberJSON(sid, form["PhoneNumber"], form)
	f.numbers = append(f.numbers, n)
	f.mu.Unlock()
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(n)
}

func (f *fakeTwilio) listNumbers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("PageSize"))
	if size <= 0 {
		size = 50
	}
	page, _ := strconv.Atoi(q.Get("Page"))
	f.mu.Lock()
	var match []map[string]any
	for _, n := range f.numbers {
		if pn := q.Get("PhoneNumber"); pn != "" && n["phone_number"] != pn {
			continue
		}
		match = append(match, n)
	}
	f.mu.Unlock()
	lo, hi := min(page*size, len(match)), min((page+1)*size, len(match))
	res := map[string]any{"incoming_phone_numbers": match[lo:hi], "page": page, "page_size": size}
	if hi < len(match) {
		res["next_page_uri"] = fmt.Sprintf("/2010-04-01/Accounts/%s/IncomingPhoneNumbers.json?PageSize=%d&Page=%d", testTwilioSID, size, page+1)
	} else {
		res["next_page_uri"] = nil
	}
	json.NewEncoder(w).Encode(res)
}

func (f *fakeTwilio) find(file string) (int, bool) {
	sid := strings.TrimSuffix(file, ".json")
	for i, n := range f.numbers {
		if n["sid"] == sid {
			return i, true
		}
	}
	return 0, false
}

func (f *fakeTwilio) fetchNumber(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.find(r.PathValue("file"))
	if !ok {
		testkit.WriteJSON(w, 404, `{"code":20404,"message":"The requested resource was not found","status":404}`)
		return
	}
	json.NewEncoder(w).Encode(f.numbers[i])
}

func (f *fakeTwilio) updateNumber(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.find(r.PathValue("file"))
	if !ok {
		testkit.WriteJSON(w, 404, `{"code":20404,"message":"The requested resource was not found","status":404}`)
		return
	}
	for form, field := range map[string]string{"VoiceUrl": "voice_url", "VoiceMethod": "voice_method", "SmsUrl": "sms_url",
		"SmsMethod": "sms_method", "StatusCallback": "status_callback"} {
		if v, ok := r.PostForm[form]; ok {
			f.numbers[i][field] = v[0]
		}
	}
	json.NewEncoder(w).Encode(f.numbers[i])
}

func (f *fakeTwilio) deleteNumber(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.find(r.PathValue("file"))
	if !ok {
		testkit.WriteJSON(w, 404, `{"code":20404,"message":"The requested resource was not found","status":404}`)
		return
	}
	f.numbers = append(f.numbers[:i], f.numbers[i+1:]...)
	w.WriteHeader(204)
}

func (f *fakeTwilio) createMessage(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]any{"sid": "SM0001", "status": "queued", "to": r.PostForm.Get("To"), "from": r.PostForm.Get("From")})
}

func (f *fakeTwilio) createCall(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]any{"sid": "CA0001", "status": "queued"})
}

func (f *fakeTwilio) updateCall(w http.ResponseWriter, r *http.Request) {
	json.NewEncoder(w).Encode(map[string]any{"sid": strings.TrimSuffix(r.PathValue("file"), ".json"), "status": "completed"})
}

func newTestTwilio(t *testing.T, base string, clock provider.Clock) *Client {
	t.Helper()
	tw, err := New(provider.TwilioCreds{AccountSID: testTwilioSID, AuthToken: testTwilioToken}, testkit.TestConfig(base, clock))
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

func TestTwilioSearchNumbers(t *testing.T) {
	f := newFakeTwilio(t, "")
	tw := newTestTwilio(t, f.srv.URL, testkit.NewFakeClock())
	got, err := tw.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "us", AreaCode: "415", Contains: "555", Locality: "San Francisco", Region: "CA", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	q := f.rec.Last(t, "GET", "/2010-04-01/Accounts/"+testTwilioSID+"/AvailablePhoneNumbers/US/Local.json").Query
	for k, want := range map[string]string{"AreaCode": "415", "Contains": "555", "InLocality": "San Francisco", "InRegion": "CA", "PageSize": "5"} {
		if q.Get(k) != want {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(got) != 2 || got[0].PhoneNumber != "+14155550100" || got[0].Locality != "San Francisco" || got[0].Region != "CA" || got[0].CountryCode != "US" {
		t.Fatalf("results = %+v", got)
	}
	if !got[0].Capabilities.Voice || !got[0].Capabilities.SMS || got[1].Capabilities.SMS {
		t.Errorf("capabilities = %+v / %+v", got[0].Capabilities, got[1].Capabilities)
	}
}

func TestTwilioPurchaseSendsWebhookURLs(t *testing.T) {
	// A path prefix on the base URL must be kept.
	f := newFakeTwilio(t, "/twilio")
	tw := newTestTwilio(t, f.srv.URL+"/twilio/", testkit.NewFakeClock())
	got, err := tw.Purchase(context.Background(), provider.PurchaseRequest{
		PhoneNumber: "+14155550100", FriendlyName: "Support line",
		VoiceURL: "https://sb.example.com/webhooks/twilio/voice", SMSURL: "https://sb.example.com/webhooks/twilio/sms",
		StatusCallbackURL: "https://sb.example.com/webhooks/twilio/status",
	})
	if err != nil {
		t.Fatal(err)
	}
	form := f.rec.Last(t, "POST", "/twilio/2010-04-01/Accounts/"+testTwilioSID+"/IncomingPhoneNumbers.json").Form
	want := map[string]string{
		"PhoneNumber": "+14155550100", "FriendlyName": "Support line",
		"VoiceUrl": "https://sb.example.com/webhooks/twilio/voice", "VoiceMethod": "POST",
		"SmsUrl": "https://sb.example.com/webhooks/twilio/sms", "SmsMethod": "POST",
		"StatusCallback": "https://sb.example.com/webhooks/twilio/status", "StatusCallbackMethod": "POST",
	}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, form.Get(k), v)
		}
	}
	if !strings.HasPrefix(got.ProviderID, "PN") || got.Details["phone_number"] != "+14155550100" {
		t.Errorf("purchased = %+v", got)
	}
}

func TestTwilioNumberLifecycle(t *testing.T) {
	f := newFakeTwilio(t, "")
	tw := newTestTwilio(t, f.srv.URL, testkit.NewFakeClock())
	ctx := context.Background()
	for _, n := range []string{"+14155550100", "+14155550101", "+14155550102"} {
		if _, err := tw.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: n, VoiceURL: "https://a.example/v"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.ConfigureWebhooks(ctx, "+14155550101", provider.Webhooks{VoiceURL: "https://b.example/v", SMSURL: "https://b.example/s", SMSMethod: "get"}); err != nil {
		t.Fatal(err)
	}
	w, err := tw.GetWebhooks(ctx, "+14155550101")
	if err != nil {
		t.Fatal(err)
	}
	if w.VoiceURL != "https://b.example/v" || w.SMSURL != "https://b.example/s" || w.SMSMethod != "GET" || w.VoiceMethod != "POST" {
		t.Errorf("webhooks = %+v", w)
	}

	owned, err := tw.ListOwned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(owned) != 3 || owned[1].PhoneNumber != "+14155550101" || owned[1].Webhooks.VoiceURL != "https://b.example/v" {
		t.Fatalf("owned = %+v", owned)
	}

	if err := tw.Release(ctx, "+14155550101"); err != nil {
		t.Fatal(err)
	}
	if err := tw.Release(ctx, owned[0].ProviderID); err != nil { // by SID
		t.Fatal(err)
	}
	owned, err = tw.ListOwned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(owned) != 1 || owned[0].PhoneNumber != "+14155550102" {
		t.Fatalf("after release owned = %+v", owned)
	}
	testkit.WantKind(t, tw.Release(ctx, "+14155550101"), provider.ErrNotFound)
	testkit.WantKind(t, tw.Release(ctx, "not-a-number"), provider.ErrBadRequest)
}

func TestTwilioListOwnedPaginates(t *testing.T) {
	f := newFakeTwilio(t, "")
	tw := newTestTwilio(t, f.srv.URL, testkit.NewFakeClock())
	f.mu.Lock()
	for i := range 1005 {
		f.numbers = append(f.numbers, f.numberJSON(fmt.Sprintf("PN%032d", i), fmt.Sprintf("+1415556%04d", i), nil))
	}
	f.mu.Unlock()
	owned, err := tw.ListOwned(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(owned) != 1005 || owned[1004].PhoneNumber != "+14155561004" {
		t.Fatalf("got %d numbers", len(owned))
	}
	if n := f.rec.Count("GET", "/2010-04-01/Accounts/"+testTwilioSID+"/IncomingPhoneNumbers.json"); n != 2 {
		t.Errorf("list pages fetched = %d, want 2", n)
	}
}

func TestTwilioMessagesAndCalls(t *testing.T) {
	f := newFakeTwilio(t, "")
	tw := newTestTwilio(t, f.srv.URL, testkit.NewFakeClock())
	ctx := context.Background()
	sent, err := tw.SendMessage(ctx, provider.Message{From: "+14155550100", To: "+14155550111", Body: "hi", MediaURLs: []string{"https://m.example/a.png", "https://m.example/b.png"}, StatusCallback: "https://sb.example/st"})
	if err != nil {
		t.Fatal(err)
	}
	if sent.ProviderMessageID != "SM0001" || sent.Status != "queued" {
		t.Errorf("sent = %+v", sent)
	}
	form := f.rec.Last(t, "POST", "/2010-04-01/Accounts/"+testTwilioSID+"/Messages.json").Form
	if form.Get("Body") != "hi" || len(form["MediaUrl"]) != 2 || form.Get("StatusCallback") != "https://sb.example/st" {
		t.Errorf("message form = %v", form)
	}

	id, err := tw.CreateCall(ctx, provider.Call{From: "+14155550100", To: "+14155550111", StreamURL: "wss://sb.example/stream?x=1&y=2",
		StreamParams: map[string]string{"call": `a"b`}, StatusCallback: "https://sb.example/cs", TimeoutSeconds: 25})
	if err != nil || id != "CA0001" {
		t.Fatalf("call = %q, %v", id, err)
	}
	form = f.rec.Last(t, "POST", "/2010-04-01/Accounts/"+testTwilioSID+"/Calls.json").Form
	wantTwiml := `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://sb.example/stream?x=1&amp;y=2"><Parameter name="call" value="a&#34;b"/></Stream></Connect></Response>`
	if form.Get("Twiml") != wantTwiml || form.Get("Timeout") != "25" || len(form["StatusCallbackEvent"]) != 4 {
		t.Errorf("call form = %v", form)
	}

	if form.Get("MachineDetection") != "" || form.Get("AsyncAmd") != "" {
		t.Errorf("a call without machine detection asked for it: %v", form)
	}

	// Answering machine detection: asynchronous, its result posted back.
	if _, err := tw.CreateCall(ctx, provider.Call{From: "+14155550100", To: "+14155550111", URL: "https://sb.example/twiml",
		MachineDetection: "DetectMessageEnd", AMDCallback: "https://sb.example/twiml/amd"}); err != nil {
		t.Fatal(err)
	}
	form = f.rec.Last(t, "POST", "/2010-04-01/Accounts/"+testTwilioSID+"/Calls.json").Form
	if form.Get("MachineDetection") != "DetectMessageEnd" || form.Get("AsyncAmd") != "true" ||
		form.Get("AsyncAmdStatusCallback") != "https://sb.example/twiml/amd" || form.Get("AsyncAmdStatusCallbackMethod") != "POST" {
		t.Errorf("machine detection form = %v", form)
	}
	_, err = tw.CreateCall(ctx, provider.Call{From: "+14155550100", To: "+14155550111", URL: "https://sb.example/twiml", MachineDetection: "Enable"})
	testkit.WantKind(t, err, provider.ErrBadRequest)

	if err := tw.Transfer(ctx, "CA0001", "sip:agent@pbx.example.com"); err != nil {
		t.Fatal(err)
	}
	form = f.rec.Last(t, "POST", "/2010-04-01/Accounts/"+testTwilioSID+"/Calls/CA0001.json").Form
	if !strings.Contains(form.Get("Twiml"), "<Dial><Sip>sip:agent@pbx.example.com</Sip></Dial>") {
		t.Errorf("transfer twiml = %q", form.Get("Twiml"))
	}
	if err := tw.Hangup(ctx, "CA0001"); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.Last(t, "POST", "/2010-04-01/Accounts/"+testTwilioSID+"/Calls/CA0001.json").Form.Get("Status"); got != "completed" {
		t.Errorf("hangup Status = %q", got)
	}
	testkit.WantKind(t, tw.Transfer(ctx, "CA0001", "12345"), provider.ErrBadRequest)
}

func TestTwilioErrorsThroughTheAPI(t *testing.T) {
	cases := []struct {
		name   string
		method string
		suffix string
		fl     failure
		call   func(tw *Client) error
		kind   error
		status int
		msg    string
	}{
		{"number taken", "POST", "/IncomingPhoneNumbers.json",
			failure{status: 400, body: `{"code":21422,"message":"PhoneNumber is not available","more_info":"https://www.twilio.com/docs/errors/21422","status":400}`},
			func(tw *Client) error {
				_, err := tw.Purchase(context.Background(), provider.PurchaseRequest{PhoneNumber: "+14155550100"})
				return err
			},
			provider.ErrNumberUnavailable, 409, "PhoneNumber is not available"},
		{"rate limited", "POST", "/Messages.json",
			failure{status: 429, body: `{"code":20429,"message":"Too Many Requests","status":429}`},
			func(tw *Client) error {
				_, err := tw.SendMessage(context.Background(), provider.Message{From: "+14155550100", To: "+14155550111", Body: "x"})
				return err
			},
			provider.ErrRateLimited, 429, "Too Many Requests"},
		{"gateway html", "POST", "/Calls.json",
			failure{status: 502, body: "<html>Bad Gateway</html>"},
			func(tw *Client) error {
				_, err := tw.CreateCall(context.Background(), provider.Call{From: "+14155550100", To: "+14155550111", URL: "https://x.example/t"})
				return err
			},
			provider.ErrProviderDown, 502, "Bad Gateway"},
		{"unknown call", "POST", "/Calls/CA404.json",
			failure{status: 404, body: `{"code":20404,"message":"The requested resource /Calls/CA404.json was not found","status":404}`},
			func(tw *Client) error { return tw.Hangup(context.Background(), "CA404") },
			provider.ErrNotFound, 404, "was not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTwilio(t, "")
			tw := newTestTwilio(t, f.srv.URL, testkit.NewFakeClock())
			f.failNext(tc.method, tc.suffix, 3, tc.fl)
			err := tc.call(tw)
			testkit.WantKind(t, err, tc.kind)
			if testkit.HTTPStatus(err) != tc.status || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v (status %d), want status %d mentioning %q", err, testkit.HTTPStatus(err), tc.status, tc.msg)
			}
			// POSTs are never retried.
			if n := len(f.rec.All()); n != 1 {
				t.Errorf("requests sent = %d, want 1", n)
			}
		})
	}

	t.Run("bad credentials", func(t *testing.T) {
		f := newFakeTwilio(t, "")
		tw, err := New(provider.TwilioCreds{AccountSID: testTwilioSID, AuthToken: "wrongtoken"}, testkit.TestConfig(f.srv.URL, testkit.NewFakeClock()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = tw.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "US"})
		testkit.WantKind(t, err, provider.ErrInvalidCredentials)
		if testkit.HTTPStatus(err) != 424 || !strings.Contains(err.Error(), "Authenticate") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestTwilioRetriesOnlyIdempotentRequests(t *testing.T) {
	f := newFakeTwilio(t, "")
	clock := testkit.NewFakeClock()
	tw := newTestTwilio(t, f.srv.URL, clock)
	f.failNext("GET", "/Local.json", 2, failure{status: 503, body: `{"code":0,"message":"Service Unavailable","status":503}`})
	got, err := tw.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "US"})
	if err != nil || len(got) != 2 {
		t.Fatalf("search after two 503 = %v, %v", got, err)
	}
	if n := f.rec.Count("GET", "/2010-04-01/Accounts/"+testTwilioSID+"/AvailablePhoneNumbers/US/Local.json"); n != 3 {
		t.Errorf("GET attempts = %d, want 3", n)
	}
	if s := clock.Sleeps(); len(s) != 2 || s[1] <= s[0] {
		t.Errorf("backoff sleeps = %v, want two growing delays", s)
	}

	f.failNext("POST", "/IncomingPhoneNumbers.json", 3, failure{status: 503, body: `{"code":0,"message":"Service Unavailable","status":503}`})
	_, err = tw.Purchase(context.Background(), provider.PurchaseRequest{PhoneNumber: "+14155550100"})
	testkit.WantKind(t, err, provider.ErrProviderDown)
	if n := f.rec.Count("POST", "/2010-04-01/Accounts/"+testTwilioSID+"/IncomingPhoneNumbers.json"); n != 1 {
		t.Errorf("purchase POST sent %d times, want 1", n)
	}
}

func TestTwilioHonoursCallerContext(t *testing.T) {
	f := newFakeTwilio(t, "")
	tw := newTestTwilio(t, f.srv.URL, testkit.NewFakeClock())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tw.SearchNumbers(ctx, provider.SearchQuery{CountryCode: "US"})
	testkit.WantKind(t, err, context.Canceled)
	if n := len(f.rec.All()); n != 0 {
		t.Errorf("requests sent with a cancelled context = %d", n)
	}
}

func TestTwilioTwimlDialNumber(t *testing.T) {
	got, err := twimlDial("+14155550123")
	if err != nil || !strings.Contains(got, "<Dial><Number>+14155550123</Number></Dial>") {
		t.Fatalf("twimlDial = %q, %v", got, err)
	}
}

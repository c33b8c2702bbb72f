package vonage

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

const (
	testVonageKey    = "abcd1234"
	testVonageSecret = "Secret0123"
	testVonageApp    = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
)

var (
	testRSAOnce sync.Once
	testRSAKey  *rsa.PrivateKey
	testRSAPEM  string
)

func testVonageRSA(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	testRSAOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		testRSAKey = k
		testRSAPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	})
	return testRSAKey, testRSAPEM
}

// checkRS256 verifies a Vonage application JWT the way Vonage does and
// returns its claims.
func checkRS256(token string, pub *rsa.PublicKey) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	var hdr map[string]string
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if json.Unmarshal(h, &hdr) != nil || hdr["alg"] != "RS256" {
		return nil, fmt.Errorf("header %s", h)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return nil, err
	}
	var claims map[string]any
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	return claims, json.Unmarshal(c, &claims)
}

// fakeVonage serves the REST (Numbers, SMS) and API (Messages, Voice) hosts
// on one server, with Vonage's answer and error shapes.
type fakeVonage struct {
	rec testkit.Recorder
	srv *httptest.Server
	pub *rsa.PublicKey
	now func() time.Time

	mu    sync.Mutex
	owned []map[string]any
	taken map[string]bool
	fail  []failure
}

func newFakeVonage(t *testing.T, now func() time.Time) *fakeVonage {
	key, _ := testVonageRSA(t)
	f := &fakeVonage{pub: &key.PublicKey, taken: map[string]bool{}, now: now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /number/search", f.search)
	mux.HandleFunc("POST /number/buy", f.buy)
	mux.HandleFunc("POST /number/update", f.update)
	mux.HandleFunc("POST /number/cancel", f.cancel)
	mux.HandleFunc("GET /account/numbers", f.list)
	mux.HandleFunc("POST /sms/json", f.sms)
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		testkit.WriteJSON(w, 202, `{"message_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}`)
	})
	mux.HandleFunc("POST /v1/calls", func(w http.ResponseWriter, r *http.Request) {
		testkit.WriteJSON(w, 201, `{"uuid":"63f61863-4a51-4f6b-86e1-46edebcf9356","status":"started","direction":"outbound","conversation_uuid":"CON-f972836a"}`)
	})
	mux.HandleFunc("PUT /v1/calls/{uuid}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("PUT /v1/calls/{uuid}/dtmf", func(w http.ResponseWriter, r *http.Request) { // documented answer
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"message":"DTMF sent","uuid":%q}`, r.PathValue("uuid"))
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := f.rec.Record(r)
		r.Body = testkit.NopBody(rec.Body)
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			if !f.jwtOK(r) {
				testkit.WriteJSON(w, 401, `{"type":"https://developer.nexmo.com/api-errors#unauthorized","title":"Unauthorized","detail":"You did not provide correct credentials."}`)
				return
			}
		} else if r.URL.Path == "/sms/json" {
			// sms.yml (Nexmo/api-specification ad042003, 1.0.10): api_key
			// and api_secret are required fields of the request body;
			// status 4 "Bad Credentials" under HTTP 200.
			if rec.Form.Get("api_key") != testVonageKey || rec.Form.Get("api_secret") != testVonageSecret {
				testkit.WriteJSON(w, 200, `{"message-count":"1","messages":[{"status":"4","error-text":"Bad Credentials"}]}`)
				return
			}
		} else {
			// numbers.yml (1.0.20): the apiKey and apiSecret security
			// schemes are "in: query", for the POSTs too; 401 answers the
			// "unauthorized" shape.
			if rec.Query.Get("api_key") != testVonageKey || rec.Query.Get("api_secret") != testVonageSecret {
				testkit.WriteJSON(w, 401, `{"error-code":"401","error-code-label":"authentication failed"}`)
				return
			}
		}
		f.mu.Lock()
		var fl *failure
		if len(f.fail) > 0 {
			fl = &f.fail[0]
			f.fail = f.fail[1:]
		}
		f.mu.Unlock()
		if fl != nil {
			for k, v := range fl.header {
				w.Header().Set(k, v)
			}
			testkit.WriteJSON(w, fl.status, fl.body)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVonage) jwtOK(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	claims, err := checkRS256(tok, f.pub)
	if err != nil || claims["application_id"] != testVonageApp {
		return false
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	now := float64(f.now().Unix())
	return iat <= now && now < exp && claims["jti"] != ""
}

func (f *fakeVonage) failNext(fl ...failure) {
	f.mu.Lock()
	f.fail = append(f.fail, fl...)
	f.mu.Unlock()
}

func (f *fakeVonage) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	nums := []map[string]any{
		{"country": q.Get("country"), "msisdn": "14155550100", "type": "mobile-lvn", "cost": "0.90", "features": []string{"VOICE", "SMS"}},
		{"country": q.Get("country"), "msisdn": "14155550177", "type": "mobile-lvn", "cost": "0.90", "features": []string{"VOICE", "SMS", "MMS"}},
	}
	json.NewEncoder(w).Encode(map[string]any{"count": len(nums), "numbers": nums})
}

func (f *fakeVonage) ok(w http.ResponseWriter) {
	testkit.WriteJSON(w, 200, `{"error-code":"200","error-code-label":"success"}`)
}

func (f *fakeVonage) buy(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	msisdn := r.PostForm.Get("msisdn")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.taken[msisdn] {
		testkit.WriteJSON(w, 420, `{"error-code":"420","error-code-label":"method failed"}`)
		return
	}
	f.taken[msisdn] = true
	f.owned = append(f.owned, map[string]any{"country": r.PostForm.Get("country"), "msisdn": msisdn, "type": "mobile-lvn", "features": []string{"VOICE", "SMS"}})
	f.ok(w)
}

func (f *fakeVonage) find(msisdn string) int {
	for i, n := range f.owned {
		if n["msisdn"] == msisdn {
			return i
		}
	}
	return -1
}

func (f *fakeVonage) update(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(r.PostForm.Get("msisdn"))
	if i < 0 || f.owned[i]["country"] != r.PostForm.Get("country") {
		testkit.WriteJSON(w, 420, `{"error-code":"420","error-code-label":"method failed"}`)
		return
	}
	// numbers.yml "number-details-update" in, "ownednumber" out: moHttpUrl
	// and voiceCallbackType/Value are returned; app_id shows as the "app"
	// voice and messages callbacks; voiceStatusCallback is write-only.
	for _, k := range []string{"moHttpUrl", "voiceCallbackType", "voiceCallbackValue"} {
		if v, ok := r.PostForm[k]; ok {
			f.owned[i][k] = v[0]
		}
	}
	if app := r.PostForm.Get("app_id"); app != "" {
		if _, ok := r.PostForm["voiceCallbackType"]; !ok {
			f.owned[i]["voiceCallbackType"], f.owned[i]["voiceCallbackValue"] = "app", app
		}
		f.owned[i]["messagesCallbackType"], f.owned[i]["messagesCallbackValue"] = "app", app
	}
	f.ok(w)
}

func (f *fakeVonage) cancel(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(r.PostForm.Get("msisdn"))
	if i < 0 || f.owned[i]["country"] != r.PostForm.Get("country") {
		testkit.WriteJSON(w, 420, `{"error-code":"420","error-code-label":"method failed"}`)
		return
	}
	f.owned = append(f.owned[:i], f.owned[i+1:]...)
	f.ok(w)
}

func (f *fakeVonage) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("size"))
	if size <= 0 {
		size = 10
	}
	index, _ := strconv.Atoi(q.Get("index"))
	if index <= 0 {
		index = 1
	}
	f.mu.Lock()
	var match []map[string]any
	for _, n := range f.owned {
		if p := q.Get("pattern"); p != "" && !strings.HasPrefix(n["msisdn"].(string), p) {
			continue
		}
		match = append(match, n)
	}
	f.mu.Unlock()
	lo, hi := min((index-1)*size, len(match)), min(index*size, len(match))
	res := map[string]any{"count": len(match)}
	if hi > lo {
		res["numbers"] = match[lo:hi]
	}
	json.NewEncoder(w).Encode(res)
}

func (f *fakeVonage) sms(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	testkit.WriteJSON(w, 200, fmt.Sprintf(`{"message-count":"1","messages":[{"to":%q,"message-id":"0A0000000123ABCD1","status":"0","remaining-balance":"3.14159265","message-price":"0.03330000","network":"12345"}]}`, r.PostForm.Get("to")))
}

func newTestVonage(t *testing.T, f *fakeVonage, clock provider.Clock, creds provider.VonageCreds) *Client {
	t.Helper()
	v, err := New(creds, testkit.TestConfig(f.srv.URL, clock))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fullVonageCreds(t *testing.T) provider.VonageCreds {
	_, pemKey := testVonageRSA(t)
	return provider.VonageCreds{APIKey: testVonageKey, APISecret: testVonageSecret, ApplicationID: testVonageApp, PrivateKey: pemKey}
}

func TestVonageSearchNumbers(t *testing.T) {
	clock := testkit.NewFakeClock()
	f := newFakeVonage(t, clock.Now)
	v := newTestVonage(t, f, clock, fullVonageCreds(t))
	cases := []struct {
		q                    provider.SearchQuery
		pattern, searchPat   string
		wantNumbers, wantLen int
	}{
		{provider.SearchQuery{CountryCode: "US", AreaCode: "415", Limit: 5}, "1415", "0", 2, 5},
		{provider.SearchQuery{CountryCode: "GB", AreaCode: "20"}, "20", "1", 2, 20},
		{provider.SearchQuery{CountryCode: "US", Contains: "0177"}, "0177", "1", 2, 20},
		{provider.SearchQuery{CountryCode: "US", AreaCode: "415", Contains: "0177"}, "1415", "0", 1, 20},
	}
	for _, tc := range cases {
		got, err := v.SearchNumbers(context.Background(), tc.q)
		if err != nil {
			t.Fatal(err)
		}
		q := f.rec.Last(t, "GET", "/number/search").Query
		if q.Get("country") != tc.q.CountryCode || q.Get("pattern") != tc.pattern || q.Get("search_pattern") != tc.searchPat || q.Get("size") != strconv.Itoa(tc.wantLen) {
			t.Errorf("%+v: query = %v", tc.q, q)
		}
		if len(got) != tc.wantNumbers {
			t.Errorf("%+v: got %d numbers, want %d", tc.q, len(got), tc.wantNumbers)
		}
	}
	got, _ := v.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "US"})
	want := provider.AvailableNumber{PhoneNumber: "+14155550177", CountryCode: "US", Capabilities: provider.Capabilities{Voice: true, SMS: true, MMS: true}, MonthlyCost: "0.90"}
	if got[1] != want {
		t.Errorf("got %+v, want %+v", got[1], want)
	}
}

func TestVonagePurchaseSendsWebhooks(t *testing.T) {
	cases := []struct {
		name string
		req  provider.PurchaseRequest
		want url.Values
	}{
		{"sip voice target", provider.PurchaseRequest{PhoneNumber: "+14155550100", CountryCode: "US",
			VoiceURL: "sip:+14155550100@sip.sb.example.com", SMSURL: "https://sb.example.com/webhooks/vonage/sms", StatusCallbackURL: "https://sb.example.com/webhooks/vonage/status"},
			url.Values{"voiceCallbackType": {"sip"}, "voiceCallbackValue": {"sip:+14155550100@sip.sb.example.com"},
				"moHttpUrl": {"https://sb.example.com/webhooks/vonage/sms"}, "voiceStatusCallback": {"https://sb.example.com/webhooks/vonage/status"}}},
		{"http voice URL goes through the application", provider.PurchaseRequest{PhoneNumber: "+14155550100", CountryCode: "us",
			VoiceURL: "https://sb.example.com/webhooks/vonage/answer", SMSURL: "https://sb.example.com/webhooks/vonage/sms"},
			url.Values{"app_id": {testVonageApp}, "moHttpUrl": {"https://sb.example.com/webhooks/vonage/sms"}}},
		{"tel forward", provider.PurchaseRequest{PhoneNumber: "+14155550100", CountryCode: "US", VoiceURL: "tel:+14155550999"},
			url.Values{"voiceCallbackType": {"tel"}, "voiceCallbackValue": {"14155550999"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := testkit.NewFakeClock()
			f := newFakeVonage(t, clock.Now)
			v := newTestVonage(t, f, clock, fullVonageCreds(t))
			got, err := v.Purchase(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			buy := f.rec.Last(t, "POST", "/number/buy").Form
			if buy.Get("country") != "US" || buy.Get("msisdn") != "14155550100" {
				t.Errorf("buy form = %v", buy)
			}
			upd := f.rec.Last(t, "POST", "/number/update").Form
			for k := range upd {
				if k == "country" || k == "msisdn" {
					continue
				}
				if _, ok := tc.want[k]; !ok {
					t.Errorf("update sent unexpected %s=%q", k, upd.Get(k))
				}
			}
			for k, vs := range tc.want {
				if upd.Get(k) != vs[0] {
					t.Errorf("update %s = %q, want %q", k, upd.Get(k), vs[0])
				}
			}
			if got.ProviderID != "+14155550100" || got.Details["webhooks_configured"] != true || got.Details["status"] != "success" {
				t.Errorf("purchased = %+v", got)
			}
			for _, path := range []string{"/number/buy", "/number/update"} {
				r := f.rec.Last(t, "POST", path)
				if r.Query.Get("api_key") != testVonageKey || r.Query.Get("api_secret") != testVonageSecret || r.Form.Has("api_secret") {
					t.Errorf("%s: credentials belong in the query (numbers.yml), got query %v form %v", path, r.Query, r.Form)
				}
			}
		})
	}
}

func TestVonageNumberLifecycle(t *testing.T) {
	clock := testkit.NewFakeClock()
	f := newFakeVonage(t, clock.Now)
	v := newTestVonage(t, f, clock, fullVonageCreds(t))
	ctx := context.Background()
	for _, n := range []string{"+14155550100", "+447700900000"} {
		cc := map[bool]string{true: "US", false: "GB"}[strings.HasPrefix(n, "+1")]
		if _, err := v.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: n, CountryCode: cc}); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.ConfigureWebhooks(ctx, "+447700900000", provider.Webhooks{SMSURL: "https://sb.example/sms", VoiceURL: "sip:gb@sb.example"}); err != nil {
		t.Fatal(err)
	}
	if upd := f.rec.Last(t, "POST", "/number/update").Form; upd.Get("country") != "GB" {
		t.Errorf("update country = %q (looked up from account/numbers), want GB", upd.Get("country"))
	}
	w, err := v.GetWebhooks(ctx, "447700900000")
	if err != nil {
		t.Fatal(err)
	}
	if w.SMSURL != "https://sb.example/sms" || w.VoiceURL != "sip:gb@sb.example" {
		t.Errorf("webhooks = %+v", w)
	}
	owned, err := v.ListOwned(ctx)
	if err != nil || len(owned) != 2 || owned[1].PhoneNumber != "+447700900000" || owned[1].CountryCode != "GB" || !owned[1].Capabilities.SMS {
		t.Fatalf("owned = %+v, %v", owned, err)
	}
	if err := v.Release(ctx, "+447700900000"); err != nil {
		t.Fatal(err)
	}
	if c := f.rec.Last(t, "POST", "/number/cancel").Form; c.Get("country") != "GB" || c.Get("msisdn") != "447700900000" {
		t.Errorf("cancel form = %v", c)
	}
	testkit.WantKind(t, v.Release(ctx, "+447700900000"), provider.ErrNotFound)

	_, err = v.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+14155550100", CountryCode: "US"})
	testkit.WantKind(t, err, provider.ErrNumberUnavailable)
	if testkit.HTTPStatus(err) != 409 || !strings.Contains(err.Error(), "method failed") {
		t.Errorf("err = %v", err)
	}
	_, err = v.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+14155550101"})
	testkit.WantKind(t, err, provider.ErrBadRequest) // no country
}

func TestVonageListOwnedPaginates(t *testing.T) {
	clock := testkit.NewFakeClock()
	f := newFakeVonage(t, clock.Now)
	v := newTestVonage(t, f, clock, fullVonageCreds(t))
	f.mu.Lock()
	for i := range 250 {
		f.owned = append(f.owned, map[string]any{"country": "US", "msisdn": fmt.Sprintf("1415556%04d", i)})
	}
	f.mu.Unlock()
	owned, err := v.ListOwned(context.Background())
	if err != nil || len(owned) != 250 || owned[249].PhoneNumber != "+14155560249" {
		t.Fatalf("owned %d, %v", len(owned), err)
	}
	if n := f.rec.Count("GET", "/account/numbers"); n != 3 {
		t.Errorf("pages = %d, want 3", n)
	}
}

func TestVonageMessages(t *testing.T) {
	clock := testkit.NewFakeClock()
	f := newFakeVonage(t, clock.Now)
	v := newTestVonage(t, f, clock, fullVonageCreds(t))
	ctx := context.Background()

	sent, err := v.SendMessage(ctx, provider.Message{From: "+14155550100", To: "+447700900001", Body: "héllo", StatusCallback: "https://sb.example/dlr"})
	if err != nil || sent.ProviderMessageID != "0A0000000123ABCD1" {
		t.Fatalf("sms = %+v, %v", sent, err)
	}
	form := f.rec.Last(t, "POST", "/sms/json").Form
	for k, want := range map[string]string{"from": "14155550100", "to": "447700900001", "text": "héllo", "type": "unicode", "callback": "https://sb.example/dlr"} {
		if form.Get(k) != want {
			t.Errorf("sms form %s = %q, want %q", k, form.Get(k), want)
		}
	}

	sent, err = v.SendMessage(ctx, provider.Message{From: "+14155550100", To: "+14155550111", Body: "look", MediaURLs: []string{"https://m.example/a.jpg"}, StatusCallback: "https://sb.example/st"})
	if err != nil || sent.ProviderMessageID != testVonageApp {
		t.Fatalf("mms = %+v, %v", sent, err)
	}
	var body map[string]any
	json.Unmarshal(f.rec.Last(t, "POST", "/v1/messages").Body, &body)
	img, _ := body["image"].(map[string]any)
	if body["channel"] != "mms" || body["message_type"] != "image" || body["to"] != "14155550111" || img["url"] != "https://m.example/a.jpg" || img["caption"] != "look" || body["webhook_url"] != "https://sb.example/st" {
		t.Errorf("messages body = %v", body)
	}
	_, err = v.SendMessage(ctx, provider.Message{From: "+14155550100", To: "+14155550111", MediaURLs: []string{"https://a", "https://b"}})
	testkit.WantKind(t, err, provider.ErrBadRequest)

	// Without an application the Messages API is called with Basic auth;
	// the fake only accepts a JWT, so the answer is its 401 problem.
	v2 := newTestVonage(t, f, clock, provider.VonageCreds{APIKey: testVonageKey, APISecret: testVonageSecret})
	_, err = v2.SendMessage(ctx, provider.Message{From: "+14155550100", To: "+14155550111", MediaURLs: []string{"https://a"}})
	testkit.WantKind(t, err, provider.ErrInvalidCredentials)
	if got := f.rec.Last(t, "POST", "/v1/messages").Header.Get("Authorization"); !strings.HasPrefix(got, "Basic ") {
		t.Errorf("Authorization = %q, want Basic", got)
	}
}

func TestVonageSMSStatusErrors(t *testing.T) {
	cases := []struct {
		status string
		text   string
		kind   error
		http   int
	}{
		{"1", "Throttled", provider.ErrRateLimited, 429},
		{"2", "Missing to param", provider.ErrBadRequest, 400},
		{"4", "Bad Credentials", provider.ErrInvalidCredentials, 424},
		{"5", "Internal Error", provider.ErrProviderDown, 502},
		{"9", "Quota Exceeded - rejected", provider.ErrInsufficientBalance, 402},
		{"15", "Illegal Sender Address - rejected", provider.ErrBadRequest, 400},
	}
	for _, tc := range cases {
		t.Run(tc.status, func(t *testing.T) {
			clock := testkit.NewFakeClock()
			f := newFakeVonage(t, clock.Now)
			v := newTestVonage(t, f, clock, fullVonageCreds(t))
			f.failNext(failure{status: 200, body: fmt.Sprintf(`{"message-count":"1","messages":[{"status":%q,"error-text":%q}]}`, tc.status, tc.text)})
			_, err := v.SendMessage(context.Background(), provider.Message{From: "+14155550100", To: "+14155550111", Body: "x"})
			testkit.WantKind(t, err, tc.kind)
			if testkit.HTTPStatus(err) != tc.http || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v (%d)", err, testkit.HTTPStatus(err))
			}
			if n := f.rec.Count("POST", "/sms/json"); n != 1 {
				t.Errorf("sms sent %d times", n)
			}
		})
	}
}

func TestVonageCalls(t *testing.T) {
	clock := testkit.NewFakeClock()
	f := newFakeVonage(t, clock.Now)
	v := newTestVonage(t, f, clock, fullVonageCreds(t))
	ctx := context.Background()
	id, err := v.CreateCall(ctx, provider.Call{From: "+14155550100", To: "+14155550111", StreamURL: "wss://sb.example/media", StreamParams: map[string]string{"call_id": "42"}, StatusCallback: "https://sb.example/ev", TimeoutSeconds: 30})
	if err != nil || id != "63f61863-4a51-4f6b-86e1-46edebcf9356" {
		t.Fatalf("call = %q, %v", id, err)
	}
	var body map[string]any
	json.Unmarshal(f.rec.Last(t, "POST", "/v1/calls").Body, &body)
	ncco := body["ncco"].([]any)[0].(map[string]any)
	ep := ncco["endpoint"].([]any)[0].(map[string]any)
	if ncco["action"] != "connect" || ep["type"] != "websocket" || ep["uri"] != "wss://sb.example/media" || ep["content-type"] != "audio/l16;rate=16000" ||
		ep["headers"].(map[string]any)["call_id"] != "42" || body["event_url"].([]any)[0] != "https://sb.example/ev" ||
		body["to"].([]any)[0].(map[string]any)["number"] != "14155550111" || body["ringing_timer"] != float64(30) {
		t.Errorf("call body = %v", body)
	}

	if err := v.Transfer(ctx, id, "sip:agent@pbx.example"); err != nil {
		t.Fatal(err)
	}
	body = nil
	json.Unmarshal(f.rec.Last(t, "PUT", "/v1/calls/"+id).Body, &body)
	dst := body["destination"].(map[string]any)
	tep := dst["ncco"].([]any)[0].(map[string]any)["endpoint"].([]any)[0].(map[string]any)
	if body["action"] != "transfer" || dst["type"] != "ncco" || tep["type"] != "sip" || tep["uri"] != "sip:agent@pbx.example" {
		t.Errorf("transfer body = %v", body)
	}

	if err := v.SendDTMF(ctx, id, "12#"); err != nil {
		t.Fatal(err)
	}
	if got := string(f.rec.Last(t, "PUT", "/v1/calls/"+id+"/dtmf").Body); got != `{"digits":"12#"}` {
		t.Errorf("dtmf body = %s", got)
	}
	testkit.WantKind(t, v.SendDTMF(ctx, id, "1A"), provider.ErrBadRequest)
	if n := f.rec.Count("PUT", "/v1/calls/"+id+"/dtmf"); n != 1 {
		t.Errorf("dtmf PUT %d times, want once (Vonage has no A)", n)
	}

	// Hangup is a PUT: retried after a 503.
	f.failNext(failure{status: 503, body: `{"type":"https://developer.nexmo.com/api-errors#internal-error","title":"Internal Error"}`})
	if err := v.Hangup(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := string(f.rec.Last(t, "PUT", "/v1/calls/"+id).Body); got != `{"action":"hangup"}` {
		t.Errorf("hangup body = %s", got)
	}
	if n := f.rec.Count("PUT", "/v1/calls/"+id); n != 3 { // transfer + 2 hangup attempts
		t.Errorf("PUT count = %d, want 3", n)
	}

	// CreateCall is a POST: not retried.
	f.failNext(failure{status: 503, body: `{"title":"Service Unavailable"}`})
	before := f.rec.Count("POST", "/v1/calls")
	_, err = v.CreateCall(ctx, provider.Call{From: "+14155550100", To: "+14155550111", URL: "https://sb.example/answer"})
	testkit.WantKind(t, err, provider.ErrProviderDown)
	if n := f.rec.Count("POST", "/v1/calls") - before; n != 1 {
		t.Errorf("create call sent %d times", n)
	}

	// A wrong private key is refused by Vonage.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	der := x509.MarshalPKCS1PrivateKey(other)
	pk := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))
	bad := newTestVonage(t, f, clock, provider.VonageCreds{ApplicationID: testVonageApp, PrivateKey: strings.ReplaceAll(pk, "\n", `\n`)})
	err = bad.Hangup(ctx, id)
	testkit.WantKind(t, err, provider.ErrInvalidCredentials)
	if !strings.Contains(err.Error(), "correct credentials") {
		t.Errorf("err = %v", err)
	}
	// Voice without an application cannot sign.
	noApp := newTestVonage(t, f, clock, provider.VonageCreds{APIKey: testVonageKey, APISecret: testVonageSecret})
	testkit.WantKind(t, noApp.Hangup(ctx, id), provider.ErrInvalidCredentials)
}

func TestVonageProblemErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		kind   error
	}{
		{"low balance", 403, `{"type":"https://developer.vonage.com/api-errors#low-balance","title":"Low balance","detail":"This request could not be performed due to your account balance being low."}`, provider.ErrInsufficientBalance},
		{"throttled", 429, `{"type":"https://developer.vonage.com/api-errors#throttled","title":"Rate Limit Hit"}`, provider.ErrRateLimited},
		{"invalid params", 422, `{"type":"https://developer.vonage.com/api-errors/messages#1150","title":"Invalid params","detail":"The value of one or more parameters is invalid."}`, provider.ErrBadRequest},
		{"not found", 404, `{"type":"https://developer.vonage.com/api-errors#not-found","title":"Not Found"}`, provider.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := testkit.NewFakeClock()
			f := newFakeVonage(t, clock.Now)
			v := newTestVonage(t, f, clock, fullVonageCreds(t))
			f.failNext(failure{status: tc.status, body: tc.body})
			_, err := v.CreateCall(context.Background(), provider.Call{From: "+14155550100", To: "+14155550111", URL: "https://sb.example/a"})
			testkit.WantKind(t, err, tc.kind)
		})
	}
}

func TestVonageCredentialsAndSecrets(t *testing.T) {
	clock := testkit.NewFakeClock()
	f := newFakeVonage(t, clock.Now)
	v := newTestVonage(t, f, clock, provider.VonageCreds{APIKey: testVonageKey, APISecret: "wrong"})
	_, err := v.ListOwned(context.Background())
	testkit.WantKind(t, err, provider.ErrInvalidCredentials)
	if !strings.Contains(err.Error(), "authentication failed") || testkit.HTTPStatus(err) != 424 {
		t.Errorf("err = %v", err)
	}
	_, err = New(provider.VonageCreds{ApplicationID: testVonageApp, PrivateKey: "not a key"}, provider.Config{})
	testkit.WantKind(t, err, provider.ErrInvalidCredentials)
	_, err = New(provider.VonageCreds{}, provider.Config{})
	testkit.WantKind(t, err, provider.ErrInvalidCredentials)

	// A transport failure on a GET (credentials in the query) must not
	// leak the secret into the error.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close()
	}))
	defer srv.Close()
	v = newTestVonage(t, &fakeVonage{srv: srv}, clock, provider.VonageCreds{APIKey: testVonageKey, APISecret: testVonageSecret})
	_, err = v.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "US"})
	testkit.WantKind(t, err, provider.ErrProviderDown)
	if strings.Contains(err.Error(), testVonageSecret) || strings.Contains(err.Error(), "api_secret") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

// failure is one error answer of the fake.
type failure struct {
	status int
	body   string
	header map[string]string
}

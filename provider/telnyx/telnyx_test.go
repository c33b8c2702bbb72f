package telnyx

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

const testTelnyxKey = "KEY0123456789ABCDEF"

// fakeTelnyx implements the API v2 endpoints the client uses, with Telnyx's
// {"data":...} answers and {"errors":[{code,title,detail}]} failures.
type fakeTelnyx struct {
	rec testkit.Recorder
	srv *httptest.Server

	mu      sync.Mutex
	numbers []map[string]any
	fail    []failure // answered, in order, before the normal handler
	delay   time.Duration
}

func newFakeTelnyx(t *testing.T) *fakeTelnyx {
	f := &fakeTelnyx{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/available_phone_numbers", f.available)
	mux.HandleFunc("POST /v2/number_orders", f.order)
	mux.HandleFunc("GET /v2/phone_numbers", f.list)
	mux.HandleFunc("GET /v2/phone_numbers/{id}", f.get)
	mux.HandleFunc("PATCH /v2/phone_numbers/{id}", f.patch)
	mux.HandleFunc("PATCH /v2/phone_numbers/{id}/messaging", f.patch)
	mux.HandleFunc("DELETE /v2/phone_numbers/{id}", f.delete)
	mux.HandleFunc("POST /v2/messages", func(w http.ResponseWriter, r *http.Request) {
		testkit.WriteJSON(w, 200, `{"data":{"id":"40385f64-5717-4562-b3fc-2c963f66afa6","record_type":"message","to":[{"phone_number":"+14155550111","status":"queued"}]}}`)
	})
	mux.HandleFunc("POST /v2/calls", func(w http.ResponseWriter, r *http.Request) {
		testkit.WriteJSON(w, 200, `{"data":{"call_control_id":"v3:abc","call_leg_id":"leg","call_session_id":"sess","is_alive":false,"record_type":"call"}}`)
	})
	mux.HandleFunc("POST /v2/calls/{id}/actions/{action}", func(w http.ResponseWriter, r *http.Request) {
		testkit.WriteJSON(w, 200, `{"data":{"result":"ok"}}`)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := f.rec.Record(r)
		r.Body = testkit.NopBody(rec.Body)
		if r.Header.Get("Authorization") != "Bearer "+testTelnyxKey {
			testkit.WriteJSON(w, 401, `{"errors":[{"code":"10009","title":"Authentication failed","detail":"The API key looks malformed. Check that you copied it correctly."}]}`)
			return
		}
		f.mu.Lock()
		delay := f.delay
		var fl *failure
		if len(f.fail) > 0 {
			fl = &f.fail[0]
			f.fail = f.fail[1:]
		}
		f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
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

func (f *fakeTelnyx) failNext(fl ...failure) {
	f.mu.Lock()
	f.fail = append(f.fail, fl...)
	f.mu.Unlock()
}

func (f *fakeTelnyx) available(w http.ResponseWriter, r *http.Request) {
	testkit.WriteJSON(w, 200, `{"data":[
	 {"record_type":"available_phone_number","phone_number":"+13125550100","vanity_format":"",
	  "cost_information":{"currency":"USD","monthly_cost":"1.00000","upfront_cost":"1.00000"},
	  "features":[{"name":"voice"},{"name":"sms"},{"name":"fax"}],
	  "region_information":[{"region_type":"country_code","region_name":"US"},{"region_type":"state","region_name":"IL"},{"region_type":"rate_center","region_name":"CHICAGO ZONE 02"}]},
	 {"record_type":"available_phone_number","phone_number":"+13125550101",
	  "cost_information":{"currency":"USD","monthly_cost":"1.00000"},
	  "features":[{"name":"voice"},{"name":"mms"}],
	  "region_information":[{"region_type":"location","region_name":"Chicago"}]}
	],"metadata":{"total_results":2}}`)
}

func (f *fakeTelnyx) order(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PhoneNumbers []struct {
			PhoneNumber string `json:"phone_number"`
		} `json:"phone_numbers"`
		ConnectionID       string `json:"connection_id"`
		MessagingProfileID string `json:"messaging_profile_id"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	var nums []map[string]any
	for _, p := range req.PhoneNumbers {
		id := strconv.Itoa(1293384261075731400 + len(f.numbers))
		f.numbers = append(f.numbers, map[string]any{"id": id, "record_type": "phone_number", "phone_number": p.PhoneNumber,
			"status": "active", "connection_id": req.ConnectionID, "messaging_profile_id": req.MessagingProfileID, "country_iso_alpha2": "US"})
		nums = append(nums, map[string]any{"id": "onp-" + id, "phone_number": p.PhoneNumber, "status": "pending"})
	}
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"id": "order-1", "status": "pending", "phone_numbers": nums,
		"connection_id": req.ConnectionID, "messaging_profile_id": req.MessagingProfileID}})
}

func (f *fakeTelnyx) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("page[size]"))
	if size <= 0 {
		size = 20
	}
	page, _ := strconv.Atoi(q.Get("page[number]"))
	if page <= 0 {
		page = 1
	}
	f.mu.Lock()
	var match []map[string]any
	for _, n := range f.numbers {
		if pn, ok := q["filter[phone_number]"]; ok && !telnyxPhoneFilterMatches(pn[0], n["phone_number"].(string)) {
			continue
		}
		match = append(match, n)
	}
	f.mu.Unlock()
	lo, hi := min((page-1)*size, len(match)), min(page*size, len(match))
	total := (len(match) + size - 1) / size
	json.NewEncoder(w).Encode(map[string]any{"data": match[lo:hi], "meta": map[string]any{"page_number": page, "page_size": size, "total_pages": total, "total_results": len(match)}})
}

// telnyxPhoneFilterMatches is spec3.yml's filter[phone_number] of GET
// /phone_numbers: "Requires at least three digits. Non-numerical characters
// will result in no values being returned." The fake matches the digits
// anywhere in the number (the spec promises no exact match), so a '+' or a
// short filter finds nothing.
func telnyxPhoneFilterMatches(filter, number string) bool {
	if len(filter) < 3 || strings.Trim(filter, "0123456789") != "" {
		return false
	}
	return strings.Contains(strings.TrimPrefix(number, "+"), filter)
}

func (f *fakeTelnyx) idx(id string) int {
	for i, n := range f.numbers {
		if n["id"] == id {
			return i
		}
	}
	return -1
}

func (f *fakeTelnyx) notFound(w http.ResponseWriter) {
	testkit.WriteJSON(w, 404, `{"errors":[{"code":"10005","title":"Resource not found","detail":"The requested resource or URL could not be found."}]}`)
}

func (f *fakeTelnyx) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.idx(r.PathValue("id"))
	if i < 0 {
		f.notFound(w)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"data": f.numbers[i]})
}

func (f *fakeTelnyx) patch(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.idx(r.PathValue("id"))
	if i < 0 {
		f.notFound(w)
		return
	}
	for k, v := range body {
		f.numbers[i][k] = v
	}
	json.NewEncoder(w).Encode(map[string]any{"data": f.numbers[i]})
}

func (f *fakeTelnyx) delete(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.idx(r.PathValue("id"))
	if i < 0 {
		f.notFound(w)
		return
	}
	n := f.numbers[i]
	f.numbers = append(f.numbers[:i], f.numbers[i+1:]...)
	json.NewEncoder(w).Encode(map[string]any{"data": n})
}

func newTestTelnyx(t *testing.T, f *fakeTelnyx, clock provider.Clock) *Client {
	t.Helper()
	tx, err := New(provider.TelnyxCreds{APIKey: testTelnyxKey, ConnectionID: "conn-default", MessagingProfileID: "mp-default"},
		testkit.TestConfig(f.srv.URL+"/v2", clock))
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestTelnyxSearchNumbers(t *testing.T) {
	f := newFakeTelnyx(t)
	tx := newTestTelnyx(t, f, testkit.NewFakeClock())
	got, err := tx.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "US", AreaCode: "312", Contains: "555", Locality: "Chicago", Region: "IL", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	q := f.rec.Last(t, "GET", "/v2/available_phone_numbers").Query
	for k, want := range map[string]string{"filter[country_code]": "US", "filter[national_destination_code]": "312",
		"filter[phone_number][contains]": "555", "filter[locality]": "Chicago", "filter[administrative_area]": "IL", "filter[limit]": "10"} {
		if q.Get(k) != want {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), want)
		}
	}
	want0 := provider.AvailableNumber{PhoneNumber: "+13125550100", Locality: "CHICAGO ZONE 02", Region: "IL", CountryCode: "US",
		Capabilities: provider.Capabilities{Voice: true, SMS: true}, MonthlyCost: "1.00000", Currency: "USD"}
	if len(got) != 2 || got[0] != want0 {
		t.Fatalf("got %+v, want first %+v", got, want0)
	}
	if got[1].Locality != "Chicago" || !got[1].Capabilities.MMS || got[1].Capabilities.SMS {
		t.Errorf("second = %+v", got[1])
	}
}

func TestTelnyxPurchaseSendsConnectionAndProfile(t *testing.T) {
	cases := []struct {
		name              string
		req               provider.PurchaseRequest
		wantConn, wantMsg string
	}{
		{"request ids", provider.PurchaseRequest{PhoneNumber: "+13125550100", ConnectionID: "conn-1", MessagingProfileID: "mp-1", FriendlyName: "org-7"}, "conn-1", "mp-1"},
		{"credential defaults", provider.PurchaseRequest{PhoneNumber: "+13125550100"}, "conn-default", "mp-default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTelnyx(t)
			tx := newTestTelnyx(t, f, testkit.NewFakeClock())
			got, err := tx.Purchase(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			json.Unmarshal(f.rec.Last(t, "POST", "/v2/number_orders").Body, &body)
			if body["connection_id"] != tc.wantConn || body["messaging_profile_id"] != tc.wantMsg {
				t.Errorf("order body = %v", body)
			}
			pns, _ := body["phone_numbers"].([]any)
			if len(pns) != 1 || pns[0].(map[string]any)["phone_number"] != "+13125550100" {
				t.Errorf("phone_numbers = %v", body["phone_numbers"])
			}
			if tc.req.FriendlyName != "" && body["customer_reference"] != tc.req.FriendlyName {
				t.Errorf("customer_reference = %v", body["customer_reference"])
			}
			if got.ProviderID != "+13125550100" || got.Details["order_id"] != "order-1" || got.Details["order_status"] != "pending" {
				t.Errorf("purchased = %+v", got)
			}
		})
	}
}

func TestTelnyxNumberLifecycle(t *testing.T) {
	f := newFakeTelnyx(t)
	tx := newTestTelnyx(t, f, testkit.NewFakeClock())
	ctx := context.Background()
	for i := range 3 {
		if _, err := tx.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: fmt.Sprintf("+1312555010%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.ConfigureWebhooks(ctx, "+13125550101", provider.Webhooks{ConnectionID: "conn-2", MessagingProfileID: "mp-2", VoiceURL: "ignored"}); err != nil {
		t.Fatal(err)
	}
	id := f.rec.Last(t, "GET", "/v2/phone_numbers").Query.Get("filter[phone_number]")
	if id != "13125550101" {
		t.Errorf("lookup filter = %q, want the digits only", id)
	}
	w, err := tx.GetWebhooks(ctx, "+13125550101")
	if err != nil {
		t.Fatal(err)
	}
	if w != (provider.Webhooks{ConnectionID: "conn-2", MessagingProfileID: "mp-2"}) {
		t.Errorf("webhooks = %+v", w)
	}
	if n := len(f.rec.All()); n == 0 {
		t.Fatal("no requests")
	}
	var sawMessaging bool
	for _, r := range f.rec.All() {
		if r.Method == "PATCH" && strings.HasSuffix(r.Path, "/messaging") && strings.Contains(string(r.Body), `"messaging_profile_id":"mp-2"`) {
			sawMessaging = true
		}
	}
	if !sawMessaging {
		t.Error("no PATCH phone_numbers/{id}/messaging with the profile")
	}

	owned, err := tx.ListOwned(ctx)
	if err != nil || len(owned) != 3 {
		t.Fatalf("owned = %+v, %v", owned, err)
	}
	if err := tx.Release(ctx, "+13125550101"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Release(ctx, owned[0].ProviderID); err != nil { // by id
		t.Fatal(err)
	}
	owned, err = tx.ListOwned(ctx)
	if err != nil || len(owned) != 1 || owned[0].PhoneNumber != "+13125550102" {
		t.Fatalf("after release owned = %+v, %v", owned, err)
	}
	testkit.WantKind(t, tx.Release(ctx, "+13125550101"), provider.ErrNotFound)
	testkit.WantKind(t, tx.Release(ctx, "999"), provider.ErrNotFound)
}

func TestTelnyxListOwnedPaginates(t *testing.T) {
	f := newFakeTelnyx(t)
	tx := newTestTelnyx(t, f, testkit.NewFakeClock())
	f.mu.Lock()
	for i := range 600 {
		f.numbers = append(f.numbers, map[string]any{"id": strconv.Itoa(i), "phone_number": fmt.Sprintf("+1312556%04d", i)})
	}
	f.mu.Unlock()
	owned, err := tx.ListOwned(context.Background())
	if err != nil || len(owned) != 600 || owned[599].PhoneNumber != "+13125560599" {
		t.Fatalf("owned %d, %v", len(owned), err)
	}
	if n := f.rec.Count("GET", "/v2/phone_numbers"); n != 3 {
		t.Errorf("pages fetched = %d, want 3", n)
	}
}

func TestTelnyxMessagesAndCalls(t *testing.T) {
	f := newFakeTelnyx(t)
	tx := newTestTelnyx(t, f, testkit.NewFakeClock())
	ctx := context.Background()
	sent, err := tx.SendMessage(ctx, provider.Message{From: "+13125550100", To: "+14155550111", Body: "hello", MediaURLs: []string{"https://m.example/a.jpg"}, StatusCallback: "https://sb.example/st"})
	if err != nil || sent.ProviderMessageID != "40385f64-5717-4562-b3fc-2c963f66afa6" || sent.Status != "queued" {
		t.Fatalf("sent = %+v, %v", sent, err)
	}
	var body map[string]any
	json.Unmarshal(f.rec.Last(t, "POST", "/v2/messages").Body, &body)
	if body["from"] != "+13125550100" || body["text"] != "hello" || body["webhook_url"] != "https://sb.example/st" || len(body["media_urls"].([]any)) != 1 {
		t.Errorf("message body = %v", body)
	}

	id, err := tx.CreateCall(ctx, provider.Call{From: "+13125550100", To: "+14155550111", StreamURL: "wss://sb.example/s", StreamParams: map[string]string{"org": "7"}, StatusCallback: "https://sb.example/ev"})
	if err != nil || id != "v3:abc" {
		t.Fatalf("call = %q, %v", id, err)
	}
	body = nil
	json.Unmarshal(f.rec.Last(t, "POST", "/v2/calls").Body, &body)
	state, _ := base64.StdEncoding.DecodeString(body["client_state"].(string))
	if body["connection_id"] != "conn-default" || body["stream_url"] != "wss://sb.example/s" || body["webhook_url"] != "https://sb.example/ev" || string(state) != `{"org":"7"}` {
		t.Errorf("dial body = %v (client_state %s)", body, state)
	}
	if err := tx.Transfer(ctx, "v3:abc", "+14155550122"); err != nil {
		t.Fatal(err)
	}
	if got := string(f.rec.Last(t, "POST", "/v2/calls/v3:abc/actions/transfer").Body); got != `{"to":"+14155550122"}` {
		t.Errorf("transfer body = %s", got)
	}
	if err := tx.SendDTMF(ctx, "v3:abc", "12#A"); err != nil {
		t.Fatal(err)
	}
	if got := string(f.rec.Last(t, "POST", "/v2/calls/v3:abc/actions/send_dtmf").Body); got != `{"digits":"12#A"}` {
		t.Errorf("send_dtmf body = %s", got)
	}
	testkit.WantKind(t, tx.SendDTMF(ctx, "v3:abc", "1x"), provider.ErrBadRequest)
	if n := f.rec.Count("POST", "/v2/calls/v3:abc/actions/send_dtmf"); n != 1 {
		t.Errorf("send_dtmf sent %d times, want once (bad digits are not sent)", n)
	}
	if err := tx.Hangup(ctx, "v3:abc"); err != nil {
		t.Fatal(err)
	}
	f.rec.Last(t, "POST", "/v2/calls/v3:abc/actions/hangup")
}

func TestTelnyxErrorsThroughTheAPI(t *testing.T) {
	purchase := func(tx *Client) error {
		_, err := tx.Purchase(context.Background(), provider.PurchaseRequest{PhoneNumber: "+13125550100"})
		return err
	}
	cases := []struct {
		name   string
		fl     failure
		kind   error
		status int
		msg    string
	}{
		{"unavailable", failure{status: 422, body: `{"errors":[{"code":"10015","title":"Bad Request","detail":"Number +13125550100 is not available for ordering"}]}`}, provider.ErrNumberUnavailable, 409, "not available"},
		{"payment", failure{status: 402, body: `{"errors":[{"code":"10038","title":"Payment required","detail":"Your account balance is too low"}]}`}, provider.ErrInsufficientBalance, 402, "balance is too low"},
		{"forbidden", failure{status: 403, body: `{"errors":[{"code":"10010","title":"Authorization failed","detail":"You do not have permission"}]}`}, provider.ErrInvalidCredentials, 424, "Authorization failed"},
		{"throttled", failure{status: 429, body: `{"errors":[{"code":"10011","title":"Too many requests"}]}`}, provider.ErrRateLimited, 429, "Too many requests"},
		{"invalid", failure{status: 422, body: `{"errors":[{"code":"10016","title":"Phone number must be in +E.164 format"}]}`}, provider.ErrBadRequest, 400, "E.164"},
		{"down", failure{status: 500, body: `{"errors":[{"code":"10007","title":"Unexpected error"}]}`}, provider.ErrProviderDown, 502, "Unexpected error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTelnyx(t)
			tx := newTestTelnyx(t, f, testkit.NewFakeClock())
			f.failNext(tc.fl, tc.fl, tc.fl)
			err := purchase(tx)
			testkit.WantKind(t, err, tc.kind)
			if testkit.HTTPStatus(err) != tc.status || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v (status %d), want %d mentioning %q", err, testkit.HTTPStatus(err), tc.status, tc.msg)
			}
			if n := f.rec.Count("POST", "/v2/number_orders"); n != 1 {
				t.Errorf("number order sent %d times, want 1", n)
			}
		})
	}
	t.Run("bad key", func(t *testing.T) {
		f := newFakeTelnyx(t)
		tx, _ := New(provider.TelnyxCreds{APIKey: "nope"}, testkit.TestConfig(f.srv.URL+"/v2", testkit.NewFakeClock()))
		_, err := tx.ListOwned(context.Background())
		testkit.WantKind(t, err, provider.ErrInvalidCredentials)
		if !strings.Contains(err.Error(), "API key looks malformed") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestTelnyxRetries(t *testing.T) {
	t.Run("GET retried after 5xx and 429 with Retry-After", func(t *testing.T) {
		f := newFakeTelnyx(t)
		clock := testkit.NewFakeClock()
		tx := newTestTelnyx(t, f, clock)
		f.failNext(failure{status: 503, body: `{"errors":[{"title":"Service Unavailable"}]}`},
			failure{status: 429, body: `{"errors":[{"code":"10011","title":"Too many requests"}]}`, header: map[string]string{"Retry-After": "1"}})
		if _, err := tx.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "US"}); err != nil {
			t.Fatal(err)
		}
		if n := f.rec.Count("GET", "/v2/available_phone_numbers"); n != 3 {
			t.Errorf("attempts = %d, want 3", n)
		}
		if s := clock.Sleeps(); len(s) != 2 || s[1] != time.Second {
			t.Errorf("sleeps = %v, want the second to follow Retry-After (1s)", s)
		}
	})
	t.Run("Retry-After beyond the bound is not waited for", func(t *testing.T) {
		f := newFakeTelnyx(t)
		clock := testkit.NewFakeClock()
		tx := newTestTelnyx(t, f, clock)
		f.failNext(failure{status: 429, body: `{"errors":[{"code":"10011","title":"Too many requests"}]}`, header: map[string]string{"Retry-After": "120"}})
		_, err := tx.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "US"})
		testkit.WantKind(t, err, provider.ErrRateLimited)
		if n := f.rec.Count("GET", "/v2/available_phone_numbers"); n != 1 || len(clock.Sleeps()) != 0 {
			t.Errorf("attempts = %d, sleeps = %v; want 1 and none", n, clock.Sleeps())
		}
	})
	t.Run("DELETE retried, PATCH and POST not", func(t *testing.T) {
		f := newFakeTelnyx(t)
		tx := newTestTelnyx(t, f, testkit.NewFakeClock())
		ctx := context.Background()
		if _, err := tx.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+13125550100"}); err != nil {
			t.Fatal(err)
		}
		id := f.numbers[0]["id"].(string)
		down := failure{status: 502, body: `{"errors":[{"title":"Bad Gateway"}]}`}

		f.failNext(down)
		if err := tx.Release(ctx, id); err != nil {
			t.Fatalf("release after one 502: %v", err)
		}
		if n := f.rec.Count("DELETE", "/v2/phone_numbers/"+id); n != 2 {
			t.Errorf("DELETE attempts = %d, want 2", n)
		}

		f.failNext(down)
		testkit.WantKind(t, tx.Hangup(ctx, "v3:x"), provider.ErrProviderDown)
		if n := f.rec.Count("POST", "/v2/calls/v3:x/actions/hangup"); n != 1 {
			t.Errorf("hangup POST attempts = %d, want 1", n)
		}
		f.failNext(down)
		_, err := tx.SendMessage(ctx, provider.Message{From: "+13125550100", To: "+14155550111", Body: "x"})
		testkit.WantKind(t, err, provider.ErrProviderDown)
		if n := f.rec.Count("POST", "/v2/messages"); n != 1 {
			t.Errorf("message POST attempts = %d, want 1", n)
		}
	})
}

func TestTelnyxTimeout(t *testing.T) {
	f := newFakeTelnyx(t)
	f.delay = 2 * time.Second
	cfg := testkit.TestConfig(f.srv.URL+"/v2", testkit.NewFakeClock())
	cfg.Timeout = 100 * time.Millisecond
	tx, err := New(provider.TelnyxCreds{APIKey: testTelnyxKey}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = tx.SendMessage(context.Background(), provider.Message{From: "+13125550100", To: "+14155550111", Body: "x"})
	testkit.WantKind(t, err, provider.ErrProviderDown)
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v with a 100ms timeout", el)
	}
	if !strings.Contains(err.Error(), "timeout") {
		t.Errorf("err = %v, want it to say timeout", err)
	}
	// GET: each attempt gets its own timeout, three attempts.
	start = time.Now()
	_, err = tx.SearchNumbers(context.Background(), provider.SearchQuery{CountryCode: "US"})
	testkit.WantKind(t, err, provider.ErrProviderDown)
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("took %v for three 100ms attempts", el)
	}
	if n := f.rec.Count("GET", "/v2/available_phone_numbers"); n != 3 {
		t.Errorf("GET attempts = %d, want 3", n)
	}
}

// failure is one error answer of the fake.
type failure struct {
	status int
	body   string
	header map[string]string
}

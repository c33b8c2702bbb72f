package vonage

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

// TestVonageContract: every request of the Vonage client against the specs
// (see contract_test.go). Auth placement differs per API: the Numbers API
// takes api_key/api_secret in the query, POSTs included (numbers.yml
// security schemes "in: query"); the SMS API in the form body (sms.yml
// required fields); the Voice and Messages APIs an RS256 application JWT as
// "Authorization: Bearer". Numbers are E.164 without '+' (msisdn); an SMS
// sender may be an alphanumeric sender ID.
func TestVonageContract(t *testing.T) {
	ctx := context.Background()
	const owned = "+447700900000"
	var f *fakeVonage
	auth := func(r testkit.Recorded) string {
		secretIn := func(v url.Values) bool { return v.Get("api_secret") == testVonageSecret }
		switch {
		case strings.HasPrefix(r.Path, "/v1/"):
			if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || secretIn(r.Query) || secretIn(r.Form) {
				return "the Voice and Messages APIs take the application JWT (Bearer) only"
			}
			if _, err := checkRS256(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), f.pub); err != nil {
				return "JWT: " + err.Error()
			}
		case r.Path == "/sms/json":
			if r.Form.Get("api_key") != testVonageKey || !secretIn(r.Form) || r.Query.Has("api_secret") {
				return "the SMS API takes api_key/api_secret in the form body"
			}
		default:
			if r.Query.Get("api_key") != testVonageKey || !secretIn(r.Query) || r.Form.Has("api_secret") {
				return "the Numbers API takes api_key/api_secret in the query"
			}
		}
		return ""
	}
	numberRow := func(method, p string) testkit.Spec {
		return testkit.Spec{Method: method, Path: testkit.Path(p), Form: map[string]*regexp.Regexp{"country": testkit.ReCountry, "msisdn": testkit.ReMsisdn}}
	}
	ownedRow := testkit.Spec{Method: "GET", Path: testkit.Path("/account/numbers"), Query: map[string]*regexp.Regexp{
		"pattern": testkit.ReMsisdn, "search_pattern": regexp.MustCompile(`^[012]$`)}}
	cases := []struct {
		name string
		do   func(v *Client) error
		want []testkit.Spec
	}{
		{"search: GET /number/search", func(v *Client) error {
			_, err := v.SearchNumbers(ctx, provider.SearchQuery{CountryCode: "US", AreaCode: "415", Limit: 5})
			return err
		}, []testkit.Spec{{Method: "GET", Path: testkit.Path("/number/search"), Query: map[string]*regexp.Regexp{
			"country": testkit.ReCountry, "pattern": regexp.MustCompile(`^[0-9]+$`), "search_pattern": regexp.MustCompile(`^[012]$`),
			"size": regexp.MustCompile(`^([1-9][0-9]?|100)$`)}}}},
		{"buy and point at sipbridge: POST /number/buy, /number/update", func(v *Client) error {
			_, err := v.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+447700900177", CountryCode: "GB",
				VoiceURL: "https://sb.example.com/vonage-webhook", SMSURL: "https://sb.example.com/webhooks/sms/vonage"})
			return err
		}, []testkit.Spec{numberRow("POST", "/number/buy"), {Method: "POST", Path: testkit.Path("/number/update"), Form: map[string]*regexp.Regexp{
			"country": testkit.ReCountry, "msisdn": testkit.ReMsisdn, "app_id": testkit.ReNonEmpty, "moHttpUrl": testkit.ReHTTP}}}},
		{"read webhooks: GET /account/numbers", func(v *Client) error {
			w, err := v.GetWebhooks(ctx, owned)
			if err == nil && w.ApplicationID != testVonageApp {
				t.Errorf("application read back as %q", w.ApplicationID)
			}
			return err
		}, []testkit.Spec{ownedRow}},
		{"release: POST /number/cancel", func(v *Client) error { return v.Release(ctx, owned) },
			[]testkit.Spec{ownedRow, numberRow("POST", "/number/cancel")}},
		{"list owned: GET /account/numbers paged", func(v *Client) error {
			_, err := v.ListOwned(ctx)
			return err
		}, []testkit.Spec{{Method: "GET", Path: testkit.Path("/account/numbers"), Query: map[string]*regexp.Regexp{
			"index": regexp.MustCompile(`^[1-9][0-9]*$`), "size": regexp.MustCompile(`^([1-9][0-9]?|100)$`)}}}},
		{"SMS from a number: POST /sms/json", func(v *Client) error {
			_, err := v.SendMessage(ctx, provider.Message{From: owned, To: "+447700900001", Body: "hi", StatusCallback: "https://sb.example.com/webhooks/sms/vonage"})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/sms/json"), Form: map[string]*regexp.Regexp{
			"from": testkit.ReMsisdn, "to": testkit.ReMsisdn, "text": testkit.ReNonEmpty, "callback": testkit.ReHTTP}}}},
		{"SMS from an alphanumeric sender ID", func(v *Client) error {
			_, err := v.SendMessage(ctx, provider.Message{From: "AcmeInc", To: "+447700900001", Body: "hi"})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/sms/json"), Form: map[string]*regexp.Regexp{
			"from": regexp.MustCompile(`^AcmeInc$`), "to": testkit.ReMsisdn, "text": testkit.ReNonEmpty}}}},
		{"MMS: POST /v1/messages", func(v *Client) error {
			_, err := v.SendMessage(ctx, provider.Message{From: owned, To: "+14155550111", Body: "look", MediaURLs: []string{"https://sb.example.com/a.jpg"}})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/v1/messages"), JSON: map[string]*regexp.Regexp{
			"to": testkit.ReMsisdn, "from": testkit.ReMsisdn, "image.url": testkit.ReHTTP}, Exact: map[string]string{"channel": "mms", "message_type": "image"}}}},
		{"call: POST /v1/calls with a websocket NCCO", func(v *Client) error {
			_, err := v.CreateCall(ctx, provider.Call{From: owned, To: "+14155550111", StreamURL: "wss://sb.example.com/streams?call_id=c1&token=t",
				StreamParams: map[string]string{"call_id": "c1"}, StatusCallback: "https://sb.example.com/vonage-webhook/event"})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/v1/calls"), JSON: map[string]*regexp.Regexp{
			"to.0.number": testkit.ReMsisdn, "from.number": testkit.ReMsisdn, "ncco.0.endpoint.0.uri": testkit.ReWS, "event_url.0": testkit.ReHTTP},
			Exact: map[string]string{"to.0.type": "phone", "from.type": "phone", "ncco.0.action": "connect",
				"ncco.0.endpoint.0.type": "websocket", "ncco.0.endpoint.0.content-type": "audio/l16;rate=16000"}}}},
		{"hangup: PUT /v1/calls/{uuid}", func(v *Client) error { return v.Hangup(ctx, "63f61863-4a51-4f6b-86e1-46edebcf9356") },
			[]testkit.Spec{{Method: "PUT", Path: testkit.Path("/v1/calls/63f61863-4a51-4f6b-86e1-46edebcf9356"), Exact: map[string]string{"action": "hangup"}}}},
		{"transfer: PUT /v1/calls/{uuid}", func(v *Client) error {
			return v.Transfer(ctx, "63f61863-4a51-4f6b-86e1-46edebcf9356", "+14155550122")
		}, []testkit.Spec{{Method: "PUT", Path: testkit.Path("/v1/calls/63f61863-4a51-4f6b-86e1-46edebcf9356"),
			Exact: map[string]string{"action": "transfer", "destination.type": "ncco"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := testkit.NewFakeClock()
			f = newFakeVonage(t, clock.Now)
			v := newTestVonage(t, f, clock, fullVonageCreds(t))
			if _, err := v.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: owned, CountryCode: "GB", VoiceURL: "https://sb.example.com/vonage-webhook"}); err != nil {
				t.Fatal(err)
			}
			mark := len(f.rec.All())
			if err := tc.do(v); err != nil {
				t.Fatal(err)
			}
			testkit.CheckRequests(t, &f.rec, mark, tc.want, auth)
		})
	}
}

// TestVonageSignedPayloadContract: what payload_hash covers, one case per
// documented request shape: a POST's body as sent; a GET's query
// parameters as a compact JSON object in query order (Vonage's signed
// webhook article), strings escaped as JSON.stringify does.
func TestVonageSignedPayloadContract(t *testing.T) {
	cases := []struct{ query, want string }{
		{"", `{}`},
		{"to=447700900000&from=447700900001&uuid=u1&conversation_uuid=CON-1",
			`{"to":"447700900000","from":"447700900001","uuid":"u1","conversation_uuid":"CON-1"}`},
		{"uuid=u1&to=447700900000", `{"uuid":"u1","to":"447700900000"}`},
		{"region_url=https%3A%2F%2Fapi-us-3.vonage.com&custom_data=a+b%22c%5C%3C%3E%26", `{"region_url":"https://api-us-3.vonage.com","custom_data":"a b\"c\\<>&"}`},
		{"from_user=j%C3%BCrgen&x=%0A%01", `{"from_user":"jürgen","x":"\n\u0001"}`},
		{"a=1&b=2&a=3", `{"a":["1","3"],"b":"2"}`},
		{"flag&empty=", `{"flag":"","empty":""}`},
	}
	for _, tc := range cases {
		got, err := QueryPayload(tc.query)
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: %s, %v; want %s", tc.query, got, err, tc.want)
		}
	}
	if _, err := QueryPayload("to=%zz"); err == nil {
		t.Error("malformed escape accepted")
	}
}

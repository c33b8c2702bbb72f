package telnyx

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

// TestTelnyxContract: every request of the Telnyx client against spec3.yml.
// Auth: "Authorization: Bearer <API key>" on every request (bearerAuth),
// never in the query or body. Phone numbers are +E.164 except the
// phone_numbers filter, digits only.
func TestTelnyxContract(t *testing.T) {
	ctx := context.Background()
	auth := func(r testkit.Recorded) string {
		if r.Header.Get("Authorization") != "Bearer "+testTelnyxKey {
			return "no Bearer API key"
		}
		if strings.Contains(r.Query.Encode()+string(r.Body), testTelnyxKey) {
			return "API key outside the Authorization header"
		}
		return ""
	}
	const owned = "+13125550100"
	stream := Stream{URL: "wss://sb.example.com/streams?call_id=c1&token=t", Track: "inbound_track", BidirectionalMode: "rtp", BidirectionalCodec: "PCMU"}
	streamFields := map[string]string{"stream_codec": "PCMU", "stream_bidirectional_mode": "rtp", "stream_bidirectional_codec": "PCMU"}
	lookup := testkit.Spec{Method: "GET", Path: testkit.Path("/v2/phone_numbers"), Query: map[string]*regexp.Regexp{"filter[phone_number]": testkit.ReDigits3}}
	cases := []struct {
		name string
		do   func(tx *Client) error
		want []testkit.Spec
	}{
		{"search: GET /available_phone_numbers", func(tx *Client) error {
			_, err := tx.SearchNumbers(ctx, provider.SearchQuery{CountryCode: "US", AreaCode: "312", Contains: "55", Limit: 5})
			return err
		}, []testkit.Spec{{Method: "GET", Path: testkit.Path("/v2/available_phone_numbers"), Query: map[string]*regexp.Regexp{
			"filter[country_code]": testkit.ReCountry, "filter[national_destination_code]": regexp.MustCompile(`^[0-9]{3}$`),
			"filter[phone_number][contains]": regexp.MustCompile(`^[0-9]+$`), "filter[limit]": regexp.MustCompile(`^[0-9]+$`)}}}},
		{"purchase: POST /number_orders", func(tx *Client) error {
			_, err := tx.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+13125550177"})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/v2/number_orders"), JSON: map[string]*regexp.Regexp{
			"phone_numbers.0.phone_number": testkit.ReE164, "connection_id": testkit.ReNonEmpty, "messaging_profile_id": testkit.ReNonEmpty}}}},
		{"read webhooks: GET /phone_numbers?filter[phone_number]=digits", func(tx *Client) error {
			_, err := tx.GetWebhooks(ctx, owned)
			return err
		}, []testkit.Spec{lookup}},
		{"configure: PATCH /phone_numbers/{id} and /messaging", func(tx *Client) error {
			return tx.ConfigureWebhooks(ctx, owned, provider.Webhooks{ConnectionID: "conn-2", MessagingProfileID: "mp-2"})
		}, []testkit.Spec{lookup,
			{Method: "PATCH", Path: testkit.Path("/v2/phone_numbers/[^/]+"), Exact: map[string]string{"connection_id": "conn-2"}},
			{Method: "PATCH", Path: testkit.Path("/v2/phone_numbers/[^/]+/messaging"), Exact: map[string]string{"messaging_profile_id": "mp-2"}}}},
		{"release: DELETE /phone_numbers/{id}", func(tx *Client) error { return tx.Release(ctx, owned) },
			[]testkit.Spec{lookup, {Method: "DELETE", Path: testkit.Path("/v2/phone_numbers/[0-9]+")}}},
		{"list owned: GET /phone_numbers paged", func(tx *Client) error {
			_, err := tx.ListOwned(ctx)
			return err
		}, []testkit.Spec{{Method: "GET", Path: testkit.Path("/v2/phone_numbers"), Query: map[string]*regexp.Regexp{
			"page[number]": regexp.MustCompile(`^[1-9][0-9]*$`), "page[size]": regexp.MustCompile(`^([1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|250)$`)}}}},
		{"send: POST /messages", func(tx *Client) error {
			_, err := tx.SendMessage(ctx, provider.Message{From: owned, To: "+14155550111", Body: "hi", StatusCallback: "https://sb.example.com/webhooks/sms/telnyx"})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/v2/messages"), JSON: map[string]*regexp.Regexp{
			"from": testkit.ReE164, "to": testkit.ReE164, "text": testkit.ReNonEmpty, "webhook_url": testkit.ReHTTP}}}},
		{"dial: POST /calls with a bidirectional stream", func(tx *Client) error {
			_, err := tx.Dial(ctx, Dial{From: owned, To: "+14155550111", WebhookURL: "https://sb.example.com/telnyx-webhook", ClientState: "YzE=", Stream: stream})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/v2/calls"), JSON: map[string]*regexp.Regexp{
			"connection_id": testkit.ReNonEmpty, "to": testkit.ReE164, "from": testkit.ReE164, "webhook_url": testkit.ReHTTP, "stream_url": testkit.ReWS, "client_state": testkit.ReBase64},
			Exact: withKey(streamFields, "stream_track", "inbound_track")}}},
		{"dial with answering machine detection", func(tx *Client) error {
			_, err := tx.Dial(ctx, Dial{From: owned, To: "+14155550111", WebhookURL: "https://sb.example.com/telnyx-webhook", ClientState: "YzE=", Stream: stream,
				AnsweringMachineDetection: "greeting_end"})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/v2/calls"), JSON: map[string]*regexp.Regexp{
			"connection_id": testkit.ReNonEmpty, "to": testkit.ReE164, "from": testkit.ReE164, "webhook_url": testkit.ReHTTP, "stream_url": testkit.ReWS, "client_state": testkit.ReBase64},
			Exact: withKey(withKey(streamFields, "stream_track", "inbound_track"), "answering_machine_detection", "greeting_end")}}},
		{"create call: POST /calls, both tracks, rtp like Dial", func(tx *Client) error {
			_, err := tx.CreateCall(ctx, provider.Call{From: owned, To: "+14155550111", StreamURL: stream.URL, StreamParams: map[string]string{"call_id": "c1"}})
			return err
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/v2/calls"), JSON: map[string]*regexp.Regexp{
			"connection_id": testkit.ReNonEmpty, "to": testkit.ReE164, "from": testkit.ReE164, "stream_url": testkit.ReWS, "client_state": testkit.ReBase64},
			Exact: withKey(streamFields, "stream_track", "both_tracks")}}},
		{"answer: POST /calls/{id}/actions/answer", func(tx *Client) error {
			return tx.Answer(ctx, "v3:abc", "YzE=", stream)
		}, []testkit.Spec{{Method: "POST", Path: testkit.Path("/v2/calls/v3:abc/actions/answer"), JSON: map[string]*regexp.Regexp{
			"stream_url": testkit.ReWS, "client_state": testkit.ReBase64}, Exact: withKey(streamFields, "stream_track", "inbound_track")}}},
		{"hangup: POST /calls/{id}/actions/hangup", func(tx *Client) error { return tx.Hangup(ctx, "v3:abc") },
			[]testkit.Spec{{Method: "POST", Path: testkit.Path("/v2/calls/v3:abc/actions/hangup")}}},
		{"transfer: POST /calls/{id}/actions/transfer", func(tx *Client) error { return tx.Transfer(ctx, "v3:abc", "+14155550122") },
			[]testkit.Spec{{Method: "POST", Path: testkit.Path("/v2/calls/v3:abc/actions/transfer"), JSON: map[string]*regexp.Regexp{"to": testkit.ReE164}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTelnyx(t)
			tx := newTestTelnyx(t, f, testkit.NewFakeClock())
			if _, err := tx.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: owned}); err != nil {
				t.Fatal(err)
			}
			mark := len(f.rec.All())
			if err := tc.do(tx); err != nil {
				t.Fatal(err)
			}
			testkit.CheckRequests(t, &f.rec, mark, tc.want, auth)
		})
	}
}

func withKey(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

// TestTelnyxWebhookContract: the messaging webhooks (spec3.yml
// InboundMessageEvent, OutboundMessageEvent: data.event_type,
// data.payload.id, from.phone_number, to[].phone_number/status, errors[]),
// one case per documented to[].status.
func TestTelnyxWebhookContract(t *testing.T) {
	hook := func(event, status, errs string) []byte {
		return []byte(fmt.Sprintf(`{"data":{"event_type":%q,"id":"e1","occurred_at":"2026-12-01T18:00:00.000+00:00","record_type":"event",`+
			`"payload":{"id":"40385f64-5717-4562-b3fc-2c963f66afa6","direction":"outbound","type":"SMS","text":"hi",`+
			`"from":{"phone_number":"+13125550100","carrier":"Telnyx","line_type":"Wireless"},`+
			`"to":[{"phone_number":"+14155550111","status":%q,"carrier":"T-Mobile USA","line_type":"Wireless"}],"errors":[%s]}}}`, event, status, errs))
	}
	cases := []struct {
		event, status, errs string
		want                string
		wantErr             string
	}{
		{"message.sent", "queued", "", "", ""},
		{"message.sent", "sending", "", "", ""},
		{"message.sent", "sent", "", provider.DeliverySent, ""},
		{"message.finalized", "delivered", "", provider.DeliveryDelivered, ""},
		{"message.finalized", "delivery_failed", `{"code":"40300","title":"Blocked as spam","detail":"Message blocked by carrier"}`, provider.DeliveryFailed, "error 40300: Message blocked by carrier"},
		{"message.finalized", "sending_failed", "", provider.DeliveryFailed, "sending_failed"},
		{"message.finalized", "delivery_unconfirmed", "", provider.DeliveryFailed, "delivery_unconfirmed"},
		{"message.finalized", "expired", "", provider.DeliveryFailed, "expired"},
	}
	for _, tc := range cases {
		ev, err := ParseSMSWebhook(hook(tc.event, tc.status, tc.errs))
		if err != nil || ev.Kind != provider.SMSEventStatus || ev.Status != tc.want || ev.RawStatus != tc.status || ev.Error != tc.wantErr ||
			ev.ProviderMessageID != "40385f64-5717-4562-b3fc-2c963f66afa6" {
			t.Errorf("%s %s: %+v, %v", tc.event, tc.status, ev, err)
		}
	}
	in := []byte(`{"data":{"event_type":"message.received","id":"e2","record_type":"event","payload":{"id":"b0c7e8cb-6227-4c74-9f32-c7f80c30934b",` +
		`"direction":"inbound","type":"MMS","text":"hello","from":{"phone_number":"+14155550111"},"to":[{"phone_number":"+13125550100","status":"webhook_delivered"}],` +
		`"media":[{"url":"https://media.telnyx.example/1.jpg","content_type":"image/jpeg"}]}}}`)
	ev, err := ParseSMSWebhook(in)
	if err != nil || ev.Kind != provider.SMSEventInbound || ev.From != "+14155550111" || ev.To != "+13125550100" || ev.Body != "hello" || len(ev.MediaURLs) != 1 {
		t.Errorf("message.received: %+v, %v", ev, err)
	}
}

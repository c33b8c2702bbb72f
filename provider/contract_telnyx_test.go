package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestTelnyxContract: every request of the Telnyx client against spec3.yml.
// Auth: "Authorization: Bearer <API key>" on every request (bearerAuth),
// never in the query or body. Phone numbers are +E.164 except the
// phone_numbers filter, digits only.
func TestTelnyxContract(t *testing.T) {
	ctx := context.Background()
	auth := func(r recorded) string {
		if r.Header.Get("Authorization") != "Bearer "+testTelnyxKey {
			return "no Bearer API key"
		}
		if strings.Contains(r.Query.Encode()+string(r.Body), testTelnyxKey) {
			return "API key outside the Authorization header"
		}
		return ""
	}
	const owned = "+13125550100"
	stream := TelnyxStream{URL: "wss://sb.example.com/streams?call_id=c1&token=t", Track: "inbound_track", BidirectionalMode: "rtp", BidirectionalCodec: "PCMU"}
	streamFields := map[string]string{"stream_codec": "PCMU", "stream_bidirectional_mode": "rtp", "stream_bidirectional_codec": "PCMU"}
	lookup := specRequest{method: "GET", path: path("/v2/phone_numbers"), query: map[string]*regexp.Regexp{"filter[phone_number]": reDigits3}}
	cases := []struct {
		name string
		do   func(tx *Telnyx) error
		want []specRequest
	}{
		{"search: GET /available_phone_numbers", func(tx *Telnyx) error {
			_, err := tx.SearchNumbers(ctx, SearchQuery{CountryCode: "US", AreaCode: "312", Contains: "55", Limit: 5})
			return err
		}, []specRequest{{method: "GET", path: path("/v2/available_phone_numbers"), query: map[string]*regexp.Regexp{
			"filter[country_code]": reCountry, "filter[national_destination_code]": regexp.MustCompile(`^[0-9]{3}$`),
			"filter[phone_number][contains]": regexp.MustCompile(`^[0-9]+$`), "filter[limit]": regexp.MustCompile(`^[0-9]+$`)}}}},
		{"purchase: POST /number_orders", func(tx *Telnyx) error {
			_, err := tx.Purchase(ctx, PurchaseRequest{PhoneNumber: "+13125550177"})
			return err
		}, []specRequest{{method: "POST", path: path("/v2/number_orders"), json: map[string]*regexp.Regexp{
			"phone_numbers.0.phone_number": reE164, "connection_id": reNonEmpty, "messaging_profile_id": reNonEmpty}}}},
		{"read webhooks: GET /phone_numbers?filter[phone_number]=digits", func(tx *Telnyx) error {
			_, err := tx.GetWebhooks(ctx, owned)
			return err
		}, []specRequest{lookup}},
		{"configure: PATCH /phone_numbers/{id} and /messaging", func(tx *Telnyx) error {
			return tx.ConfigureWebhooks(ctx, owned, Webhooks{ConnectionID: "conn-2", MessagingProfileID: "mp-2"})
		}, []specRequest{lookup,
			{method: "PATCH", path: path("/v2/phone_numbers/[^/]+"), exact: map[string]string{"connection_id": "conn-2"}},
			{method: "PATCH", path: path("/v2/phone_numbers/[^/]+/messaging"), exact: map[string]string{"messaging_profile_id": "mp-2"}}}},
		{"release: DELETE /phone_numbers/{id}", func(tx *Telnyx) error { return tx.Release(ctx, owned) },
			[]specRequest{lookup, {method: "DELETE", path: path("/v2/phone_numbers/[0-9]+")}}},
		{"list owned: GET /phone_numbers paged", func(tx *Telnyx) error {
			_, err := tx.ListOwned(ctx)
			return err
		}, []specRequest{{method: "GET", path: path("/v2/phone_numbers"), query: map[string]*regexp.Regexp{
			"page[number]": regexp.MustCompile(`^[1-9][0-9]*$`), "page[size]": regexp.MustCompile(`^([1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|250)$`)}}}},
		{"send: POST /messages", func(tx *Telnyx) error {
			_, err := tx.SendMessage(ctx, Message{From: owned, To: "+14155550111", Body: "hi", StatusCallback: "https://sb.example.com/webhooks/sms/telnyx"})
			return err
		}, []specRequest{{method: "POST", path: path("/v2/messages"), json: map[string]*regexp.Regexp{
			"from": reE164, "to": reE164, "text": reNonEmpty, "webhook_url": reHTTP}}}},
		{"dial: POST /calls with a bidirectional stream", func(tx *Telnyx) error {
			_, err := tx.Dial(ctx, TelnyxDial{From: owned, To: "+14155550111", WebhookURL: "https://sb.example.com/telnyx-webhook", ClientState: "YzE=", Stream: stream})
			return err
		}, []specRequest{{method: "POST", path: path("/v2/calls"), json: map[string]*regexp.Regexp{
			"connection_id": reNonEmpty, "to": reE164, "from": reE164, "webhook_url": reHTTP, "stream_url": reWS, "client_state": reBase64},
			exact: withKey(streamFields, "stream_track", "inbound_track")}}},
		{"create call: POST /calls, both tracks, rtp like Dial", func(tx *Telnyx) error {
			_, err := tx.CreateCall(ctx, Call{From: owned, To: "+14155550111", StreamURL: stream.URL, StreamParams: map[string]string{"call_id": "c1"}})
			return err
		}, []specRequest{{method: "POST", path: path("/v2/calls"), json: map[string]*regexp.Regexp{
			"connection_id": reNonEmpty, "to": reE164, "from": reE164, "stream_url": reWS, "client_state": reBase64},
			exact: withKey(streamFields, "stream_track", "both_tracks")}}},
		{"answer: POST /calls/{id}/actions/answer", func(tx *Telnyx) error {
			return tx.Answer(ctx, "v3:abc", "YzE=", stream)
		}, []specRequest{{method: "POST", path: path("/v2/calls/v3:abc/actions/answer"), json: map[string]*regexp.Regexp{
			"stream_url": reWS, "client_state": reBase64}, exact: withKey(streamFields, "stream_track", "inbound_track")}}},
		{"hangup: POST /calls/{id}/actions/hangup", func(tx *Telnyx) error { return tx.Hangup(ctx, "v3:abc") },
			[]specRequest{{method: "POST", path: path("/v2/calls/v3:abc/actions/hangup")}}},
		{"transfer: POST /calls/{id}/actions/transfer", func(tx *Telnyx) error { return tx.Transfer(ctx, "v3:abc", "+14155550122") },
			[]specRequest{{method: "POST", path: path("/v2/calls/v3:abc/actions/transfer"), json: map[string]*regexp.Regexp{"to": reE164}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTelnyx(t)
			tx := newTestTelnyx(t, f, newFakeClock())
			if _, err := tx.Purchase(ctx, PurchaseRequest{PhoneNumber: owned}); err != nil {
				t.Fatal(err)
			}
			mark := len(f.rec.all())
			if err := tc.do(tx); err != nil {
				t.Fatal(err)
			}
			checkRequests(t, &f.rec, mark, tc.want, auth)
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
		{"message.sent", "sent", "", DeliverySent, ""},
		{"message.finalized", "delivered", "", DeliveryDelivered, ""},
		{"message.finalized", "delivery_failed", `{"code":"40300","title":"Blocked as spam","detail":"Message blocked by carrier"}`, DeliveryFailed, "error 40300: Message blocked by carrier"},
		{"message.finalized", "sending_failed", "", DeliveryFailed, "sending_failed"},
		{"message.finalized", "delivery_unconfirmed", "", DeliveryFailed, "delivery_unconfirmed"},
		{"message.finalized", "expired", "", DeliveryFailed, "expired"},
	}
	for _, tc := range cases {
		ev, err := ParseTelnyxSMSWebhook(hook(tc.event, tc.status, tc.errs))
		if err != nil || ev.Kind != SMSEventStatus || ev.Status != tc.want || ev.RawStatus != tc.status || ev.Error != tc.wantErr ||
			ev.ProviderMessageID != "40385f64-5717-4562-b3fc-2c963f66afa6" {
			t.Errorf("%s %s: %+v, %v", tc.event, tc.status, ev, err)
		}
	}
	in := []byte(`{"data":{"event_type":"message.received","id":"e2","record_type":"event","payload":{"id":"b0c7e8cb-6227-4c74-9f32-c7f80c30934b",` +
		`"direction":"inbound","type":"MMS","text":"hello","from":{"phone_number":"+14155550111"},"to":[{"phone_number":"+13125550100","status":"webhook_delivered"}],` +
		`"media":[{"url":"https://media.telnyx.example/1.jpg","content_type":"image/jpeg"}]}}}`)
	ev, err := ParseTelnyxSMSWebhook(in)
	if err != nil || ev.Kind != SMSEventInbound || ev.From != "+14155550111" || ev.To != "+13125550100" || ev.Body != "hello" || len(ev.MediaURLs) != 1 {
		t.Errorf("message.received: %+v, %v", ev, err)
	}
}

package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider/vonage"
)

// A provider's webhook reaches only the numbers that provider carries: a
// signed Vonage answer naming the organization's Twilio or SIP number gets
// no stream, and an organization without a Vonage signature secret takes
// no Vonage webhook at all.
func TestHostedWebhooksReachOnlyTheirProvidersNumbers(t *testing.T) {
	he := newHostedEnv(t)
	for _, to := range []string{twilioNumber, telnyxNumber} {
		q := url.Values{"uuid": {"u-" + to}, "from": {strings.TrimPrefix(callerNumber, "+")}, "to": {strings.TrimPrefix(to, "+")}}
		jwt := vonageGETJWT(t, he.vonageSecret, q.Encode())
		st, body := he.post(http.MethodGet, "/vonage-webhook?"+q.Encode(), "", nil, http.Header{"Authorization": {"Bearer " + jwt}})
		if st != 200 || strings.Contains(body, "websocket") || strings.Contains(body, "token=") {
			t.Fatalf("vonage webhook for %s: %d %s", to, st, body)
		}
	}
	// Twilio's webhook for the Vonage number: rejected, no stream.
	form := twilioInboundForm("CA00000000000000000000000000000001")
	form.Set("To", vonageNumber)
	if st, body := he.twilioVoice(form, he.twilio.AuthToken); st != 200 || !strings.Contains(body, "<Reject") {
		t.Fatalf("twilio webhook for the vonage number: %d %s", st, body)
	}
	// No signature secret: even a Vonage number refuses unsigned requests.
	o, _ := he.store.GetOrg(context.Background(), he.orgA)
	sec, _ := he.store.OrgSecrets(o)
	sec.VonageSignatureSecret = ""
	if err := he.store.UpdateOrg(context.Background(), o, sec); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"uuid": {"u-unsigned"}, "from": {strings.TrimPrefix(callerNumber, "+")}, "to": {strings.TrimPrefix(vonageNumber, "+")}}
	if st, body := he.post(http.MethodGet, "/vonage-webhook?"+q.Encode(), "", nil, nil); st != http.StatusForbidden {
		t.Fatalf("unsigned vonage webhook: %d %s", st, body)
	}
	// A token is good once: the same signed request again is refused.
	sec.VonageSignatureSecret = he.vonageSecret
	if err := he.store.UpdateOrg(context.Background(), o, sec); err != nil {
		t.Fatal(err)
	}
	q.Set("uuid", "u-replay")
	jwt := vonageGETJWT(t, he.vonageSecret, q.Encode())
	if st, _ := he.post(http.MethodGet, "/vonage-webhook?"+q.Encode(), "", nil, http.Header{"Authorization": {"Bearer " + jwt}}); st != 200 {
		t.Fatalf("first use: %d", st)
	}
	if st, _ := he.post(http.MethodGet, "/vonage-webhook?"+q.Encode(), "", nil, http.Header{"Authorization": {"Bearer " + jwt}}); st != http.StatusForbidden {
		t.Fatalf("replayed token: %d", st)
	}
	he.waitCall("u-replay", db.CallInProgress, time.Second)
	calls, _, _ := he.store.ListCalls(context.Background(), he.orgA, db.CallFilter{Status: db.CallInProgress}, db.Page{Limit: 10})
	if len(calls) != 1 || calls[0].CallSID != "u-replay" {
		t.Fatalf("live records made by foreign or replayed webhooks: %+v", calls)
	}
}

// One Vonage token is good once across the voice and the SMS webhooks: a
// signed request the SMS webhook took, sent again to the voice answer_url
// with the same token, connects no call (the two share one replay cache),
// while the same body under a fresh token does.
func TestVonageTokenGoodOnceAcrossVoiceAndSMS(t *testing.T) {
	he := newHostedEnv(t)
	to, from := strings.TrimPrefix(vonageNumber, "+"), strings.TrimPrefix(callerNumber, "+")
	// Both parsers read this body: an inbound message (Messages API) and an
	// answer_url request (uuid, to, from).
	body := []byte(`{"channel":"sms","message_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","uuid":"u-shared-jti","conversation_uuid":"CON-1",` +
		`"to":"` + to + `","from":"` + from + `","timestamp":"2026-12-01T18:00:00Z","message_type":"text","text":"hello"}`)
	auth := http.Header{"Authorization": {"Bearer " + vonage.SignWebhookJWT(he.vonageSecret, body, time.Now(), nil)}}
	if st, resp := he.post(http.MethodPost, "/webhooks/sms/vonage", "application/json", body, auth); st != 200 || !strings.Contains(resp, `"received"`) {
		t.Fatalf("sms webhook: %d %s", st, resp)
	}
	if _, resp := he.post(http.MethodPost, "/vonage-webhook", "application/json", body, auth); strings.Contains(resp, "websocket") {
		t.Fatalf("the SMS webhook's token was taken again by the voice webhook: %s", resp)
	}
	fresh := http.Header{"Authorization": {"Bearer " + vonage.SignWebhookJWT(he.vonageSecret, body, time.Now(), nil)}}
	if st, resp := he.post(http.MethodPost, "/vonage-webhook", "application/json", body, fresh); st != 200 || !strings.Contains(resp, "websocket") {
		t.Fatalf("fresh token: %d %s", st, resp)
	}
	he.waitCall("u-shared-jti", db.CallInProgress, time.Second)
}

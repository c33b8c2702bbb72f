package telnyx

import (
	"errors"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

func TestParseTelnyxSMSWebhook(t *testing.T) {
	in, err := ParseSMSWebhook([]byte(`{"data":{"event_type":"message.received","id":"ev1","payload":{"id":"msg-1","direction":"inbound",
		"from":{"phone_number":"+14155550111"},"to":[{"phone_number":"+13125550100","status":"webhook_delivered"}],"text":"STOP",
		"media":[{"url":"https://media.telnyx.com/a.jpg","content_type":"image/jpeg"}]}}}`))
	if err != nil || in.Kind != provider.SMSEventInbound || in.To != "+13125550100" || in.From != "+14155550111" || in.Body != "STOP" ||
		len(in.MediaURLs) != 1 || in.ProviderMessageID != "msg-1" {
		t.Fatalf("inbound: %+v %v", in, err)
	}
	st, err := ParseSMSWebhook([]byte(`{"data":{"event_type":"message.finalized","payload":{"id":"msg-2",
		"from":{"phone_number":"+13125550100"},"to":[{"phone_number":"+14155550111","status":"delivery_failed"}],
		"errors":[{"code":"40300","title":"Blocked as spam","detail":"Message blocked by carrier"}]}}}`))
	if err != nil || st.Kind != provider.SMSEventStatus || st.Status != provider.DeliveryFailed || st.Error != "error 40300: Message blocked by carrier" || st.OwnNumber() != "+13125550100" {
		t.Fatalf("status: %+v %v", st, err)
	}
	for _, bad := range []string{``, `[]`, `{"data":{"payload":{"id":"x"}}}`, `{"data":{"event_type":"message.received","payload":{"id":"x"}}}`, `{"data":{"event_type":"message.received","payload":{"id":"x","to":5}}}`} {
		if _, err := ParseSMSWebhook([]byte(bad)); !errors.Is(err, provider.ErrBadRequest) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func FuzzParseTelnyxSMSWebhook(f *testing.F) {
	f.Add([]byte(`{"data":{"event_type":"message.received","payload":{"id":"m","from":{"phone_number":"+1"},"to":[{"phone_number":"+2"}],"text":"x","media":[{"url":"u"}]}}}`))
	f.Add([]byte(`{"data":{"event_type":"message.finalized","payload":{"id":"m","to":{"phone_number":"+2","status":"delivered"}}}}`))
	f.Add([]byte(`{"data":{"event_type":"message.sent","payload":{"id":"m","to":[],"errors":[{}]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseSMSWebhook(body)
		testkit.CheckEvent(t, ev, err)
	})
}

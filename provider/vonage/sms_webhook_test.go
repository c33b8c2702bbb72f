package vonage

import (
	"errors"
	"net/url"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

func TestParseVonageSMSWebhook(t *testing.T) {
	in, err := ParseSMSWebhook(url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000001234"}, "text": {"hello"}, "type": {"text"}}, nil)
	if err != nil || in.Kind != provider.SMSEventInbound || in.From != "+447700900001" || in.To != "+447700900000" || in.Body != "hello" {
		t.Fatalf("SMS API inbound: %+v %v", in, err)
	}
	dlr, err := ParseSMSWebhook(url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000001234"}, "status": {"rejected"}, "err-code": {"6"}}, nil)
	if err != nil || dlr.Kind != provider.SMSEventStatus || dlr.Status != provider.DeliveryFailed || dlr.OwnNumber() != "+447700900000" || dlr.Error != "err-code 6: rejected" {
		t.Fatalf("DLR: %+v %v", dlr, err)
	}
	mms, err := ParseSMSWebhook(nil, []byte(`{"channel":"mms","message_uuid":"aaaaaaaa-bbbb","to":"14155550100","from":"14155550111","message_type":"image","image":{"url":"https://example.com/i.jpg","caption":"look"}}`))
	if err != nil || mms.Kind != provider.SMSEventInbound || mms.Body != "look" || len(mms.MediaURLs) != 1 || mms.To != "+14155550100" {
		t.Fatalf("Messages API inbound: %+v %v", mms, err)
	}
	st, err := ParseSMSWebhook(nil, []byte(`{"message_uuid":"aaaaaaaa-bbbb","to":"14155550111","from":"14155550100","status":"delivered"}`))
	if err != nil || st.Kind != provider.SMSEventStatus || st.Status != provider.DeliveryDelivered || st.OwnNumber() != "+14155550100" {
		t.Fatalf("Messages API status: %+v %v", st, err)
	}
	js, err := ParseSMSWebhook(nil, []byte(`{"msisdn":"447700900001","to":"447700900000","messageId":"0A1","text":"json form"}`))
	if err != nil || js.Body != "json form" || js.Kind != provider.SMSEventInbound {
		t.Fatalf("SMS API as JSON: %+v %v", js, err)
	}
	for _, bad := range []struct {
		p url.Values
		b string
	}{{url.Values{}, ""}, {url.Values{"messageId": {"1"}}, ""}, {nil, "[1]"}, {nil, `{"message_uuid":""}`}} {
		if _, err := ParseSMSWebhook(bad.p, []byte(bad.b)); !errors.Is(err, provider.ErrBadRequest) {
			t.Errorf("%v %s: %v", bad.p, bad.b, err)
		}
	}
}

func FuzzParseVonageSMSWebhook(f *testing.F) {
	f.Add("msisdn=447700900001&to=447700900000&messageId=0A1&text=hi", []byte(nil))
	f.Add("msisdn=447700900001&to=447700900000&messageId=0A1&status=delivered&err-code=0", []byte(nil))
	f.Add("", []byte(`{"message_uuid":"u","from":{"type":"sms","number":"1"},"to":"2","image":{"url":"x"}}`))
	f.Add("", []byte(`{"message_uuid":"u","status":"rejected","error":{"title":"t"}}`))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		ev, err := ParseSMSWebhook(v, body)
		testkit.CheckEvent(t, ev, err)
	})
}

package provider

import (
	"errors"
	"net/url"
	"reflect"
	"testing"
)

func TestParseTwilioSMSWebhook(t *testing.T) {
	in, err := ParseTwilioSMSWebhook(url.Values{"MessageSid": {"SM1"}, "SmsStatus": {"received"}, "From": {"+14155550111"}, "To": {"+14155550100"},
		"Body": {"hi"}, "NumMedia": {"2"}, "MediaUrl0": {"https://api.twilio.com/m0"}, "MediaUrl1": {"https://api.twilio.com/m1"}})
	want := SMSEvent{Kind: SMSEventInbound, ProviderMessageID: "SM1", From: "+14155550111", To: "+14155550100", Body: "hi",
		MediaURLs: []string{"https://api.twilio.com/m0", "https://api.twilio.com/m1"}}
	if err != nil || !reflect.DeepEqual(in, want) || in.OwnNumber() != "+14155550100" {
		t.Fatalf("inbound: %+v %v", in, err)
	}
	st, err := ParseTwilioSMSWebhook(url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"undelivered"}, "SmsStatus": {"undelivered"},
		"ErrorCode": {"30003"}, "From": {"+14155550100"}, "To": {"+14155550111"}})
	if err != nil || st.Kind != SMSEventStatus || st.Status != DeliveryFailed || st.Error != "error 30003: undelivered" || st.OwnNumber() != "+14155550100" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if st, _ := ParseTwilioSMSWebhook(url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"delivered"}}); st.Status != DeliveryDelivered {
		t.Fatalf("delivered: %+v", st)
	}
	if st, _ := ParseTwilioSMSWebhook(url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"sending"}}); st.Kind != SMSEventStatus || st.Status != "" {
		t.Fatalf("intermediate: %+v", st)
	}
	if _, err := ParseTwilioSMSWebhook(url.Values{"From": {"+1"}}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("no sid: %v", err)
	}
}

func TestParseTelnyxSMSWebhook(t *testing.T) {
	in, err := ParseTelnyxSMSWebhook([]byte(`{"data":{"event_type":"message.received","id":"ev1","payload":{"id":"msg-1","direction":"inbound",
		"from":{"phone_number":"+14155550111"},"to":[{"phone_number":"+13125550100","status":"webhook_delivered"}],"text":"STOP",
		"media":[{"url":"https://media.telnyx.com/a.jpg","content_type":"image/jpeg"}]}}}`))
	if err != nil || in.Kind != SMSEventInbound || in.To != "+13125550100" || in.From != "+14155550111" || in.Body != "STOP" ||
		len(in.MediaURLs) != 1 || in.ProviderMessageID != "msg-1" {
		t.Fatalf("inbound: %+v %v", in, err)
	}
	st, err := ParseTelnyxSMSWebhook([]byte(`{"data":{"event_type":"message.finalized","payload":{"id":"msg-2",
		"from":{"phone_number":"+13125550100"},"to":[{"phone_number":"+14155550111","status":"delivery_failed"}],
		"errors":[{"code":"40300","title":"Blocked as spam","detail":"Message blocked by carrier"}]}}}`))
	if err != nil || st.Kind != SMSEventStatus || st.Status != DeliveryFailed || st.Error != "error 40300: Message blocked by carrier" || st.OwnNumber() != "+13125550100" {
		t.Fatalf("status: %+v %v", st, err)
	}
	for _, bad := range []string{``, `[]`, `{"data":{"payload":{"id":"x"}}}`, `{"data":{"event_type":"message.received","payload":{"id":"x"}}}`, `{"data":{"event_type":"message.received","payload":{"id":"x","to":5}}}`} {
		if _, err := ParseTelnyxSMSWebhook([]byte(bad)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestParseVonageSMSWebhook(t *testing.T) {
	in, err := ParseVonageSMSWebhook(url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000001234"}, "text": {"hello"}, "type": {"text"}}, nil)
	if err != nil || in.Kind != SMSEventInbound || in.From != "+447700900001" || in.To != "+447700900000" || in.Body != "hello" {
		t.Fatalf("SMS API inbound: %+v %v", in, err)
	}
	dlr, err := ParseVonageSMSWebhook(url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000001234"}, "status": {"rejected"}, "err-code": {"6"}}, nil)
	if err != nil || dlr.Kind != SMSEventStatus || dlr.Status != DeliveryFailed || dlr.OwnNumber() != "+447700900000" || dlr.Error != "err-code 6: rejected" {
		t.Fatalf("DLR: %+v %v", dlr, err)
	}
	mms, err := ParseVonageSMSWebhook(nil, []byte(`{"channel":"mms","message_uuid":"aaaaaaaa-bbbb","to":"14155550100","from":"14155550111","message_type":"image","image":{"url":"https://example.com/i.jpg","caption":"look"}}`))
	if err != nil || mms.Kind != SMSEventInbound || mms.Body != "look" || len(mms.MediaURLs) != 1 || mms.To != "+14155550100" {
		t.Fatalf("Messages API inbound: %+v %v", mms, err)
	}
	st, err := ParseVonageSMSWebhook(nil, []byte(`{"message_uuid":"aaaaaaaa-bbbb","to":"14155550111","from":"14155550100","status":"delivered"}`))
	if err != nil || st.Kind != SMSEventStatus || st.Status != DeliveryDelivered || st.OwnNumber() != "+14155550100" {
		t.Fatalf("Messages API status: %+v %v", st, err)
	}
	js, err := ParseVonageSMSWebhook(nil, []byte(`{"msisdn":"447700900001","to":"447700900000","messageId":"0A1","text":"json form"}`))
	if err != nil || js.Body != "json form" || js.Kind != SMSEventInbound {
		t.Fatalf("SMS API as JSON: %+v %v", js, err)
	}
	for _, bad := range []struct {
		p url.Values
		b string
	}{{url.Values{}, ""}, {url.Values{"messageId": {"1"}}, ""}, {nil, "[1]"}, {nil, `{"message_uuid":""}`}} {
		if _, err := ParseVonageSMSWebhook(bad.p, []byte(bad.b)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%v %s: %v", bad.p, bad.b, err)
		}
	}
}

func checkEvent(t *testing.T, ev SMSEvent, err error) {
	if err != nil {
		if !errors.Is(err, ErrBadRequest) {
			t.Fatalf("error outside ErrBadRequest: %v", err)
		}
		return
	}
	if ev.ProviderMessageID == "" || (ev.Kind != SMSEventInbound && ev.Kind != SMSEventStatus) || len(ev.MediaURLs) > maxMedia {
		t.Fatalf("accepted an incomplete event: %+v", ev)
	}
	if ev.Kind == SMSEventInbound && (ev.From == "" || ev.To == "") {
		t.Fatalf("inbound without numbers: %+v", ev)
	}
	switch ev.Status {
	case "", DeliverySent, DeliveryDelivered, DeliveryFailed:
	default:
		t.Fatalf("status outside the vocabulary: %q", ev.Status)
	}
}

func FuzzParseTwilioSMSWebhook(f *testing.F) {
	f.Add("MessageSid=SM1&SmsStatus=received&From=%2B1415&To=%2B1416&Body=hi&NumMedia=1&MediaUrl0=https%3A%2F%2Fx")
	f.Add("MessageSid=SM1&MessageStatus=failed&ErrorCode=30003")
	f.Add("NumMedia=99999999999&MediaUrl0=x&MessageSid=a&From=1&To=2")
	f.Fuzz(func(t *testing.T, form string) {
		v, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		ev, err := ParseTwilioSMSWebhook(v)
		checkEvent(t, ev, err)
	})
}

func FuzzParseTelnyxSMSWebhook(f *testing.F) {
	f.Add([]byte(`{"data":{"event_type":"message.received","payload":{"id":"m","from":{"phone_number":"+1"},"to":[{"phone_number":"+2"}],"text":"x","media":[{"url":"u"}]}}}`))
	f.Add([]byte(`{"data":{"event_type":"message.finalized","payload":{"id":"m","to":{"phone_number":"+2","status":"delivered"}}}}`))
	f.Add([]byte(`{"data":{"event_type":"message.sent","payload":{"id":"m","to":[],"errors":[{}]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseTelnyxSMSWebhook(body)
		checkEvent(t, ev, err)
	})
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
		ev, err := ParseVonageSMSWebhook(v, body)
		checkEvent(t, ev, err)
	})
}

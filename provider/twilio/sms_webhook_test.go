package twilio

import (
	"errors"
	"net/url"
	"reflect"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

func TestParseTwilioSMSWebhook(t *testing.T) {
	in, err := ParseSMSWebhook(url.Values{"MessageSid": {"SM1"}, "SmsStatus": {"received"}, "From": {"+14155550111"}, "To": {"+14155550100"},
		"Body": {"hi"}, "NumMedia": {"2"}, "MediaUrl0": {"https://api.twilio.com/m0"}, "MediaUrl1": {"https://api.twilio.com/m1"}})
	want := provider.SMSEvent{Kind: provider.SMSEventInbound, ProviderMessageID: "SM1", From: "+14155550111", To: "+14155550100", Body: "hi",
		MediaURLs: []string{"https://api.twilio.com/m0", "https://api.twilio.com/m1"}}
	if err != nil || !reflect.DeepEqual(in, want) || in.OwnNumber() != "+14155550100" {
		t.Fatalf("inbound: %+v %v", in, err)
	}
	st, err := ParseSMSWebhook(url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"undelivered"}, "SmsStatus": {"undelivered"},
		"ErrorCode": {"30003"}, "From": {"+14155550100"}, "To": {"+14155550111"}})
	if err != nil || st.Kind != provider.SMSEventStatus || st.Status != provider.DeliveryFailed || st.Error != "error 30003: undelivered" || st.OwnNumber() != "+14155550100" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if st, _ := ParseSMSWebhook(url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"delivered"}}); st.Status != provider.DeliveryDelivered {
		t.Fatalf("delivered: %+v", st)
	}
	if st, _ := ParseSMSWebhook(url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"sending"}}); st.Kind != provider.SMSEventStatus || st.Status != "" {
		t.Fatalf("intermediate: %+v", st)
	}
	if _, err := ParseSMSWebhook(url.Values{"From": {"+1"}}); !errors.Is(err, provider.ErrBadRequest) {
		t.Fatalf("no sid: %v", err)
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
		ev, err := ParseSMSWebhook(v)
		testkit.CheckEvent(t, ev, err)
	})
}

package twilio

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// ParseSMSWebhook reads a Twilio messaging webhook (form fields): an
// incoming message (SmsStatus=received: MessageSid, From, To, Body, NumMedia,
// MediaUrl0…) or a status callback (MessageSid, MessageStatus, ErrorCode).
func ParseSMSWebhook(form url.Values) (provider.SMSEvent, error) {
	ev := provider.SMSEvent{
		ProviderMessageID: wire.FirstSet(form.Get("MessageSid"), form.Get("SmsSid"), form.Get("SmsMessageSid")),
		From:              strings.TrimSpace(form.Get("From")),
		To:                strings.TrimSpace(form.Get("To")),
	}
	if ev.ProviderMessageID == "" {
		return ev, wire.Malformed(provider.NameTwilio, "webhook without MessageSid")
	}
	status := strings.ToLower(wire.FirstSet(form.Get("MessageStatus"), form.Get("SmsStatus")))
	if status == "received" || status == "" {
		ev.Kind = provider.SMSEventInbound
		ev.Body = form.Get("Body")
		n, _ := strconv.Atoi(form.Get("NumMedia"))
		for i := 0; i < n && i < provider.MaxMedia; i++ {
			if u := form.Get("MediaUrl" + strconv.Itoa(i)); u != "" {
				ev.MediaURLs = append(ev.MediaURLs, u)
			}
		}
		if ev.To == "" || ev.From == "" {
			return ev, wire.Malformed(provider.NameTwilio, "incoming message without From or To")
		}
		return ev, nil
	}
	ev.Kind = provider.SMSEventStatus
	ev.RawStatus = status
	switch status {
	case "sent":
		ev.Status = provider.DeliverySent
	case "delivered", "read":
		ev.Status = provider.DeliveryDelivered
	case "failed", "undelivered", "canceled":
		ev.Status = provider.DeliveryFailed
		ev.Error = status
		if code := form.Get("ErrorCode"); code != "" {
			ev.Error = "error " + code + ": " + status
			if m := form.Get("ErrorMessage"); m != "" {
				ev.Error += " (" + m + ")"
			}
		}
	}
	return ev, nil
}

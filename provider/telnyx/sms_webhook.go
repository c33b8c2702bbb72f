package telnyx

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

type telnyxAddr struct {
	PhoneNumber string `json:"phone_number"`
	Status      string `json:"status"`
}

type telnyxWebhook struct {
	Data struct {
		EventType string `json:"event_type"`
		Payload   struct {
			ID   string          `json:"id"`
			From telnyxAddr      `json:"from"`
			To   json.RawMessage `json:"to"`
			Text string          `json:"text"`
			// Media of an MMS.
			Media []struct {
				URL string `json:"url"`
			} `json:"media"`
			Errors []struct {
				Code   string `json:"code"`
				Title  string `json:"title"`
				Detail string `json:"detail"`
			} `json:"errors"`
		} `json:"payload"`
	} `json:"data"`
}

// ParseSMSWebhook reads a Telnyx messaging webhook (API v2 JSON):
// message.received is an inbound message; message.sent and
// message.finalized report delivery (payload.to[0].status, spec3.yml's
// enum: queued, sending, sent, expired, sending_failed,
// delivery_unconfirmed, delivered, delivery_failed; expired and the three
// failures end the message as failed, queued and sending change nothing).
// Other event types are a status event with no Status (ignored).
func ParseSMSWebhook(body []byte) (provider.SMSEvent, error) {
	var w telnyxWebhook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return provider.SMSEvent{}, wire.Malformed(provider.NameTelnyx, "webhook body is not JSON")
	}
	p := w.Data.Payload
	ev := provider.SMSEvent{ProviderMessageID: p.ID, From: p.From.PhoneNumber, Body: p.Text}
	// "to" is a list of recipients; accept a single object too.
	var tos []telnyxAddr
	if len(p.To) > 0 && json.Unmarshal(p.To, &tos) != nil {
		var one telnyxAddr
		if json.Unmarshal(p.To, &one) != nil {
			return provider.SMSEvent{}, wire.Malformed(provider.NameTelnyx, "payload.to is neither a list nor an object")
		}
		tos = []telnyxAddr{one}
	}
	if len(tos) > 0 {
		ev.To = tos[0].PhoneNumber
	}
	if ev.ProviderMessageID == "" {
		return ev, wire.Malformed(provider.NameTelnyx, "webhook without payload.id")
	}
	switch w.Data.EventType {
	case "message.received":
		ev.Kind = provider.SMSEventInbound
		for i, m := range p.Media {
			if i < provider.MaxMedia && m.URL != "" {
				ev.MediaURLs = append(ev.MediaURLs, m.URL)
			}
		}
		if ev.To == "" || ev.From == "" {
			return ev, wire.Malformed(provider.NameTelnyx, "incoming message without from or to")
		}
		return ev, nil
	case "":
		return ev, wire.Malformed(provider.NameTelnyx, "webhook without data.event_type")
	}
	ev.Kind = provider.SMSEventStatus
	if len(tos) > 0 {
		ev.RawStatus = tos[0].Status
	}
	switch ev.RawStatus {
	case "sent":
		ev.Status = provider.DeliverySent
	case "delivered":
		ev.Status = provider.DeliveryDelivered
	case "sending_failed", "delivery_failed", "delivery_unconfirmed", "expired":
		ev.Status = provider.DeliveryFailed
		ev.Error = ev.RawStatus
		if len(p.Errors) > 0 {
			e := p.Errors[0]
			ev.Error = strings.TrimSpace("error " + e.Code + ": " + wire.FirstSet(e.Detail, e.Title))
		}
	}
	return ev, nil
}

package provider

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// SMS webhook events, as parsed from each provider's body.
const (
	SMSEventInbound = "inbound" // a customer's message to one of our numbers
	SMSEventStatus  = "status"  // a delivery-status callback for a message we sent
)

// Delivery states of SMSEvent.Status, our vocabulary.
const (
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// maxMedia bounds the media URLs read from one webhook.
const maxMedia = 10

// SMSEvent is one provider webhook about a message.
type SMSEvent struct {
	// Kind is SMSEventInbound or SMSEventStatus.
	Kind string
	// ProviderMessageID is the provider's id of the message.
	ProviderMessageID string
	// From and To are E.164 when the provider gave a number ("+" added
	// when the provider omits it).
	From, To  string
	Body      string
	MediaURLs []string
	// Status (status events): DeliverySent, DeliveryDelivered, DeliveryFailed,
	// or "" for an intermediate state that changes nothing.
	Status string
	// RawStatus is the provider's own status word.
	RawStatus string
	// Error is the provider's failure explanation (code and text).
	Error string
}

// OwnNumber is the number of ours the event is about: the recipient of an
// inbound message, the sender of a message whose status is reported. It
// selects the organization whose credentials verify the webhook.
func (e SMSEvent) OwnNumber() string {
	if e.Kind == SMSEventInbound {
		return e.To
	}
	return e.From
}

func malformed(provider, msg string) error {
	return &Error{Provider: provider, Kind: ErrBadRequest, Message: msg}
}

// e164ish adds the "+" Vonage leaves out of numbers; anything that is not
// all digits (an alphanumeric sender) is kept as given.
func e164ish(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "+") {
		return s
	}
	if strings.Trim(s, "0123456789") == "" {
		return "+" + s
	}
	return s
}

// ParseTwilioSMSWebhook reads a Twilio messaging webhook (form fields): an
// incoming message (SmsStatus=received: MessageSid, From, To, Body, NumMedia,
// MediaUrl0…) or a status callback (MessageSid, MessageStatus, ErrorCode).
func ParseTwilioSMSWebhook(form url.Values) (SMSEvent, error) {
	ev := SMSEvent{
		ProviderMessageID: firstSet(form.Get("MessageSid"), form.Get("SmsSid"), form.Get("SmsMessageSid")),
		From:              strings.TrimSpace(form.Get("From")),
		To:                strings.TrimSpace(form.Get("To")),
	}
	if ev.ProviderMessageID == "" {
		return ev, malformed(NameTwilio, "webhook without MessageSid")
	}
	status := strings.ToLower(firstSet(form.Get("MessageStatus"), form.Get("SmsStatus")))
	if status == "received" || status == "" {
		ev.Kind = SMSEventInbound
		ev.Body = form.Get("Body")
		n, _ := strconv.Atoi(form.Get("NumMedia"))
		for i := 0; i < n && i < maxMedia; i++ {
			if u := form.Get("MediaUrl" + strconv.Itoa(i)); u != "" {
				ev.MediaURLs = append(ev.MediaURLs, u)
			}
		}
		if ev.To == "" || ev.From == "" {
			return ev, malformed(NameTwilio, "incoming message without From or To")
		}
		return ev, nil
	}
	ev.Kind = SMSEventStatus
	ev.RawStatus = status
	switch status {
	case "sent":
		ev.Status = DeliverySent
	case "delivered", "read":
		ev.Status = DeliveryDelivered
	case "failed", "undelivered", "canceled":
		ev.Status = DeliveryFailed
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

// ParseTelnyxSMSWebhook reads a Telnyx messaging webhook (API v2 JSON):
// message.received is an inbound message; message.sent and
// message.finalized report delivery (payload.to[0].status, spec3.yml's
// enum: queued, sending, sent, expired, sending_failed,
// delivery_unconfirmed, delivered, delivery_failed; expired and the three
// failures end the message as failed, queued and sending change nothing).
// Other event types are a status event with no Status (ignored).
func ParseTelnyxSMSWebhook(body []byte) (SMSEvent, error) {
	var w telnyxWebhook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return SMSEvent{}, malformed(NameTelnyx, "webhook body is not JSON")
	}
	p := w.Data.Payload
	ev := SMSEvent{ProviderMessageID: p.ID, From: p.From.PhoneNumber, Body: p.Text}
	// "to" is a list of recipients; accept a single object too.
	var tos []telnyxAddr
	if len(p.To) > 0 && json.Unmarshal(p.To, &tos) != nil {
		var one telnyxAddr
		if json.Unmarshal(p.To, &one) != nil {
			return SMSEvent{}, malformed(NameTelnyx, "payload.to is neither a list nor an object")
		}
		tos = []telnyxAddr{one}
	}
	if len(tos) > 0 {
		ev.To = tos[0].PhoneNumber
	}
	if ev.ProviderMessageID == "" {
		return ev, malformed(NameTelnyx, "webhook without payload.id")
	}
	switch w.Data.EventType {
	case "message.received":
		ev.Kind = SMSEventInbound
		for i, m := range p.Media {
			if i < maxMedia && m.URL != "" {
				ev.MediaURLs = append(ev.MediaURLs, m.URL)
			}
		}
		if ev.To == "" || ev.From == "" {
			return ev, malformed(NameTelnyx, "incoming message without from or to")
		}
		return ev, nil
	case "":
		return ev, malformed(NameTelnyx, "webhook without data.event_type")
	}
	ev.Kind = SMSEventStatus
	if len(tos) > 0 {
		ev.RawStatus = tos[0].Status
	}
	switch ev.RawStatus {
	case "sent":
		ev.Status = DeliverySent
	case "delivered":
		ev.Status = DeliveryDelivered
	case "sending_failed", "delivery_failed", "delivery_unconfirmed", "expired":
		ev.Status = DeliveryFailed
		ev.Error = ev.RawStatus
		if len(p.Errors) > 0 {
			e := p.Errors[0]
			ev.Error = strings.TrimSpace("error " + e.Code + ": " + firstSet(e.Detail, e.Title))
		}
	}
	return ev, nil
}

// ParseVonageSMSWebhook reads a Vonage messaging webhook. params are the
// query or form parameters of the SMS API (inbound: msisdn, to, messageId,
// text; delivery receipt: msisdn, to, messageId, status, err-code); body is
// the JSON of the Messages API (inbound: message_uuid, from, to, text or
// image.url; status: message_uuid, status, error) or, for the SMS API sent
// as JSON, the same fields as params. A JSON body wins when present.
func ParseVonageSMSWebhook(params url.Values, body []byte) (SMSEvent, error) {
	if len(bytes.TrimSpace(body)) > 0 {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || m == nil {
			return SMSEvent{}, malformed(NameVonage, "webhook body is not a JSON object")
		}
		if _, ok := m["message_uuid"]; ok {
			return parseVonageMessages(m)
		}
		params = url.Values{}
		for k, v := range m {
			params.Set(k, jsonScalar(v))
		}
	}
	ev := SMSEvent{
		ProviderMessageID: firstSet(params.Get("messageId"), params.Get("message-id")),
	}
	if ev.ProviderMessageID == "" {
		return ev, malformed(NameVonage, "webhook without messageId")
	}
	if st := params.Get("status"); st != "" {
		// Delivery receipt: msisdn is the recipient, to is our sender.
		ev.Kind = SMSEventStatus
		ev.From, ev.To = e164ish(params.Get("to")), e164ish(params.Get("msisdn"))
		ev.RawStatus = strings.ToLower(st)
		switch ev.RawStatus {
		case "delivered":
			ev.Status = DeliveryDelivered
		case "accepted", "buffered":
			ev.Status = DeliverySent
		case "failed", "expired", "rejected":
			ev.Status = DeliveryFailed
			ev.Error = ev.RawStatus
			if code := params.Get("err-code"); code != "" && code != "0" {
				ev.Error = "err-code " + code + ": " + ev.RawStatus
			}
		}
		return ev, nil
	}
	ev.Kind = SMSEventInbound
	ev.From, ev.To = e164ish(params.Get("msisdn")), e164ish(params.Get("to"))
	ev.Body = params.Get("text")
	if ev.To == "" || ev.From == "" {
		return ev, malformed(NameVonage, "incoming message without msisdn or to")
	}
	return ev, nil
}

func parseVonageMessages(m map[string]any) (SMSEvent, error) {
	str := func(k string) string { return jsonScalar(m[k]) }
	// v1 sends "from"/"to" as strings, v0.1 as {"type":"sms","number":"…"}.
	num := func(k string) string {
		if o, ok := m[k].(map[string]any); ok {
			return e164ish(jsonScalar(o["number"]))
		}
		return e164ish(str(k))
	}
	ev := SMSEvent{ProviderMessageID: str("message_uuid"), From: num("from"), To: num("to")}
	if ev.ProviderMessageID == "" {
		return ev, malformed(NameVonage, "webhook without message_uuid")
	}
	if st := str("status"); st != "" {
		ev.Kind = SMSEventStatus
		ev.RawStatus = strings.ToLower(st)
		switch ev.RawStatus {
		case "submitted":
			ev.Status = DeliverySent
		case "delivered", "read":
			ev.Status = DeliveryDelivered
		case "rejected", "undeliverable", "failed":
			ev.Status = DeliveryFailed
			ev.Error = ev.RawStatus
			if e, ok := m["error"].(map[string]any); ok {
				ev.Error = strings.TrimSpace(ev.RawStatus + ": " + firstSet(jsonScalar(e["title"]), jsonScalar(e["detail"])))
			}
		}
		return ev, nil
	}
	ev.Kind = SMSEventInbound
	ev.Body = str("text")
	for _, k := range []string{"image", "video", "file", "audio"} {
		if media, ok := m[k].(map[string]any); ok {
			if u := jsonScalar(media["url"]); u != "" {
				ev.MediaURLs = append(ev.MediaURLs, u)
			}
			if c := jsonScalar(media["caption"]); c != "" && ev.Body == "" {
				ev.Body = c
			}
		}
	}
	if ev.To == "" || ev.From == "" {
		return ev, malformed(NameVonage, "incoming message without from or to")
	}
	return ev, nil
}

func jsonScalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

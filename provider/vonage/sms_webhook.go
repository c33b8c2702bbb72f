package vonage

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// ParseSMSWebhook reads a Vonage messaging webhook. params are the
// query or form parameters of the SMS API (inbound: msisdn, to, messageId,
// text; delivery receipt: msisdn, to, messageId, status, err-code); body is
// the JSON of the Messages API (inbound: message_uuid, from, to, text or
// image.url; status: message_uuid, status, error) or, for the SMS API sent
// as JSON, the same fields as params. A JSON body wins when present.
func ParseSMSWebhook(params url.Values, body []byte) (provider.SMSEvent, error) {
	if len(bytes.TrimSpace(body)) > 0 {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || m == nil {
			return provider.SMSEvent{}, wire.Malformed(provider.NameVonage, "webhook body is not a JSON object")
		}
		if _, ok := m["message_uuid"]; ok {
			return parseVonageMessages(m)
		}
		params = url.Values{}
		for k, v := range m {
			params.Set(k, wire.JSONScalar(v))
		}
	}
	ev := provider.SMSEvent{
		ProviderMessageID: wire.FirstSet(params.Get("messageId"), params.Get("message-id")),
	}
	if ev.ProviderMessageID == "" {
		return ev, wire.Malformed(provider.NameVonage, "webhook without messageId")
	}
	if st := params.Get("status"); st != "" {
		// Delivery receipt: msisdn is the recipient, to is our sender.
		ev.Kind = provider.SMSEventStatus
		ev.From, ev.To = wire.E164ish(params.Get("to")), wire.E164ish(params.Get("msisdn"))
		ev.RawStatus = strings.ToLower(st)
		switch ev.RawStatus {
		case "delivered":
			ev.Status = provider.DeliveryDelivered
		case "accepted", "buffered":
			ev.Status = provider.DeliverySent
		case "failed", "expired", "rejected":
			ev.Status = provider.DeliveryFailed
			ev.Error = ev.RawStatus
			if code := params.Get("err-code"); code != "" && code != "0" {
				ev.Error = "err-code " + code + ": " + ev.RawStatus
			}
		}
		return ev, nil
	}
	ev.Kind = provider.SMSEventInbound
	ev.From, ev.To = wire.E164ish(params.Get("msisdn")), wire.E164ish(params.Get("to"))
	ev.Body = params.Get("text")
	if ev.To == "" || ev.From == "" {
		return ev, wire.Malformed(provider.NameVonage, "incoming message without msisdn or to")
	}
	return ev, nil
}

func parseVonageMessages(m map[string]any) (provider.SMSEvent, error) {
	str := func(k string) string { return wire.JSONScalar(m[k]) }
	// v1 sends "from"/"to" as strings, v0.1 as {"type":"sms","number":"…"}.
	num := func(k string) string {
		if o, ok := m[k].(map[string]any); ok {
			return wire.E164ish(wire.JSONScalar(o["number"]))
		}
		return wire.E164ish(str(k))
	}
	ev := provider.SMSEvent{ProviderMessageID: str("message_uuid"), From: num("from"), To: num("to")}
	if ev.ProviderMessageID == "" {
		return ev, wire.Malformed(provider.NameVonage, "webhook without message_uuid")
	}
	if st := str("status"); st != "" {
		ev.Kind = provider.SMSEventStatus
		ev.RawStatus = strings.ToLower(st)
		switch ev.RawStatus {
		case "submitted":
			ev.Status = provider.DeliverySent
		case "delivered", "read":
			ev.Status = provider.DeliveryDelivered
		case "rejected", "undeliverable", "failed":
			ev.Status = provider.DeliveryFailed
			ev.Error = ev.RawStatus
			if e, ok := m["error"].(map[string]any); ok {
				ev.Error = strings.TrimSpace(ev.RawStatus + ": " + wire.FirstSet(wire.JSONScalar(e["title"]), wire.JSONScalar(e["detail"])))
			}
		}
		return ev, nil
	}
	ev.Kind = provider.SMSEventInbound
	ev.Body = str("text")
	for _, k := range []string{"image", "video", "file", "audio"} {
		if media, ok := m[k].(map[string]any); ok {
			if u := wire.JSONScalar(media["url"]); u != "" {
				ev.MediaURLs = append(ev.MediaURLs, u)
			}
			if c := wire.JSONScalar(media["caption"]); c != "" && ev.Body == "" {
				ev.Body = c
			}
		}
	}
	if ev.To == "" || ev.From == "" {
		return ev, wire.Malformed(provider.NameVonage, "incoming message without from or to")
	}
	return ev, nil
}

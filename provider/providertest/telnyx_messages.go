package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// TelnyxMessage is one message sent through POST /v2/messages.
type TelnyxMessage struct {
	ID, From, To, Text, WebhookURL string
	MediaURLs                      []string
}

// sendMessage implements POST /v2/messages: {from, to, text, media_urls,
// webhook_url}; 422 (code 40008 / 40300 family) when text and media are
// missing; 200 {"data":{"id","to":[{"phone_number","status":"queued"}]}}.
func (f *Telnyx) sendMessage(w http.ResponseWriter, r *http.Request) {
	var body struct {
		From       string   `json:"from"`
		To         string   `json:"to"`
		Text       string   `json:"text"`
		MediaURLs  []string `json:"media_urls"`
		WebhookURL string   `json:"webhook_url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		telnyxError(w, 400, "10015", "Bad Request", "invalid JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.SendErrors) > 0 {
		e := f.SendErrors[0]
		f.SendErrors = f.SendErrors[1:]
		telnyxError(w, e.Status, strconv.Itoa(e.Code), http.StatusText(e.Status), e.Message)
		return
	}
	if body.Text == "" && len(body.MediaURLs) == 0 {
		telnyxError(w, 422, "40008", "Empty message body", "The message must have text or media.")
		return
	}
	m := TelnyxMessage{ID: fmt.Sprintf("40317%03d-aaaa-bbbb-cccc-%012d", len(f.Messages), len(f.Messages)+1), From: body.From, To: body.To,
		Text: body.Text, WebhookURL: body.WebhookURL, MediaURLs: body.MediaURLs}
	f.Messages = append(f.Messages, m)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"record_type": "message", "id": m.ID, "direction": "outbound",
		"from": map[string]string{"phone_number": m.From}, "to": []map[string]string{{"phone_number": m.To, "status": "queued"}},
		"text": m.Text, "type": map[bool]string{true: "MMS", false: "SMS"}[len(m.MediaURLs) > 0]}})
}

// SentMessages returns a copy of the sent messages.
func (f *Telnyx) SentMessages() []TelnyxMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TelnyxMessage(nil), f.Messages...)
}

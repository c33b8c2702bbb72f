package vonage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// apiCall sends one JSON request to the Messages or Voice API.
func (v *Client) apiCall(ctx context.Context, method, path, auth string, in, out any) error {
	h := http.Header{}
	h.Set("Authorization", auth)
	h.Set("Accept", "application/json")
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return provider.BadRequest(provider.NameVonage, "encoding request: %v", err)
		}
		h.Set("Content-Type", "application/json")
	}
	resp, err := v.core.Do(ctx, method, v.api+path, h, body)
	if err != nil {
		return err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return classifyVonageProblem(resp.Status, resp.Body)
	}
	if out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrProviderDown, Status: resp.Status, Message: "unexpected answer: " + err.Error()}
		}
	}
	return nil
}

// SendMessage sends a text through the SMS API (sms/json, with callback for
// the delivery receipt) and a message with media through the Messages API
// (channel mms, one image, webhook_url for its status). Both are POSTs, sent
// once.
func (v *Client) SendMessage(ctx context.Context, m provider.Message) (provider.SentMessage, error) {
	if m.To == "" || m.From == "" || (m.Body == "" && len(m.MediaURLs) == 0) {
		return provider.SentMessage{}, provider.BadRequest(provider.NameVonage, "message needs from, to and a body or media")
	}
	if len(m.MediaURLs) > 0 {
		return v.sendMMS(ctx, m)
	}
	return v.sendSMS(ctx, m)
}

func (v *Client) sendSMS(ctx context.Context, m provider.Message) (provider.SentMessage, error) {
	if !v.creds.MessagingReady() {
		return provider.SentMessage{}, &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrInvalidCredentials, Message: "the SMS API needs the API key and secret"}
	}
	form := url.Values{}
	form.Set("api_key", v.creds.APIKey)
	form.Set("api_secret", v.creds.APISecret)
	form.Set("from", vonageSMSFrom(m.From))
	form.Set("to", wire.DigitsOnly(m.To))
	form.Set("text", m.Body)
	if !isGSMish(m.Body) {
		form.Set("type", "unicode")
	}
	if m.StatusCallback != "" {
		form.Set("callback", m.StatusCallback)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("Accept", "application/json")
	resp, err := v.core.Do(ctx, http.MethodPost, v.rest+"/sms/json", h, []byte(form.Encode()))
	if err != nil {
		return provider.SentMessage{}, err
	}
	if e := classifyVonageSMS(resp.Status, resp.Body); e != nil {
		return provider.SentMessage{}, e
	}
	msgs, _ := parseVonageSMS(resp.Body)
	// A long text is split into parts, each with its own id; the first
	// accepted one identifies the message.
	for _, p := range msgs {
		if p.Status == "0" {
			return provider.SentMessage{ProviderMessageID: p.MessageID, Status: "submitted"}, nil
		}
	}
	return provider.SentMessage{ProviderMessageID: msgs[0].MessageID, Status: "submitted"}, nil
}

func (v *Client) sendMMS(ctx context.Context, m provider.Message) (provider.SentMessage, error) {
	if len(m.MediaURLs) > 1 {
		return provider.SentMessage{}, provider.BadRequest(provider.NameVonage, "an MMS carries one image on Vonage, got %d media URLs", len(m.MediaURLs))
	}
	auth, err := v.messagesAuth()
	if err != nil {
		return provider.SentMessage{}, err
	}
	type image struct {
		URL     string `json:"url"`
		Caption string `json:"caption,omitempty"`
	}
	body := struct {
		MessageType string `json:"message_type"`
		Channel     string `json:"channel"`
		To          string `json:"to"`
		From        string `json:"from"`
		Image       image  `json:"image"`
		WebhookURL  string `json:"webhook_url,omitempty"`
	}{"image", "mms", wire.DigitsOnly(m.To), wire.DigitsOnly(m.From), image{m.MediaURLs[0], m.Body}, m.StatusCallback}
	var res struct {
		MessageUUID string `json:"message_uuid"`
	}
	if err := v.apiCall(ctx, http.MethodPost, "/v1/messages", auth, body, &res); err != nil {
		return provider.SentMessage{}, err
	}
	return provider.SentMessage{ProviderMessageID: res.MessageUUID, Status: "submitted"}, nil
}

// messagesAuth prefers the application JWT, else Basic key:secret.
func (v *Client) messagesAuth() (string, error) {
	if v.key != nil && set(v.creds.ApplicationID) {
		return v.bearer()
	}
	if v.creds.MessagingReady() {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(v.creds.APIKey+":"+v.creds.APISecret)), nil
	}
	return "", &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrInvalidCredentials, Message: "the Messages API needs an application or the API key and secret"}
}

// isGSMish reports whether every rune is printable ASCII or a newline: such
// a text goes as type=text, anything else as type=unicode.
func isGSMish(s string) bool {
	for _, r := range s {
		if r > 0x7e || (r < 0x20 && r != '\n' && r != '\r') {
			return false
		}
	}
	return true
}

// vonageSMSFrom is the SMS API's "from" (sms.yml 1.0.10, commit ad042003:
// "The name or number the message should be sent from … If alphanumeric,
// spaces will be ignored. Numbers are specified in E.164 format" with no
// '+'): a sender with a letter is an alphanumeric sender ID, sent as given;
// a number is sent as its digits.
func vonageSMSFrom(from string) string {
	from = strings.TrimSpace(from)
	for _, r := range from {
		if unicode.IsLetter(r) {
			return from
		}
	}
	return wire.DigitsOnly(from)
}

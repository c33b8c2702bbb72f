package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Vonage fakes the Vonage SMS API (POST /sms/json on rest.nexmo.com): it
// checks api_key and api_secret and answers in the API's shape, where a
// failure is a 200 with a non-zero per-message "status" and "error-text"
// (1 throttled, 2 missing params, 4 invalid credentials, 5 internal error,
// 9 partner quota exceeded). It also fakes the Messages API (POST
// /v1/messages on api.nexmo.com) for MMS, with Basic key:secret auth,
// answering 202 {"message_uuid"} or an RFC 7807 problem. Serve both from
// URL().
type Vonage struct {
	Server    *httptest.Server
	APIKey    string
	APISecret string

	mu sync.Mutex
	// Messages are the accepted messages.
	Messages []VonageSMS
	// MMS are the accepted Messages API messages.
	MMS []VonageMMS
	// SendStatuses are answered, in order, to the next sends: a Vonage SMS
	// status code ("1" throttled, ...) with its error text.
	SendStatuses []VonageStatus
}

// VonageSMS is one accepted message.
type VonageSMS struct {
	ID, From, To, Text, Type, Callback string
}

// VonageMMS is one accepted Messages API message.
type VonageMMS struct {
	UUID, From, To, Channel, ImageURL, Caption, WebhookURL string
}

// VonageStatus is a per-message failure of the SMS API.
type VonageStatus struct{ Status, ErrorText string }

// NewVonage starts a fake Vonage SMS API for one key and secret.
func NewVonage(t testing.TB, apiKey, apiSecret string) *Vonage {
	f := &Vonage{APIKey: apiKey, APISecret: apiSecret}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sms/json", f.send)
	mux.HandleFunc("POST /v1/messages", f.message)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Server.Close)
	return f
}

// URL is the base URL to configure as VONAGE_REST_BASE_URL.
func (f *Vonage) URL() string { return f.Server.URL }

func vonageAnswer(w http.ResponseWriter, msgs ...map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"message-count": fmt.Sprint(len(msgs)), "messages": msgs})
}

func (f *Vonage) send(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		vonageAnswer(w, map[string]string{"status": "3", "error-text": "Invalid value for parameter"})
		return
	}
	p := r.PostForm
	if p.Get("api_key") != f.APIKey || p.Get("api_secret") != f.APISecret {
		vonageAnswer(w, map[string]string{"status": "4", "error-text": "Bad Credentials"})
		return
	}
	if p.Get("from") == "" || p.Get("to") == "" || p.Get("text") == "" {
		vonageAnswer(w, map[string]string{"status": "2", "error-text": "Missing from param"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.SendStatuses) > 0 {
		st := f.SendStatuses[0]
		f.SendStatuses = f.SendStatuses[1:]
		vonageAnswer(w, map[string]string{"status": st.Status, "error-text": st.ErrorText})
		return
	}
	m := VonageSMS{ID: fmt.Sprintf("0A%014X", len(f.Messages)+1), From: p.Get("from"), To: p.Get("to"), Text: p.Get("text"),
		Type: p.Get("type"), Callback: p.Get("callback")}
	f.Messages = append(f.Messages, m)
	vonageAnswer(w, map[string]string{"to": m.To, "message-id": m.ID, "status": "0", "remaining-balance": "3.14159265",
		"message-price": "0.03330000", "network": "23410"})
}

// SentMessages returns a copy of the accepted messages.
func (f *Vonage) SentMessages() []VonageSMS {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]VonageSMS(nil), f.Messages...)
}

func vonageProblem(w http.ResponseWriter, status int, typ, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"type": "https://developer.vonage.com/api-errors/messages#" + typ, "title": title, "detail": detail})
}

func (f *Vonage) message(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != f.APIKey || pass != f.APISecret {
		vonageProblem(w, 401, "1010", "Unauthorized", "You did not provide correct credentials.")
		return
	}
	var body struct {
		MessageType string `json:"message_type"`
		Channel     string `json:"channel"`
		To          string `json:"to"`
		From        string `json:"from"`
		Image       struct {
			URL     string `json:"url"`
			Caption string `json:"caption"`
		} `json:"image"`
		WebhookURL string `json:"webhook_url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.To == "" || body.From == "" {
		vonageProblem(w, 422, "1150", "Invalid params", "The value of one or more parameters is invalid.")
		return
	}
	if body.Channel != "mms" || body.MessageType != "image" || body.Image.URL == "" {
		vonageProblem(w, 422, "1150", "Invalid params", "an mms image message needs image.url")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m := VonageMMS{UUID: fmt.Sprintf("aaaaaaaa-bbbb-cccc-dddd-%012d", len(f.MMS)+1), From: body.From, To: body.To, Channel: body.Channel,
		ImageURL: body.Image.URL, Caption: body.Image.Caption, WebhookURL: body.WebhookURL}
	f.MMS = append(f.MMS, m)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(202)
	json.NewEncoder(w).Encode(map[string]string{"message_uuid": m.UUID})
}

// SentMMS returns a copy of the accepted Messages API messages.
func (f *Vonage) SentMMS() []VonageMMS {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]VonageMMS(nil), f.MMS...)
}

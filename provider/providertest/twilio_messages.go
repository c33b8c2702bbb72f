package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// FakeError is a provider failure a fake answers with: the HTTP status and
// the provider's own code and message.
type FakeError struct {
	Status  int
	Code    int
	Message string
}

// TwilioMessage is one created Message.
type TwilioMessage struct {
	SID, From, To, Body, StatusCallback string
	MediaURLs                           []string
}

// createMessage implements POST /Accounts/{sid}/Messages.json: To, From (or
// MessagingServiceSid), Body and/or MediaUrl; 21602 without a body or media,
// 21211 for a To that is not E.164; 201 with status "queued".
func (f *Twilio) createMessage(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.mu.Lock()
	if len(f.SendErrors) > 0 {
		e := f.SendErrors[0]
		f.SendErrors = f.SendErrors[1:]
		f.mu.Unlock()
		twilioError(w, e.Status, e.Code, e.Message)
		return
	}
	to, from, body := form.Get("To"), form.Get("From"), form.Get("Body")
	switch {
	case len(to) < 2 || to[0] != '+':
		f.mu.Unlock()
		twilioError(w, 400, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	case from == "" && form.Get("MessagingServiceSid") == "":
		f.mu.Unlock()
		twilioError(w, 400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
		return
	case body == "" && len(form["MediaUrl"]) == 0:
		f.mu.Unlock()
		twilioError(w, 400, 21602, "Message body is required.")
		return
	}
	m := TwilioMessage{SID: fmt.Sprintf("SM%032x", len(f.Messages)+1), From: from, To: to, Body: body,
		StatusCallback: form.Get("StatusCallback"), MediaURLs: form["MediaUrl"]}
	f.Messages = append(f.Messages, m)
	hook := f.OnSend
	f.mu.Unlock()
	if hook != nil { // before the answer: the client sees its effects
		hook(m)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]any{"sid": m.SID, "account_sid": f.AccountSID, "from": m.From, "to": m.To, "body": m.Body,
		"status": "queued", "num_segments": "1", "num_media": fmt.Sprint(len(m.MediaURLs)), "direction": "outbound-api",
		"error_code": nil, "error_message": nil, "uri": r.URL.Path[:len(r.URL.Path)-len(".json")] + "/" + m.SID + ".json"})
}

// SentMessages returns a copy of the created messages.
func (f *Twilio) SentMessages() []TwilioMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TwilioMessage(nil), f.Messages...)
}

// FailNextSends queues errors for the next message creations.
func (f *Twilio) FailNextSends(errs ...FakeError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.SendErrors = append(f.SendErrors, errs...)
}

// SetOnSend sets (nil clears) the hook run after each accepted message.
func (f *Twilio) SetOnSend(hook func(TwilioMessage)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.OnSend = hook
}

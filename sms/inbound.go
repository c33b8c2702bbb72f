package sms

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
)

// Consent keywords: a message made of one of them (any case, surrounding
// spaces ignored) opts its sender out of, or back in to, our number.
var (
	optOutKeywords = map[string]bool{"STOP": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true}
	optInKeywords  = map[string]bool{"START": true, "UNSTOP": true}
)

// ConsentKeyword classifies an inbound body: "opt_out", "opt_in" or "".
func ConsentKeyword(body string) (action, keyword string) {
	k := strings.ToUpper(strings.TrimSpace(body))
	switch {
	case optOutKeywords[k]:
		return "opt_out", k
	case optInKeywords[k]:
		return "opt_in", k
	}
	return "", ""
}

// ForwardPayload is what an assistant's sms_webhook_url receives.
type ForwardPayload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      ForwardData `json:"data"`
}

// ForwardData describes the received message.
type ForwardData struct {
	MessageID string   `json:"message_id"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Body      string   `json:"body"`
	MediaURLs []string `json:"media_urls"`
	Provider  string   `json:"provider"`
}

// Receive stores a verified inbound message of the organization, applies
// consent keywords and queues its forwarding to the number's assistant. A
// message the provider delivers again is recognised (dup=true) and neither
// stored nor forwarded twice.
func (s *Service) Receive(ctx context.Context, orgID int64, providerName string, ev provider.SMSEvent) (m *db.SMSMessage, dup bool, err error) {
	log := s.opts.Log.With("org_id", orgID, "provider", providerName)
	ev = storable(ev)
	nums, _, err := s.store.ListNumbers(ctx, orgID, db.NumberFilter{Exact: ev.To}, db.Page{Limit: 1})
	if err != nil {
		return nil, false, err
	}
	var assistantID *string
	if len(nums) == 1 {
		assistantID = firstNonNil(nums[0].AssistantID, nums[0].OutboundAssistantID)
	}
	// Consent first: both operations are idempotent, so a crash before the
	// message is stored cannot lose an opt-out. A redelivery of a message
	// already stored is not applied again (a STOP delivered twice must not
	// undo a START sent in between).
	already, err := s.store.InboundSMSStored(ctx, orgID, providerName, ev.ProviderMessageID)
	if err != nil {
		return nil, false, err
	}
	action, kw := ConsentKeyword(ev.Body)
	if already {
		action = ""
	}
	switch action {
	case "opt_out":
		if err := s.store.SetOptOut(ctx, orgID, ev.To, ev.From, kw); err != nil {
			return nil, false, err
		}
		log.Info("sms opt-out", "keyword", kw)
	case "opt_in":
		if err := s.store.ClearOptOut(ctx, orgID, ev.To, ev.From); err != nil {
			return nil, false, err
		}
		log.Info("sms opt-in", "keyword", kw)
	}
	segs, enc := provider.CountSegments(ev.Body)
	rec := &db.SMSMessage{ID: db.NewID(), OrgID: orgID, AssistantID: assistantID, FromNumber: ev.From, ToNumber: ev.To,
		Body: ev.Body, MediaURLs: db.StringList(ev.MediaURLs), Provider: providerName, ProviderMessageID: ev.ProviderMessageID,
		Segments: segs, Encoding: enc}
	var fwd *db.SMSForward
	if assistantID != nil {
		a, err := s.store.GetAssistant(ctx, orgID, *assistantID)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return nil, false, err
		}
		if a != nil && a.SMSWebhookURL != "" {
			media := ev.MediaURLs
			if media == nil {
				media = []string{}
			}
			body, err := json.Marshal(ForwardPayload{Type: "sms_received", Timestamp: s.store.Now().UTC(), Data: ForwardData{
				MessageID: rec.ID, From: ev.From, To: ev.To, Body: ev.Body, MediaURLs: media, Provider: providerName}})
			if err != nil {
				return nil, false, err
			}
			fwd = &db.SMSForward{ID: db.NewID(), AssistantID: a.ID, URL: a.SMSWebhookURL, Payload: string(body)}
		}
	}
	m, dup, err = s.store.StoreInboundSMS(ctx, rec, fwd)
	if err != nil {
		return nil, false, err
	}
	if dup {
		log.Info("sms webhook delivered again, already stored", "sms_id", m.ID)
		return m, true, nil
	}
	log.Info("sms received", "sms_id", m.ID, "forward", fwd != nil)
	if fwd != nil {
		wake(s.wakeF)
	}
	return m, false, nil
}

// ApplyStatus applies a verified delivery report. Intermediate states
// change nothing; a report for a message not yet recorded as sent is kept
// (smsdb.ErrReportHeld) and applied when it is.
func (s *Service) ApplyStatus(ctx context.Context, orgID int64, providerName string, ev provider.SMSEvent) (*db.SMSMessage, error) {
	status := ""
	switch ev.Status {
	case provider.DeliveryDelivered:
		status = db.SMSDelivered
	case provider.DeliveryFailed:
		status = db.SMSFailed
	}
	m, err := s.store.ApplySMSStatus(ctx, orgID, providerName, ev.ProviderMessageID, status, ev.Error)
	if err == nil {
		s.opts.Log.Info("sms status", "org_id", orgID, "sms_id", m.ID, "provider_status", ev.RawStatus, "status", m.Status)
	}
	return m, err
}

// storable makes outside text fit a text column: valid UTF-8 (invalid bytes
// become U+FFFD) without NUL, which PostgreSQL refuses.
func storable(ev provider.SMSEvent) provider.SMSEvent {
	clean := func(v string) string { return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "\uFFFD") }
	ev.From, ev.To, ev.Body, ev.ProviderMessageID = clean(ev.From), clean(ev.To), clean(ev.Body), clean(ev.ProviderMessageID)
	media := make([]string, 0, len(ev.MediaURLs))
	for _, u := range ev.MediaURLs {
		media = append(media, clean(u))
	}
	ev.MediaURLs = media
	return ev
}

func firstNonNil[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

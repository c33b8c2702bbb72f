package smsapi

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"github.com/sipbridge/sipbridge/hooksign"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Limits of a send request.
const (
	smsMaxChars  = 1600
	smsMaxMedia  = 10
	idemMaxChars = 255
)

type smsSendInput struct {
	FromPhoneNumber string   `json:"from_phone_number" required:"true" doc:"E.164; an active number of the organization with an assistant"`
	ToPhoneNumber   string   `json:"to_phone_number" required:"true" doc:"E.164"`
	Message         string   `json:"message" required:"true" doc:"1–1600 characters"`
	MediaURLs       []string `json:"media_urls" required:"false" doc:"up to 10 http(s) URLs (makes it an MMS; Vonage carries one)"`
	Queue           *bool    `json:"queue" doc:"default true: answer once queued; false: send before answering"`
	IdempotencyKey  string   `json:"idempotency_key" required:"false" doc:"the Idempotency-Key header wins; a key already used answers with the first message and sends nothing"`
}

type smsSendResult struct {
	Success   bool   `json:"success" doc:"false when the message failed"`
	MessageID string `json:"message_id"`
	Message   string `json:"message" doc:"what happened, in words"`
	Provider  string `json:"provider"`
	Status    string `json:"status" doc:"queued | sent | failed (or the current state of a replayed message)"`
	Segments  int    `json:"segments"`
	Encoding  string `json:"encoding" doc:"GSM-7 | UCS-2"`
}

type smsForwardView struct {
	Status      string     `json:"status" doc:"pending | sending | delivered | failed"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error"`
	DeliveredAt *time.Time `json:"delivered_at"`
}

type smsView struct {
	ID                string          `json:"id"`
	Direction         string          `json:"direction" doc:"outbound | inbound"`
	ConversationID    string          `json:"conversation_id"`
	AssistantID       *string         `json:"assistant_id"`
	From              string          `json:"from"`
	To                string          `json:"to"`
	Body              string          `json:"body"`
	MediaURLs         []string        `json:"media_urls"`
	Provider          string          `json:"provider"`
	ProviderMessageID string          `json:"provider_message_id"`
	Status            string          `json:"status" doc:"queued | sending | sent | delivered | failed | cancelled (outbound); received (inbound)"`
	Error             string          `json:"error"`
	Segments          int             `json:"segments"`
	Encoding          string          `json:"encoding"`
	Attempts          int             `json:"attempts"`
	NextAttemptAt     *time.Time      `json:"next_attempt_at"`
	SentAt            *time.Time      `json:"sent_at"`
	DeliveredAt       *time.Time      `json:"delivered_at"`
	Forward           *smsForwardView `json:"forward,omitempty" doc:"inbound: the forwarding to the assistant's sms_webhook_url"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

type conversationView struct {
	ID              string    `json:"id"`
	AssistantNumber string    `json:"assistant_number"`
	CustomerNumber  string    `json:"customer_number"`
	AssistantID     *string   `json:"assistant_id"`
	MessageCount    int       `json:"message_count"`
	OptedOut        bool      `json:"opted_out" doc:"the customer sent STOP (or UNSUBSCRIBE, CANCEL, END, QUIT) to this number"`
	LastMessageAt   time.Time `json:"last_message_at"`
	CreatedAt       time.Time `json:"created_at"`
}

type smsQueueStats struct {
	Queued          int64      `json:"queued" doc:"waiting for the worker, due or backing off"`
	Due             int64      `json:"due" doc:"queued and due now"`
	Sending         int64      `json:"sending" doc:"held by a worker"`
	OldestQueuedAt  *time.Time `json:"oldest_queued_at"`
	ForwardsPending int64      `json:"forwards_pending" doc:"inbound messages not yet accepted by the assistant's endpoint"`
	ForwardsFailed  int64      `json:"forwards_failed"`
}

type smsCounts struct {
	Sent      int64 `json:"sent" doc:"accepted by the provider (sent or delivered since)"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
	Queued    int64 `json:"queued" doc:"queued or sending"`
	Cancelled int64 `json:"cancelled"`
	Received  int64 `json:"received"`
}

type smsStats struct {
	smsCounts
	ByProvider map[string]smsCounts `json:"by_provider"`
}

type webhookSecretView struct {
	AssistantID string `json:"assistant_id"`
	Secret      string `json:"secret" doc:"shown only in this answer"`
	Header      string `json:"header"`
	Algorithm   string `json:"algorithm"`
}

func (s *Server) smsService() (*sms.Service, error) {
	if s.sms == nil {
		return nil, &httpapi.APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "SMS is not configured"}
	}
	return s.sms, nil
}

// smsWording: a message is sent from from_phone_number, which is also what
// a voice-only number is refused as; sending names no assistant.
var smsWording = httpapi.Wording{Fields: map[string]string{"phone_number": "from_phone_number"},
	Field: map[error]string{numbers.ErrVoiceOnly: "from_phone_number", numbers.ErrAssistantNotFound: ""}}

func smsError(err error) error { return httpapi.ErrorIn(err, smsWording) }

// checkSMSText allows line breaks and tabs, nothing else of the control characters.
func checkSMSText(field, v string) error {
	if !utf8.ValidString(v) {
		return httpapi.Invalid(field, "%s must be valid UTF-8", field)
	}
	n := utf8.RuneCountInString(v)
	if n < 1 || strings.TrimSpace(v) == "" {
		return httpapi.Invalid(field, "%s is required (1–%d characters)", field, smsMaxChars)
	}
	if n > smsMaxChars {
		return httpapi.Invalid(field, "%s must be at most %d characters, got %d", field, smsMaxChars, n)
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return httpapi.Invalid(field, "%s must not contain control characters other than line breaks and tabs", field)
		}
	}
	return nil
}

func (s *Server) sendSMS(c echo.Context) error {
	svc, err := s.smsService()
	if err != nil {
		return err
	}
	var in smsSendInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	from, _, err := httpapi.NormalizeE164("from_phone_number", strings.TrimSpace(in.FromPhoneNumber))
	if err != nil {
		return err
	}
	to, _, err := httpapi.NormalizeE164("to_phone_number", strings.TrimSpace(in.ToPhoneNumber))
	if err != nil {
		return err
	}
	if err := checkSMSText("message", in.Message); err != nil {
		return err
	}
	if len(in.MediaURLs) > smsMaxMedia {
		return httpapi.Invalid("media_urls", "media_urls holds at most %d URLs, got %d", smsMaxMedia, len(in.MediaURLs))
	}
	for _, u := range in.MediaURLs {
		if u == "" {
			return httpapi.Invalid("media_urls", "media_urls must not hold empty URLs")
		}
		if err := httpapi.CheckURL("media_urls", u, "https", "http"); err != nil {
			return err
		}
	}
	key := in.IdempotencyKey
	if h := c.Request().Header.Get("Idempotency-Key"); h != "" {
		key = h
	}
	if key != "" {
		if err := httpapi.CheckText("idempotency_key", key, idemMaxChars); err != nil {
			return err
		}
	}
	queue := in.Queue == nil || *in.Queue
	m, replayed, err := svc.Send(c.Request().Context(), httpapi.OrgID(c), sms.SendInput{From: from, To: to, Body: in.Message,
		MediaURLs: in.MediaURLs, Queue: queue, IdempotencyKey: key})
	if err != nil {
		return smsError(err)
	}
	if replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	res := smsSendResult{Success: m.Status != db.SMSFailed && m.Status != db.SMSCancelled, MessageID: m.ID, Provider: m.Provider,
		Status: m.Status, Segments: m.Segments, Encoding: m.Encoding}
	switch m.Status {
	case db.SMSQueued, db.SMSSending:
		res.Message = "SMS queued for delivery"
		if m.Error != "" {
			res.Message += " (retrying: " + m.Error + ")"
		}
	case db.SMSFailed:
		res.Message = "SMS failed: " + m.Error
	case db.SMSCancelled:
		res.Message = "SMS cancelled"
	default:
		res.Message = "SMS " + m.Status
	}
	if replayed {
		res.Message += " (idempotent replay of the first request)"
	}
	return c.JSON(http.StatusOK, res)
}

func smsViewOf(m *db.SMSMessage, f *db.SMSForward) smsView {
	media := []string(m.MediaURLs)
	if media == nil {
		media = []string{}
	}
	v := smsView{ID: m.ID, Direction: m.Direction, ConversationID: m.ConversationID, AssistantID: m.AssistantID, From: m.FromNumber,
		To: m.ToNumber, Body: m.Body, MediaURLs: media, Provider: m.Provider, ProviderMessageID: m.ProviderMessageID, Status: m.Status,
		Error: m.Error, Segments: m.Segments, Encoding: m.Encoding, Attempts: m.Attempts, SentAt: m.SentAt, DeliveredAt: m.DeliveredAt,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if m.Status == db.SMSQueued {
		v.NextAttemptAt = m.NextAttemptAt
	}
	if f != nil {
		v.Forward = &smsForwardView{Status: f.Status, Attempts: f.Attempts, LastError: f.LastError, DeliveredAt: f.DeliveredAt}
	}
	return v
}

func (s *Server) getSMS(c echo.Context) error {
	ctx := c.Request().Context()
	m, err := s.store.GetSMS(ctx, httpapi.OrgID(c), c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.NotFound("message")
	}
	if err != nil {
		return err
	}
	var fwd *db.SMSForward
	if m.Direction == db.SMSInbound {
		if f, err := s.store.ForwardOf(ctx, m.OrgID, m.ID); err == nil {
			fwd = f
		} else if !errors.Is(err, db.ErrNotFound) {
			return err
		}
	}
	return c.JSON(http.StatusOK, smsViewOf(m, fwd))
}

func (s *Server) cancelSMS(c echo.Context) error {
	svc, err := s.smsService()
	if err != nil {
		return err
	}
	m, err := svc.Cancel(c.Request().Context(), httpapi.OrgID(c), c.Param("id"))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return httpapi.NotFound("message")
	case errors.Is(err, smsdb.ErrNotQueued):
		return httpapi.Conflict("", "the message is %s, only a queued message can be cancelled", m.Status)
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, smsViewOf(m, nil))
}

func (s *Server) smsQueueStats(c echo.Context) error {
	st, err := s.store.QueueStats(c.Request().Context(), httpapi.OrgID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, smsQueueStats{Queued: st.Queued, Due: st.Due, Sending: st.Sending, OldestQueuedAt: st.OldestQueuedAt,
		ForwardsPending: st.ForwardsPending, ForwardsFailed: st.ForwardsFailed})
}

func (sc *smsCounts) add(status string, n int64) {
	switch status {
	case db.SMSSent:
		sc.Sent += n
	case db.SMSDelivered:
		sc.Sent += n
		sc.Delivered += n
	case db.SMSFailed:
		sc.Failed += n
	case db.SMSQueued, db.SMSSending:
		sc.Queued += n
	case db.SMSCancelled:
		sc.Cancelled += n
	case db.SMSReceived:
		sc.Received += n
	}
}

func (s *Server) smsStats(c echo.Context) error {
	counts, err := s.store.SMSCounts(c.Request().Context(), httpapi.OrgID(c))
	if err != nil {
		return err
	}
	out := smsStats{ByProvider: map[string]smsCounts{}}
	for _, k := range counts {
		out.smsCounts.add(k.Status, k.N)
		p := out.ByProvider[k.Provider]
		p.add(k.Status, k.N)
		out.ByProvider[k.Provider] = p
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) listConversations(c echo.Context) error {
	skip, limit, err := httpapi.Page(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	convs, total, err := s.store.ListConversations(ctx, httpapi.OrgID(c), db.Page{Skip: skip, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]conversationView, 0, len(convs))
	for _, cv := range convs {
		out = append(out, conversationView{ID: cv.ID, AssistantNumber: cv.AssistantNumber, CustomerNumber: cv.CustomerNumber,
			AssistantID: cv.AssistantID, MessageCount: cv.MessageCount, OptedOut: cv.OptedOut, LastMessageAt: cv.LastMessageAt, CreatedAt: cv.CreatedAt})
	}
	return httpapi.WriteList(c, out, total, skip, limit)
}

func (s *Server) conversationMessages(c echo.Context) error {
	skip, limit, err := httpapi.Page(c)
	if err != nil {
		return err
	}
	msgs, total, err := s.store.ConversationMessages(c.Request().Context(), httpapi.OrgID(c), c.Param("id"), db.Page{Skip: skip, Limit: limit})
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.NotFound("conversation")
	}
	if err != nil {
		return err
	}
	out := make([]smsView, 0, len(msgs))
	for i := range msgs {
		out = append(out, smsViewOf(&msgs[i], nil))
	}
	return httpapi.WriteList(c, out, total, skip, limit)
}

func (s *Server) rotateSMSSecret(c echo.Context) error {
	svc, err := s.smsService()
	if err != nil {
		return err
	}
	id := c.Param("id")
	secret, err := svc.RotateWebhookSecret(c.Request().Context(), httpapi.OrgID(c), id)
	if err != nil {
		return smsError(err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, webhookSecretView{AssistantID: id, Secret: secret, Header: hooksign.SignatureHeader,
		Algorithm: "hex(HMAC-SHA256(secret, raw request body))"})
}

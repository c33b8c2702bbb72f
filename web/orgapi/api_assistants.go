package orgapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

type assistantTwilioView struct {
	AccountSID   string `json:"account_sid"`
	AuthTokenSet bool   `json:"auth_token_set"`
}

type assistantTelnyxView struct {
	APIKeySet    bool   `json:"api_key_set"`
	ConnectionID string `json:"connection_id"`
}

type assistantView struct {
	ID                     string              `json:"id"`
	Name                   string              `json:"name"`
	StreamURL              string              `json:"stream_url"`
	SMSWebhookURL          string              `json:"sms_webhook_url"`
	TwilioConfig           assistantTwilioView `json:"twilio_config"`
	TelnyxConfig           assistantTelnyxView `json:"telnyx_config"`
	FallbackTransferNumber string              `json:"fallback_transfer_number"`
	RecordingEnabled       bool                `json:"recording_enabled"`
	WelcomeMessage         string              `json:"welcome_message"`
	AudioFormat            string              `json:"audio_format" doc:"mulaw_8k | l16_16k"`
	AnswerMode             string              `json:"answer_mode" doc:"assistant_ready | early_ringback"`
	WelcomeAudio           string              `json:"welcome_audio" doc:"WAV file under WELCOME_AUDIO_DIR played at the answer (\"\": none)"`
	Metadata               map[string]any      `json:"metadata"`
	ResolvedProvider       *resolvedProvider   `json:"resolved_provider" doc:"which provider and credential level voice calls would use (null: none configured)"`
	PhoneNumbers           []assistantNumber   `json:"phone_numbers" doc:"the numbers whose inbound calls this assistant answers"`
	CreatedAt              time.Time           `json:"created_at"`
	UpdatedAt              time.Time           `json:"updated_at"`
}

// The provider configs' fields: absent leaves a value, null or "" clears it.
type assistantTwilioInput struct {
	AccountSID httpapi.Opt[string] `json:"account_sid" doc:"null or \"\" clears"`
	AuthToken  httpapi.Opt[string] `json:"auth_token" doc:"write-only; null or \"\" clears"`
}

type assistantTelnyxInput struct {
	APIKey       httpapi.Opt[string] `json:"api_key" doc:"write-only; null or \"\" clears"`
	ConnectionID httpapi.Opt[string] `json:"connection_id" doc:"null or \"\" clears"`
}

// optPtr is an Opt field as httpapi.SetText/httpapi.SetSecret take it: nil when absent,
// "" when null.
func optPtr(o httpapi.Opt[string]) *string {
	switch {
	case !o.Set:
		return nil
	case o.Null:
		return new(string)
	}
	return &o.Value
}

type assistantInput struct {
	Name                   *string               `json:"name" required:"true"`
	StreamURL              *string               `json:"stream_url" doc:"ws:// or wss:// URL of the voice-AI runtime (Twilio Media Streams protocol); the address policy refuses loopback, link-local and metadata hosts"`
	SMSWebhookURL          *string               `json:"sms_webhook_url" doc:"http(s) URL receiving inbound SMS; no user:password@, the address policy applies as to stream_url"`
	TwilioConfig           *assistantTwilioInput `json:"twilio_config"`
	TelnyxConfig           *assistantTelnyxInput `json:"telnyx_config"`
	FallbackTransferNumber *string               `json:"fallback_transfer_number" doc:"E.164 number or sip: URI"`
	RecordingEnabled       *bool                 `json:"recording_enabled"`
	WelcomeMessage         *string               `json:"welcome_message"`
	AudioFormat            *string               `json:"audio_format" doc:"the audio of the media messages, both ways: mulaw_8k (μ-law 8 kHz, the default) or l16_16k (16-bit linear PCM little endian, 16 kHz: the full band of a wideband SIP call)"`
	AnswerMode             *string               `json:"answer_mode" doc:"when inbound calls are answered: assistant_ready (default: once the assistant's stream is up) or early_ringback (early media, a 183 with a ringback tone, while the assistant connects; then the answer)"`
	WelcomeAudio           *string               `json:"welcome_audio" doc:"a WAV file's path relative to WELCOME_AUDIO_DIR (letters, digits, '.', '_', '-' and '/' between names; no '..'), played to the caller from the answer; the assistant's audio follows it; \"\" clears"`
	Metadata               *map[string]any       `json:"metadata"`
	PhoneNumbers           *[]assistantNumber    `json:"phone_numbers" doc:"the numbers this assistant answers, each already the organization's (POST /api/v1/phone-numbers/purchase registers one); replaces the assistant's current list, [] unassigns all; absent leaves them"`
}

// assistantNumber is one of an assistant's numbers, in its view and in
// the phone_numbers field of a create or update.
type assistantNumber struct {
	ID          string `json:"id,omitempty" doc:"the number's id (in answers)"`
	PhoneNumber string `json:"phone_number" required:"true" doc:"E.164 number the organization already has"`
	Provider    string `json:"provider" doc:"twilio|telnyx|vonage|byo-sip-trunk; when sent, must be the number's provider"`
}

// maxAssistantNumbers bounds the phone_numbers list of one request.
const maxAssistantNumbers = 100

type resolvedProvider struct {
	Provider string `json:"provider" doc:"telnyx | twilio | vonage"`
	Level    string `json:"level" doc:"assistant | organization | environment"`
}

func (s *Server) assistantView(ctx context.Context, a *db.Assistant, numbers []db.PhoneNumber) (assistantView, error) {
	sec, err := s.store.AssistantSecrets(a)
	if err != nil {
		return assistantView{}, err
	}
	var rp *resolvedProvider
	if s.numbers != nil {
		name, level, ok, err := s.numbers.Creds().Voice(ctx, a)
		if err != nil {
			return assistantView{}, err
		}
		if ok {
			rp = &resolvedProvider{Provider: name, Level: level}
		}
	}
	md := map[string]any(a.Metadata)
	if md == nil {
		md = map[string]any{}
	}
	nums := make([]assistantNumber, 0, len(numbers))
	for _, n := range numbers {
		nums = append(nums, assistantNumber{ID: n.ID, PhoneNumber: n.PhoneNumber, Provider: n.Provider})
	}
	return assistantView{PhoneNumbers: nums,
		ID: a.ID, Name: a.Name, StreamURL: a.StreamURL, SMSWebhookURL: a.SMSWebhookURL,
		TwilioConfig:           assistantTwilioView{AccountSID: a.Config.TwilioAccountSID, AuthTokenSet: sec.TwilioAuthToken != ""},
		TelnyxConfig:           assistantTelnyxView{APIKeySet: sec.TelnyxAPIKey != "", ConnectionID: a.Config.TelnyxConnectionID},
		FallbackTransferNumber: a.FallbackTransferNumber, RecordingEnabled: a.RecordingEnabled,
		WelcomeMessage: a.WelcomeMessage, AudioFormat: cmp.Or(a.Config.AudioFormat, assistant.AudioMulaw8k),
		AnswerMode: a.AnswerMode, WelcomeAudio: a.WelcomeAudio, Metadata: md, ResolvedProvider: rp, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}, nil
}

func (s *Server) applyAssistant(ctx context.Context, a *db.Assistant, sec *db.AssistantSecrets, in *assistantInput) error {
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return httpapi.Invalid("name", "name must not be empty")
		}
		if err := httpapi.SetText(&a.Name, in.Name, "name", 200); err != nil {
			return err
		}
	}
	if a.Name == "" {
		return httpapi.Invalid("name", "name is required")
	}
	if in.StreamURL != nil {
		if err := s.CheckURLAddress(ctx, "stream_url", *in.StreamURL, "ws", "wss"); err != nil {
			return err
		}
		a.StreamURL = *in.StreamURL
	}
	if in.SMSWebhookURL != nil {
		if err := s.CheckURLAddress(ctx, "sms_webhook_url", *in.SMSWebhookURL, "http", "https"); err != nil {
			return err
		}
		a.SMSWebhookURL = *in.SMSWebhookURL
	}
	if t := in.TwilioConfig; t != nil {
		if err := httpapi.SetText(&a.Config.TwilioAccountSID, optPtr(t.AccountSID), "twilio_config.account_sid", 64); err != nil {
			return err
		}
		if err := httpapi.SetSecret(&sec.TwilioAuthToken, optPtr(t.AuthToken), "twilio_config.auth_token", 256); err != nil {
			return err
		}
	}
	if t := in.TelnyxConfig; t != nil {
		if err := httpapi.SetText(&a.Config.TelnyxConnectionID, optPtr(t.ConnectionID), "telnyx_config.connection_id", 128); err != nil {
			return err
		}
		if err := httpapi.SetSecret(&sec.TelnyxAPIKey, optPtr(t.APIKey), "telnyx_config.api_key", 512); err != nil {
			return err
		}
	}
	if in.FallbackTransferNumber != nil {
		v := strings.TrimSpace(*in.FallbackTransferNumber)
		switch {
		case v == "":
		case strings.HasPrefix(v, "sip:") || strings.HasPrefix(v, "sips:"):
			if err := httpapi.CheckToken("fallback_transfer_number", v, 255); err != nil {
				return err
			}
			if err := s.CheckSIPTarget(ctx, "fallback_transfer_number", v); err != nil {
				return err
			}
		default:
			if _, _, err := httpapi.NormalizeE164("fallback_transfer_number", v); err != nil {
				return err
			}
		}
		a.FallbackTransferNumber = v
	}
	if in.RecordingEnabled != nil {
		a.RecordingEnabled = *in.RecordingEnabled
	}
	if err := httpapi.SetText(&a.WelcomeMessage, in.WelcomeMessage, "welcome_message", 2000); err != nil {
		return err
	}
	if f := in.AudioFormat; f != nil {
		if *f != assistant.AudioMulaw8k && *f != assistant.AudioL16k16 {
			return httpapi.Invalid("audio_format", "audio_format must be mulaw_8k or l16_16k")
		}
		a.Config.AudioFormat = strings.TrimPrefix(*f, assistant.AudioMulaw8k) // the default is stored as ""
	}
	if err := s.applyAnswer(a, in); err != nil {
		return err
	}
	if in.Metadata != nil {
		a.Metadata = db.JSONMap(*in.Metadata)
	}
	return httpapi.CheckMetadata(in.Metadata)
}

// assistantNumberIDs checks a phone_numbers list and returns the ids of
// the organization's numbers it names, in order. Every refusal names the
// entry's field.
func (s *Server) assistantNumberIDs(ctx context.Context, orgID int64, in []assistantNumber) ([]string, error) {
	if len(in) > maxAssistantNumbers {
		return nil, httpapi.Invalid("phone_numbers", "phone_numbers may hold at most %d numbers", maxAssistantNumbers)
	}
	ids := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, e := range in {
		field := fmt.Sprintf("phone_numbers[%d].phone_number", i)
		num, _, err := httpapi.NormalizeE164(field, strings.TrimSpace(e.PhoneNumber))
		if err != nil {
			return nil, err
		}
		if seen[num] {
			return nil, httpapi.Invalid(field, "%s is listed twice", num)
		}
		seen[num] = true
		if e.Provider != "" && !httpapi.ValidProvider(e.Provider) {
			return nil, httpapi.Invalid(fmt.Sprintf("phone_numbers[%d].provider", i), "provider must be one of twilio, telnyx, vonage, byo-sip-trunk")
		}
		found, err := numbers.Lookup(ctx, s.store, orgID, num)
		if errors.Is(err, numbers.ErrNumberNotFound) {
			return nil, httpapi.Invalid(field, "%s is not one of the organization's numbers: register it first (POST /api/v1/phone-numbers/purchase)", num)
		}
		if err != nil {
			return nil, err
		}
		if e.Provider != "" && found.Provider != e.Provider {
			return nil, httpapi.Invalid(fmt.Sprintf("phone_numbers[%d].provider", i), "%s is a %s number, not %s", num, found.Provider, e.Provider)
		}
		ids = append(ids, found.ID)
	}
	return ids, nil
}

// saveAssistant stores the assistant and, when the request sent
// phone_numbers, its numbers, then answers its view with status.
func (s *Server) saveAssistant(c echo.Context, a *db.Assistant, sec db.AssistantSecrets, in *assistantInput, status int) error {
	ctx := c.Request().Context()
	var ids []string
	if in.PhoneNumbers != nil {
		var err error
		if ids, err = s.assistantNumberIDs(ctx, a.OrgID, *in.PhoneNumbers); err != nil {
			return err
		}
	}
	if err := s.store.SaveAssistant(ctx, a, sec); err != nil {
		return err
	}
	if in.PhoneNumbers != nil {
		if err := s.store.SetAssistantNumbers(ctx, a.OrgID, a.ID, ids); err != nil {
			return err
		}
	}
	return s.writeAssistant(c, a, status)
}

// writeAssistant answers one assistant's view.
func (s *Server) writeAssistant(c echo.Context, a *db.Assistant, status int) error {
	ctx := c.Request().Context()
	nums, err := s.store.AssistantNumbers(ctx, a.OrgID, []string{a.ID})
	if err != nil {
		return err
	}
	v, err := s.assistantView(ctx, a, nums[a.ID])
	if err != nil {
		return err
	}
	return c.JSON(status, v)
}

func (s *Server) listAssistants(c echo.Context) error {
	skip, limit, err := httpapi.Page(c)
	if err != nil {
		return err
	}
	items, total, err := s.store.ListAssistants(c.Request().Context(), httpapi.OrgID(c), db.Page{Skip: skip, Limit: limit})
	if err != nil {
		return err
	}
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = items[i].ID
	}
	nums, err := s.store.AssistantNumbers(c.Request().Context(), httpapi.OrgID(c), ids)
	if err != nil {
		return err
	}
	out := make([]assistantView, 0, len(items))
	for i := range items {
		v, err := s.assistantView(c.Request().Context(), &items[i], nums[items[i].ID])
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return httpapi.WriteList(c, out, total, skip, limit)
}

func (s *Server) createAssistant(c echo.Context) error {
	var in assistantInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	a := &db.Assistant{OrgID: httpapi.OrgID(c), Metadata: db.JSONMap{}}
	var sec db.AssistantSecrets
	if err := s.applyAssistant(c.Request().Context(), a, &sec, &in); err != nil {
		return err
	}
	return s.saveAssistant(c, a, sec, &in, http.StatusCreated)
}

func (s *Server) loadAssistant(c echo.Context) (*db.Assistant, error) {
	a, err := s.store.GetAssistant(c.Request().Context(), httpapi.OrgID(c), c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return nil, httpapi.NotFound("assistant")
	}
	return a, err
}

func (s *Server) getAssistant(c echo.Context) error {
	a, err := s.loadAssistant(c)
	if err != nil {
		return err
	}
	return s.writeAssistant(c, a, http.StatusOK)
}

func (s *Server) putAssistant(c echo.Context) error {
	a, err := s.loadAssistant(c)
	if err != nil {
		return err
	}
	var in assistantInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	sec, err := s.store.AssistantSecrets(a)
	if err != nil {
		return err
	}
	if err := s.applyAssistant(c.Request().Context(), a, &sec, &in); err != nil {
		return err
	}
	return s.saveAssistant(c, a, sec, &in, http.StatusOK)
}

func (s *Server) deleteAssistant(c echo.Context) error {
	if err := s.store.DeleteAssistant(c.Request().Context(), httpapi.OrgID(c), c.Param("id")); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return httpapi.NotFound("assistant")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

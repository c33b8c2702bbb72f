package web

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/sms"
)

// maxWebhookBody bounds a provider webhook body.
const maxWebhookBody = 256 << 10

type webhookAck struct {
	Status    string `json:"status" doc:"received | duplicate | updated | held | ignored"`
	MessageID string `json:"message_id,omitempty"`
}

func (s *Server) smsWebhookRoutes() {
	w := func(method, path, summary string, h echo.HandlerFunc) {
		s.handle(nil, operation{Method: method, Path: path, Summary: summary, Tag: "webhooks", Resp: webhookAck{}}, h)
	}
	w(http.MethodPost, "/webhooks/sms/twilio", "Twilio inbound message or status callback (X-Twilio-Signature verified with the owning organization's auth token)", s.smsWebhook(provider.NameTwilio))
	w(http.MethodPost, "/webhooks/sms/telnyx", "Telnyx messaging webhook (Ed25519 over timestamp|body, 5-minute window)", s.smsWebhook(provider.NameTelnyx))
	w(http.MethodGet, "/webhooks/sms/vonage", "Vonage inbound SMS or delivery receipt (signed JWT or SMS API sig)", s.smsWebhook(provider.NameVonage))
	w(http.MethodPost, "/webhooks/sms/vonage", "Vonage inbound message or status (signed JWT or SMS API sig)", s.smsWebhook(provider.NameVonage))
}

func readWebhookBody(c echo.Context) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxWebhookBody+1))
	if err != nil {
		return nil, invalid("", "cannot read request body")
	}
	if len(body) > maxWebhookBody {
		return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "webhook body too large"}
	}
	return body, nil
}

func mediaType(c echo.Context) string {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	return mt
}

// rejectWebhook answers 403 and logs why (never the signature or a key).
func (s *Server) rejectWebhook(c echo.Context, providerName string, err error) error {
	s.smsRejected.WithLabelValues(providerName).Inc()
	reqLogger(c, s.log).Warn("sms webhook rejected", "provider", providerName, "reason", err.Error())
	return &APIError{Status: http.StatusForbidden, Code: "invalid_signature", Message: "webhook signature missing or invalid"}
}

// badSMSWebhook is the 400 for a signed webhook whose event cannot be read:
// a fixed message, the parse error logged.
func badSMSWebhook(perr error) error {
	return &APIError{Status: http.StatusBadRequest, Code: "bad_webhook", Message: "malformed provider webhook", cause: perr}
}

// smsWebhook binds a provider's SMS webhook: the sms service verifies and
// acts on it; this answers. Twilio gets empty TwiML (no automatic reply),
// the others the JSON acknowledgement.
func (s *Server) smsWebhook(providerName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.sms == nil {
			return &APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "SMS is not configured"}
		}
		body, err := readWebhookBody(c)
		if err != nil {
			return err
		}
		out, err := s.sms.Webhook(c.Request().Context(), providerName, sms.WebhookRequest{
			URL: c.Request().URL, Header: c.Request().Header, Body: body, MediaType: mediaType(c)})
		var rejected *sms.RejectedError
		var malformed *sms.MalformedError
		switch {
		case errors.As(err, &rejected):
			return s.rejectWebhook(c, providerName, rejected)
		case errors.As(err, &malformed):
			return badSMSWebhook(malformed.Err)
		case err != nil:
			return err
		}
		if providerName == provider.NameTwilio {
			return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
		}
		return c.JSON(http.StatusOK, webhookAck{Status: out.Status, MessageID: out.MessageID})
	}
}

package smsapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

type webhookAck struct {
	Status    string `json:"status" doc:"received | duplicate | updated | held | ignored"`
	MessageID string `json:"message_id,omitempty"`
}

func (s *Server) smsWebhookRoutes() {
	w := func(method, path, summary string, h echo.HandlerFunc) {
		s.Handle(httpapi.Operation{Method: method, Path: path, Summary: summary, Tag: "webhooks", Resp: webhookAck{}}, h)
	}
	w(http.MethodPost, "/webhooks/sms/twilio", "Twilio inbound message or status callback (X-Twilio-Signature verified with the owning organization's auth token)", s.smsWebhook(provider.NameTwilio))
	w(http.MethodPost, "/webhooks/sms/telnyx", "Telnyx messaging webhook (Ed25519 over timestamp|body, 5-minute window)", s.smsWebhook(provider.NameTelnyx))
	w(http.MethodGet, "/webhooks/sms/vonage", "Vonage inbound SMS or delivery receipt (signed JWT or SMS API sig)", s.smsWebhook(provider.NameVonage))
	w(http.MethodPost, "/webhooks/sms/vonage", "Vonage inbound message or status (signed JWT or SMS API sig)", s.smsWebhook(provider.NameVonage))
}

// rejectWebhook answers 403 and logs why (never the signature or a key).
func (s *Server) rejectWebhook(c echo.Context, providerName string, err error) error {
	s.smsRejected.WithLabelValues(providerName).Inc()
	httpapi.Logger(c, s.log).Warn("sms webhook rejected", "provider", providerName, "reason", err.Error())
	return &httpapi.APIError{Status: http.StatusForbidden, Code: "invalid_signature", Message: "webhook signature missing or invalid"}
}

// badSMSWebhook is the 400 for a signed webhook whose event cannot be read:
// a fixed message, the parse error logged.
func badSMSWebhook(perr error) error {
	return &httpapi.APIError{Status: http.StatusBadRequest, Code: "bad_webhook", Message: "malformed provider webhook", Cause: perr}
}

// smsWebhook binds a provider's SMS webhook: the sms service verifies and
// acts on it; this answers. Twilio gets empty TwiML (no automatic reply),
// the others the JSON acknowledgement.
func (s *Server) smsWebhook(providerName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.sms == nil {
			return &httpapi.APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "SMS is not configured"}
		}
		body, err := httpapi.ReadWebhookBody(c)
		if err != nil {
			return err
		}
		out, err := s.sms.Webhook(c.Request().Context(), providerName, sms.WebhookRequest{
			URL: c.Request().URL, Header: c.Request().Header, Body: body, MediaType: httpapi.MediaType(c)})
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

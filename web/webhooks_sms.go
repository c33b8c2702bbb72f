package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/controller"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
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
	w(http.MethodPost, "/webhooks/sms/twilio", "Twilio inbound message or status callback (X-Twilio-Signature verified with the owning organization's auth token)", s.twilioSMSWebhook)
	w(http.MethodPost, "/webhooks/sms/telnyx", "Telnyx messaging webhook (Ed25519 over timestamp|body, 5-minute window)", s.telnyxSMSWebhook)
	w(http.MethodGet, "/webhooks/sms/vonage", "Vonage inbound SMS or delivery receipt (signed JWT or SMS API sig)", s.vonageSMSWebhook)
	w(http.MethodPost, "/webhooks/sms/vonage", "Vonage inbound message or status (signed JWT or SMS API sig)", s.vonageSMSWebhook)
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

// verifierFor finds the organization and key of a parsed event, or the 403.
func (s *Server) verifierFor(c echo.Context, providerName string, ev provider.SMSEvent) (controller.WebhookVerifier, error) {
	id := ""
	if ev.Kind == provider.SMSEventStatus {
		id = ev.ProviderMessageID
	}
	v, err := s.sms.WebhookVerifier(c.Request().Context(), providerName, ev.OwnNumber(), id)
	if errors.Is(err, controller.ErrWebhookUnverifiable) {
		return v, s.rejectWebhook(c, providerName, err)
	}
	return v, err
}

// dispatch acts on a verified event.
func (s *Server) dispatch(c echo.Context, orgID int64, providerName string, ev provider.SMSEvent) (webhookAck, error) {
	ctx := c.Request().Context()
	if ev.Kind == provider.SMSEventInbound {
		m, dup, err := s.sms.Receive(ctx, orgID, providerName, ev)
		if err != nil {
			return webhookAck{}, err
		}
		if dup {
			return webhookAck{Status: "duplicate", MessageID: m.ID}, nil
		}
		return webhookAck{Status: "received", MessageID: m.ID}, nil
	}
	if ev.Status == "" || ev.Status == provider.DeliverySent {
		return webhookAck{Status: "ignored"}, nil
	}
	m, err := s.sms.ApplyStatus(ctx, orgID, providerName, ev)
	if errors.Is(err, db.ErrReportHeld) {
		// The report raced the end of the send: kept, applied when the send
		// is recorded.
		return webhookAck{Status: "held"}, nil
	}
	if err != nil {
		return webhookAck{}, err
	}
	return webhookAck{Status: "updated", MessageID: m.ID}, nil
}

func (s *Server) twilioSMSWebhook(c echo.Context) error {
	if s.sms == nil {
		return &APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "SMS is not configured"}
	}
	body, err := readWebhookBody(c)
	if err != nil {
		return err
	}
	isJSON := mediaType(c) == echo.MIMEApplicationJSON
	var params url.Values
	if isJSON {
		params, err = flatJSON(body)
	} else {
		params, err = url.ParseQuery(string(body))
	}
	if err != nil {
		return s.rejectWebhook(c, provider.NameTwilio, errors.New("unreadable body"))
	}
	ev, perr := provider.ParseTwilioSMSWebhook(params)
	if perr != nil && ev.OwnNumber() == "" {
		return s.rejectWebhook(c, provider.NameTwilio, perr)
	}
	v, err := s.verifierFor(c, provider.NameTwilio, ev)
	if err != nil {
		return err
	}
	base := s.sms.PublicBaseURL()
	if base == "" {
		return s.rejectWebhook(c, provider.NameTwilio, errors.New("PUBLIC_BASE_URL is not set: the signed URL is unknown"))
	}
	full := base + c.Request().URL.RequestURI()
	sig := c.Request().Header.Get(provider.TwilioSignatureHeader)
	if isJSON {
		err = provider.VerifyTwilioBodySignature(v.TwilioAuthToken, full, body, sig)
	} else {
		err = provider.VerifyTwilioSignature(v.TwilioAuthToken, full, params, sig)
	}
	if err != nil {
		return s.rejectWebhook(c, provider.NameTwilio, err)
	}
	if perr != nil {
		return badSMSWebhook(perr)
	}
	if _, err := s.dispatch(c, v.OrgID, provider.NameTwilio, ev); err != nil {
		return err
	}
	// Empty TwiML: no automatic reply.
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
}

func (s *Server) telnyxSMSWebhook(c echo.Context) error {
	if s.sms == nil {
		return &APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "SMS is not configured"}
	}
	body, err := readWebhookBody(c)
	if err != nil {
		return err
	}
	ev, perr := provider.ParseTelnyxSMSWebhook(body)
	if perr != nil && ev.OwnNumber() == "" {
		return s.rejectWebhook(c, provider.NameTelnyx, perr)
	}
	v, err := s.verifierFor(c, provider.NameTelnyx, ev)
	if err != nil {
		return err
	}
	if err := provider.VerifyTelnyxRequest(v.TelnyxPublicKey, c.Request().Header, body, s.store.Now()); err != nil {
		return s.rejectWebhook(c, provider.NameTelnyx, err)
	}
	if perr != nil {
		return badSMSWebhook(perr)
	}
	ack, err := s.dispatch(c, v.OrgID, provider.NameTelnyx, ev)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ack)
}

// vonageSigMethods guesses the SMS API signature method from the length of
// the hex sig: 32 md5hash or md5 (HMAC), 40 sha1, 64 sha256, 128 sha512.
func vonageSigMethods(sig string) []string {
	switch len(sig) {
	case 32:
		return []string{provider.VonageSigMD5Hash, provider.VonageSigMD5}
	case 40:
		return []string{provider.VonageSigSHA1}
	case 64:
		return []string{provider.VonageSigSHA256}
	case 128:
		return []string{provider.VonageSigSHA512}
	}
	return nil
}

func (s *Server) vonageSMSWebhook(c echo.Context) error {
	if s.sms == nil {
		return &APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "SMS is not configured"}
	}
	body, err := readWebhookBody(c)
	if err != nil {
		return err
	}
	params := c.Request().URL.Query()
	var jsonBody []byte
	if len(bytes.TrimSpace(body)) > 0 {
		if mediaType(c) == echo.MIMEApplicationJSON {
			jsonBody = body
		} else {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return s.rejectWebhook(c, provider.NameVonage, errors.New("unreadable body"))
			}
			for k, vs := range form {
				params[k] = append(params[k], vs...)
			}
		}
	}
	ev, perr := provider.ParseVonageSMSWebhook(params, jsonBody)
	if perr != nil && ev.OwnNumber() == "" {
		return s.rejectWebhook(c, provider.NameVonage, perr)
	}
	v, err := s.verifierFor(c, provider.NameVonage, ev)
	if err != nil {
		return err
	}
	now := s.store.Now()
	if auth := c.Request().Header.Get(echo.HeaderAuthorization); auth != "" {
		// A signed token covers the body only (payload_hash): take nothing
		// from the query, and require a body it covers.
		if c.Request().URL.RawQuery != "" || len(bytes.TrimSpace(body)) == 0 {
			return s.rejectWebhook(c, provider.NameVonage, errors.New("a signed JWT webhook must carry its data in the signed body, not the query"))
		}
		var claims provider.VonageClaims
		claims, err = provider.VerifyVonageJWT(v.VonageSignatureSecret, auth, body, now)
		if err == nil && s.vonageReplays.Seen(claims.JTI, now) {
			err = errors.New("JWT already used (jti replayed)")
		}
	} else {
		signed := params
		if jsonBody != nil {
			if signed, err = flatJSON(jsonBody); err != nil {
				return s.rejectWebhook(c, provider.NameVonage, errors.New("unreadable body"))
			}
		}
		err = errors.New("neither a signed JWT (Authorization) nor a sig parameter")
		for _, method := range vonageSigMethods(signed.Get("sig")) {
			if err = provider.VerifyVonageSMSSignature(signed, v.VonageSignatureSecret, method, now); err == nil {
				break
			}
		}
	}
	if err != nil {
		return s.rejectWebhook(c, provider.NameVonage, err)
	}
	if perr != nil {
		return badSMSWebhook(perr)
	}
	ack, err := s.dispatch(c, v.OrgID, provider.NameVonage, ev)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ack)
}

// flatJSON reads a JSON object of scalars as parameters.
func flatJSON(body []byte) (url.Values, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	out := url.Values{}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out.Set(k, x)
		case json.Number:
			out.Set(k, x.String())
		case bool:
			out.Set(k, strconv.FormatBool(x))
		default: // nested objects are not covered by the sig: refuse them
			return nil, errors.New("nested JSON values are not signed by sig")
		}
	}
	return out, nil
}

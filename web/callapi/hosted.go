package callapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/provider/vonage"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// HostedService is what the web layer needs of the hosted-provider voice
// path (call/hosted): the providers' voice webhooks, the media
// websocket and call control of live hosted calls.
type HostedService interface {
	TwilioVoice(ctx context.Context, requestURI string, form url.Values, signature string) (string, error)
	TwilioStatus(ctx context.Context, requestURI string, form url.Values, signature string) error
	TwilioAMD(ctx context.Context, requestURI string, form url.Values, signature string) error
	TelnyxWebhook(ctx context.Context, header http.Header, body []byte) error
	VonageAnswer(ctx context.Context, query url.Values, body []byte, authorization string) ([]byte, error)
	VonageEvent(ctx context.Context, body []byte, authorization string) error
	CheckStreamToken(callID, token string) error
	ServeStream(conn call.StreamConn, callID string)
	Hangup(ctx context.Context, orgID int64, callID string) error
	Transfer(ctx context.Context, orgID int64, callID, to string, mode call.TransferMode) error
}

var _ HostedService = (*hosted.Path)(nil)

// A HostedService is what web's call.Chooser hands a hosted call's hangup
// and transfer to.
var _ call.Controls = HostedService(nil)

func (s *Server) hostedRoutes() {
	s.Handle(httpapi.Operation{Method: http.MethodPost, Path: "/twiml", Summary: "Twilio voice webhook (X-Twilio-Signature): TwiML <Connect><Stream> to /streams, or <Reject/> for a number without an assistant", Tag: "hosted-voice", Raw: "application/xml"}, s.twiml)
	s.Handle(httpapi.Operation{Method: http.MethodPost, Path: "/twiml/status", Summary: "Twilio status callback of outbound calls (X-Twilio-Signature): busy, no-answer, failed, canceled and completed close the record", Tag: "hosted-voice", Resp: map[string]string{}}, s.twimlStatus)
	s.Handle(httpapi.Operation{Method: http.MethodPost, Path: "/twiml/amd", Summary: "Twilio asynchronous answering machine detection of outbound calls placed with amd (X-Twilio-Signature): AnsweredBy goes to the assistant as an amd event, and amd_action applies", Tag: "hosted-voice", Resp: map[string]string{}}, s.twimlAMD)
	s.Handle(httpapi.Operation{Method: http.MethodPost, Path: "/telnyx-webhook", Summary: "Telnyx Call Control webhook (Ed25519 signature): call.initiated is answered with a bidirectional stream to /streams, call.hangup closes the record", Tag: "hosted-voice", Resp: map[string]string{}}, s.telnyxWebhook)
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		s.Handle(httpapi.Operation{Method: m, Path: "/vonage-webhook", Summary: "Vonage answer_url (signed JWT; a GET's payload_hash covers its query parameters as compact JSON): an NCCO connecting the call to /streams", Tag: "hosted-voice", Resp: []map[string]any{}}, s.vonageAnswer)
	}
	s.Handle(httpapi.Operation{Method: http.MethodPost, Path: "/vonage-webhook/event", Summary: "Vonage event_url: answered and final call statuses update the record", Tag: "hosted-voice", Resp: map[string]string{}}, s.vonageEvent)
	s.Handle(httpapi.Operation{Method: http.MethodGet, Path: "/streams", Summary: "Media websocket of hosted calls: Twilio Media Streams (token in start.customParameters), Telnyx and Vonage (?call_id=&token=)", Tag: "hosted-voice", Raw: "websocket"}, s.hostedStream)
}

func (s *Server) hostedReady() error {
	if s.hosted == nil {
		return &httpapi.APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "the hosted-provider voice path is not running"}
	}
	return nil
}

// twilioForm reads a Twilio webhook's form (the body only: the query is
// part of the signed URL).
func twilioForm(c echo.Context) (url.Values, error) {
	body, err := httpapi.ReadWebhookBody(c)
	if err != nil {
		return nil, err
	}
	if ct := c.Request().Header.Get(echo.HeaderContentType); !strings.HasPrefix(strings.ToLower(ct), echo.MIMEApplicationForm) {
		return nil, &httpapi.APIError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Twilio webhooks are application/x-www-form-urlencoded"}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &httpapi.APIError{Status: http.StatusBadRequest, Code: "bad_webhook", Message: "malformed form"}
	}
	return form, nil
}

func (s *Server) twimlStatus(c echo.Context) error {
	if err := s.hostedReady(); err != nil {
		return err
	}
	form, err := twilioForm(c)
	if err != nil {
		return err
	}
	if err := s.hosted.TwilioStatus(c.Request().Context(), c.Request().URL.RequestURI(), form, c.Request().Header.Get("X-Twilio-Signature")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) twimlAMD(c echo.Context) error {
	if err := s.hostedReady(); err != nil {
		return err
	}
	form, err := twilioForm(c)
	if err != nil {
		return err
	}
	if err := s.hosted.TwilioAMD(c.Request().Context(), c.Request().URL.RequestURI(), form, c.Request().Header.Get("X-Twilio-Signature")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) twiml(c echo.Context) error {
	if err := s.hostedReady(); err != nil {
		return err
	}
	form, err := twilioForm(c)
	if err != nil {
		return err
	}
	out, err := s.hosted.TwilioVoice(c.Request().Context(), c.Request().URL.RequestURI(), form, c.Request().Header.Get("X-Twilio-Signature"))
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/xml", []byte(out))
}

func (s *Server) telnyxWebhook(c echo.Context) error {
	if err := s.hostedReady(); err != nil {
		return err
	}
	body, err := httpapi.ReadWebhookBody(c)
	if err != nil {
		return err
	}
	if err := s.hosted.TelnyxWebhook(c.Request().Context(), c.Request().Header, body); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) vonageAnswer(c echo.Context) error {
	if err := s.hostedReady(); err != nil {
		return err
	}
	// The signed payload: the body of a POST; for a GET (Vonage's default
	// answer_method) the query parameters as one compact JSON object, which
	// is what Vonage's payload_hash covers. Its fields are the same as a
	// POST body's, so the controller reads either alike.
	var body []byte
	var err error
	if c.Request().Method == http.MethodPost {
		body, err = httpapi.ReadWebhookBody(c)
	} else if body, err = vonage.QueryPayload(c.Request().URL.RawQuery); err != nil {
		err = &httpapi.APIError{Status: http.StatusBadRequest, Code: "bad_webhook", Message: "malformed query string", Cause: err}
	}
	if err != nil {
		return err
	}
	out, err := s.hosted.VonageAnswer(c.Request().Context(), c.QueryParams(), body, c.Request().Header.Get(echo.HeaderAuthorization))
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, out)
}

func (s *Server) vonageEvent(c echo.Context) error {
	if err := s.hostedReady(); err != nil {
		return err
	}
	body, err := httpapi.ReadWebhookBody(c)
	if err != nil {
		return err
	}
	if err := s.hosted.VonageEvent(c.Request().Context(), body, c.Request().Header.Get(echo.HeaderAuthorization)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) hostedStream(c echo.Context) error {
	if err := s.hostedReady(); err != nil {
		return err
	}
	callID, token := c.QueryParam("call_id"), c.QueryParam("token")
	if callID != "" || token != "" {
		if err := s.hosted.CheckStreamToken(callID, token); err != nil {
			s.log.Warn("hosted media websocket refused: unknown call or bad token", "call_id", callID, "remote", c.RealIP())
			return err
		}
	}
	conn, err := streamUpgrader.Upgrade(c.Response(), c.Request(), nil)
	if err == nil {
		conn.SetReadLimit(maxStreamMessage) // no message of any stream comes near it
	}
	if err != nil {
		return nil // the upgrader answered the client already
	}
	s.hosted.ServeStream(conn, callID)
	return nil
}

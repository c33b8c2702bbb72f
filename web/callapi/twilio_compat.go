package callapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// The Twilio-compatible call-control route: voice-AI runtimes built for
// Twilio end or transfer a call by updating it through Twilio's REST API
// (POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json, form
// encoded, HTTP Basic). Pointed at sipbridge, the same request reaches the
// hangup and transfer of /api/v1/calls/{id}/hangup and /transfer. The
// username is the organization's account SID (call.TwilioAccountSID,
// also start.accountSid), the password one of its API keys; errors have
// Twilio's shape {"code","message","more_info","status"}.

const (
	twilioCallPath = "/2010-04-01/Accounts/:AccountSid/Calls/:CallSid.json"
	// twilioCallParam is echo's name for the CallSid segment: a parameter
	// runs to the next '/', ".json" included.
	twilioCallParam  = "CallSid.json"
	twilioAPIVersion = "2010-04-01"
	// twilioTimeLayout is how Twilio writes dates (RFC 2822, UTC).
	twilioTimeLayout = "Mon, 02 Jan 2006 15:04:05 -0700"
)

// twilioCallUpdate documents the form of a call update.
type twilioCallUpdate struct {
	Status string `json:"Status" required:"false" doc:"completed: hang up (a ringing call is cancelled); canceled: hang up a ringing call (no effect on one in progress)"`
	Twiml  string `json:"Twiml" required:"false" doc:"<Response><Dial>+15551234567</Dial></Response>, <Dial><Number>…</Number></Dial> or <Dial><Sip>sip:…</Sip></Dial>: transfer (as POST /api/v1/calls/{id}/transfer); <Response><Hangup/></Response>: hang up. Nothing else."`
	URL    string `json:"Url" required:"false" doc:"not supported (400): sipbridge does not fetch TwiML"`
}

// twilioCall is a call in the shape of Twilio's Call resource, with what
// sipbridge knows.
type twilioCall struct {
	SID         string  `json:"sid" doc:"the CallSid the request named"`
	AccountSID  string  `json:"account_sid"`
	From        string  `json:"from"`
	To          string  `json:"to"`
	Status      string  `json:"status" doc:"ringing, in-progress, completed, canceled or failed"`
	Direction   string  `json:"direction" doc:"inbound or outbound-api"`
	DateCreated string  `json:"date_created" doc:"RFC 2822"`
	DateUpdated string  `json:"date_updated" doc:"RFC 2822"`
	StartTime   *string `json:"start_time" doc:"answered at (RFC 2822)"`
	EndTime     *string `json:"end_time" doc:"ended at (RFC 2822)"`
	Duration    *string `json:"duration" doc:"seconds, once ended"`
	APIVersion  string  `json:"api_version"`
	URI         string  `json:"uri"`
}

// twilioError is Twilio's error body.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func (e *twilioError) Error() string { return e.Message }

// newTwilioError builds an error body; code 0 picks Twilio's code for the
// status: 20003 Authenticate (401), 20001 for a bad parameter (400), else
// 20000 + the status (20404, 20409, 20422, 20500, 20503, … as Twilio has).
func newTwilioError(status, code int, msg string) *twilioError {
	if code == 0 {
		switch status {
		case http.StatusBadRequest:
			code = 20001
		case http.StatusUnauthorized:
			code = 20003
		default:
			code = 20000 + status
		}
	}
	return &twilioError{Code: code, Message: msg, MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), Status: status}
}

// twilioParam is a 400 naming the form parameter.
func twilioParam(name, msg string) *twilioError {
	return newTwilioError(http.StatusBadRequest, 0, "Invalid parameter "+name+": "+msg)
}

func (s *Server) twilioCompatRoutes() {
	const sum = "Twilio-compatible call update (HTTP Basic: the organization's twilio_compat_account_sid and an API key; form encoded): " +
		"Status=completed hangs up, Status=canceled cancels a ringing call, Twiml=<Response><Dial>…</Dial></Response> transfers"
	s.Handle(httpapi.Operation{Method: http.MethodPost, Path: twilioCallPath, Summary: sum, Tag: "twilio-compatible", Basic: true,
		Req: twilioCallUpdate{}, ReqType: echo.MIMEApplicationForm, Resp: twilioCall{}, ErrResp: twilioError{}}, s.twilioRoute(s.twilioUpdateCall))
	s.Handle(httpapi.Operation{Method: http.MethodGet, Path: twilioCallPath, Summary: "Twilio-compatible call fetch (HTTP Basic, as the update)",
		Tag: "twilio-compatible", Basic: true, Resp: twilioCall{}, ErrResp: twilioError{}}, s.twilioRoute(s.twilioFetchCall))
}

// twilioRoute writes the handler's errors in Twilio's shape.
func (s *Server) twilioRoute(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := h(c)
		if err == nil {
			return nil
		}
		var te *twilioError
		if !errors.As(err, &te) {
			ae := httpapi.ToAPIError(err)
			if ae.Status >= 500 {
				httpapi.Logger(c, s.log).Error("request failed", "err", err)
			}
			te = newTwilioError(ae.Status, 0, ae.Message)
			if ae.Status == http.StatusBadRequest && ae.Field != "" {
				te = twilioParam(ae.Field, ae.Message)
			}
		}
		if te.Status == http.StatusUnauthorized {
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="sipbridge"`)
		}
		return c.JSON(te.Status, te)
	}
}

// twilioAuth checks HTTP Basic: an API key as the password, and the
// organization's account SID as the username and in the path. The key may
// come without its "sb_" prefix: twilio-go refuses a password that is not
// alphanumeric before sending anything.
func (s *Server) twilioAuth(c echo.Context) (int64, error) {
	unauthorized := newTwilioError(http.StatusUnauthorized, 20003, "Authenticate")
	user, key, ok := c.Request().BasicAuth()
	if !ok || user == "" || key == "" {
		return 0, unauthorized
	}
	if !strings.HasPrefix(key, "sb_") {
		key = "sb_" + key
	}
	k, err := s.Authenticate(c.Request().Context(), key)
	if errors.Is(err, db.ErrInvalidKey) {
		return 0, unauthorized
	}
	if err != nil {
		return 0, err
	}
	sid := call.TwilioAccountSID(k.OrgID)
	if subtle.ConstantTimeCompare([]byte(user), []byte(sid)) != 1 || c.Param("AccountSid") != sid {
		return 0, unauthorized
	}
	httpapi.SetOrg(c, k.OrgID, s.log)
	return k.OrgID, nil
}

// twilioLookup finds the organization's call the path names: the callSid
// its assistant saw in `start` ("CA" + the 32 hex digits of a SIP call's
// channel UUID, a Twilio CallSid, or "CA" + the hex of sipbridge's call id),
// sipbridge's call id, or the record's call_sid. Anything else, another
// organization's call included, is Twilio's 404. The caller is
// authenticated first (twilioAuth).
func (s *Server) twilioLookup(c echo.Context) (int64, *db.Call, string, error) {
	org, err := s.twilioAuth(c)
	if err != nil {
		return 0, nil, "", err
	}
	notFound := newTwilioError(http.StatusNotFound, 20404, "The requested resource "+c.Request().URL.Path+" was not found")
	sid, ok := strings.CutSuffix(c.Param(twilioCallParam), ".json")
	if !ok || sid == "" || len(sid) > 128 {
		return 0, nil, "", notFound
	}
	refs := []string{sid}
	if len(sid) == 34 && strings.HasPrefix(sid, "CA") {
		if u, err := uuid.Parse(sid[2:]); err == nil {
			refs = append(refs, u.String())
		}
	}
	rec, err := s.store.FindCall(c.Request().Context(), org, refs...)
	if errors.Is(err, db.ErrNotFound) {
		return 0, nil, "", notFound
	}
	if err != nil {
		return 0, nil, "", err
	}
	return org, rec, sid, nil
}

func (s *Server) twilioFetchCall(c echo.Context) error {
	org, rec, sid, err := s.twilioLookup(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, twilioCallOf(rec, org, sid, ""))
}

func (s *Server) twilioUpdateCall(c echo.Context) error {
	org, rec, sid, err := s.twilioLookup(c)
	if err != nil {
		return err
	}
	form, err := twilioUpdateForm(c)
	if err != nil {
		return err
	}
	status, twiml := form.Get("Status"), form.Get("Twiml")
	switch {
	case form.Has("Url"):
		return twilioParam("Url", "not supported: sipbridge does not fetch TwiML; send Twiml=<Response><Dial>…</Dial></Response> to transfer or Status=completed to hang up")
	case form.Has("Status") && form.Has("Twiml"):
		return twilioParam("Twiml", "send either Status or Twiml, not both")
	case form.Has("Status"):
		if status != "completed" && status != "canceled" {
			return twilioParam("Status", "must be completed or canceled")
		}
		return s.twilioHangup(c, org, rec, sid, status)
	case form.Has("Twiml"):
		act, err := parseTwiML(twiml)
		if err != nil {
			return twilioParam("Twiml", err.Error())
		}
		if act.Hangup {
			return s.twilioHangup(c, org, rec, sid, "completed")
		}
		return s.twilioTransfer(c, org, rec, sid, act.To)
	}
	return twilioParam("Status", "Status or Twiml is required")
}

// twilioUpdateForm reads the form-encoded body. Parameters sipbridge would
// have to honour but cannot are refused rather than ignored.
func twilioUpdateForm(c echo.Context) (url.Values, error) {
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt != echo.MIMEApplicationForm {
		return nil, newTwilioError(http.StatusBadRequest, 0, "send the parameters form encoded (Content-Type: application/x-www-form-urlencoded), as Twilio's API takes them")
	}
	body, err := httpapi.ReadWebhookBody(c)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, newTwilioError(http.StatusBadRequest, 0, "the form body is malformed")
	}
	for name, vs := range form {
		if len(vs) > 1 {
			return nil, twilioParam(name, "given more than once")
		}
	}
	for _, name := range []string{"FallbackUrl", "StatusCallback", "TimeLimit"} {
		if form.Has(name) {
			return nil, twilioParam(name, "not supported by sipbridge")
		}
	}
	return form, nil
}

// twilioHangup hangs the call up (Status=completed, or canceled on a
// ringing call) through the API's path. A call that has already ended
// answers 200 with its record: hanging up is done.
func (s *Server) twilioHangup(c echo.Context, org int64, rec *db.Call, sid, status string) error {
	ctx := c.Request().Context()
	if rec.EndedAt != nil || (status == "canceled" && rec.Status != db.CallRinging) {
		// Ended, or canceled asked of a call in progress: nothing to do,
		// as at Twilio.
		return c.JSON(http.StatusOK, twilioCallOf(rec, org, sid, ""))
	}
	err := s.paths.Hangup(ctx, org, rec)
	if errors.Is(err, call.ErrCallNotFound) {
		if fresh := s.endedNow(ctx, org, rec); fresh != nil {
			return c.JSON(http.StatusOK, twilioCallOf(fresh, org, sid, ""))
		}
	}
	if err != nil {
		return liveCallError(err)
	}
	return c.JSON(http.StatusOK, twilioCallOf(rec, org, sid, status))
}

// twilioTransfer transfers the call to the <Dial> target through the API's
// path.
func (s *Server) twilioTransfer(c echo.Context, org int64, rec *db.Call, sid, to string) error {
	ctx := c.Request().Context()
	notInProgress := newTwilioError(http.StatusBadRequest, 21220, "Call is not in-progress. Cannot redirect.")
	if rec.EndedAt != nil {
		return notInProgress
	}
	err := s.paths.Transfer(ctx, org, rec, to, "")
	switch {
	case errors.Is(err, call.ErrCallNotFound) && s.endedNow(ctx, org, rec) != nil:
		return notInProgress
	case errors.Is(err, call.ErrNotAnswered):
		return notInProgress
	case err != nil:
		// The error table's answer in Twilio's shape (a call not live:
		// 409); a 400 here is about the target.
		ae := httpapi.ToAPIError(liveCallError(err))
		switch {
		case ae.Status >= 500:
			return err
		case ae.Status == http.StatusBadRequest:
			return twilioParam("Twiml", "<Dial> "+strconv.Quote(to)+": "+ae.Message)
		}
		return newTwilioError(ae.Status, 0, ae.Message)
	}
	return c.JSON(http.StatusOK, twilioCallOf(rec, org, sid, db.CallInProgress))
}

// endedNow returns the call's record if it has ended since it was read.
func (s *Server) endedNow(ctx context.Context, org int64, rec *db.Call) *db.Call {
	fresh, err := s.store.GetCall(ctx, org, rec.ID)
	if err != nil || fresh.EndedAt == nil {
		return nil
	}
	return fresh
}

// twilioCallOf shapes a record as Twilio's Call resource; status, when not
// empty, is what the update just asked for.
func twilioCallOf(rec *db.Call, org int64, sid, status string) twilioCall {
	account := call.TwilioAccountSID(org)
	tm := func(t time.Time) string { return t.UTC().Format(twilioTimeLayout) }
	out := twilioCall{SID: sid, AccountSID: account, From: rec.FromNumber, To: rec.ToNumber, Status: status,
		Direction: rec.Direction, DateCreated: tm(rec.StartedAt), DateUpdated: tm(time.Now()), APIVersion: twilioAPIVersion,
		URI: "/" + twilioAPIVersion + "/Accounts/" + account + "/Calls/" + url.PathEscape(sid) + ".json"}
	if !rec.UpdatedAt.IsZero() {
		out.DateUpdated = tm(rec.UpdatedAt)
	}
	if status != "" {
		out.DateUpdated = tm(time.Now())
	}
	if rec.Direction == db.DirectionOutbound {
		out.Direction = "outbound-api"
	}
	if out.Status == "" {
		switch rec.Status {
		case db.CallRinging, db.CallInProgress, db.CallCompleted:
			out.Status = rec.Status
		default: // failed, refused
			out.Status = "failed"
		}
	}
	if rec.AnsweredAt != nil {
		v := tm(*rec.AnsweredAt)
		out.StartTime = &v
	}
	if rec.EndedAt != nil {
		v, d := tm(*rec.EndedAt), strconv.Itoa(rec.DurationSeconds)
		out.EndTime, out.Duration = &v, &d
	}
	return out
}

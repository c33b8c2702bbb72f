package callapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// CallService is what the API needs of call control.
type CallService interface {
	Hangup(ctx context.Context, orgID int64, callID string) error
	Transfer(ctx context.Context, orgID int64, callID, to string, mode call.TransferMode) error
	Initiate(ctx context.Context, req call.InitiateRequest) (*call.InitiateResult, error)
	// AuthorizeStream checks a mod_audio_stream websocket's token.
	AuthorizeStream(callID, token string) (sip.StreamSink, error)
}

type callView struct {
	ID              string     `json:"id"`
	CallSID         string     `json:"call_sid"`
	SIPCallID       string     `json:"sip_call_id,omitempty"`
	AssistantID     *string    `json:"assistant_id"`
	PhoneNumberID   *string    `json:"phone_number_id"`
	TrunkID         *string    `json:"sip_trunk_id"`
	Provider        string     `json:"provider"`
	Direction       string     `json:"direction"`
	From            string     `json:"from"`
	To              string     `json:"to"`
	ResolvedDID     string     `json:"resolved_did"`
	DIDSource       string     `json:"did_source"`
	Status          string     `json:"status"`
	HangupCause     string     `json:"hangup_cause"`
	SIPStatus       int        `json:"sip_status,omitempty"`
	Reason          string     `json:"reason,omitempty"`
	StartedAt       time.Time  `json:"started_at"`
	AnsweredAt      *time.Time `json:"answered_at"`
	EndedAt         *time.Time `json:"ended_at"`
	DurationSeconds int        `json:"duration_seconds"`
	HasRecording    bool       `json:"has_recording"`
	// Node is the FreeSWITCH node that carries a SIP call (FS_NODES).
	Node string `json:"node,omitempty"`
}

func callViewOf(c *db.Call) callView {
	return callView{ID: c.ID, CallSID: c.CallSID, SIPCallID: c.SIPCallID, AssistantID: c.AssistantID, PhoneNumberID: c.PhoneNumberID,
		TrunkID: c.TrunkID, Provider: c.Provider, Direction: c.Direction, From: c.FromNumber, To: c.ToNumber,
		ResolvedDID: c.ResolvedDID, DIDSource: c.DIDSource, Status: c.Status, HangupCause: c.HangupCause, SIPStatus: c.SIPStatus,
		Reason: c.Reason, StartedAt: c.StartedAt, AnsweredAt: c.AnsweredAt, EndedAt: c.EndedAt, DurationSeconds: c.DurationSeconds,
		HasRecording: HasRecording(c), Node: c.Node}
}

type callEventView struct {
	At     time.Time      `json:"at"`
	Type   string         `json:"type"`
	Detail map[string]any `json:"detail"`
}

type callTransferInput struct {
	To   string `json:"to"`
	Mode string `json:"mode" doc:"refer | bridge | warm (\"\": chosen by the target: sip: → refer, E.164 → bridge); warm: the assistant briefs the target while the caller is on hold"`
}

type callAccepted struct {
	Message string `json:"message"`
	CallID  string `json:"call_id"`
}

var callStatuses = []string{db.CallRinging, db.CallInProgress, db.CallCompleted, db.CallFailed, db.CallRefused}

func parseTimeParam(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, httpapi.Invalid(field, "%s must be an RFC 3339 time or a YYYY-MM-DD date", field)
}

func (s *Server) listCalls(c echo.Context) error {
	skip, limit, err := httpapi.Page(c)
	if err != nil {
		return err
	}
	f := db.CallFilter{Status: c.QueryParam("status"), AssistantID: c.QueryParam("assistant_id"),
		PhoneNumber: c.QueryParam("phone_number"), Direction: c.QueryParam("direction")}
	if f.Status != "" && !contains(callStatuses, f.Status) {
		return httpapi.Invalid("status", "status must be one of ringing, in-progress, completed, failed, refused")
	}
	if f.Direction != "" && f.Direction != db.DirectionInbound && f.Direction != db.DirectionOutbound {
		return httpapi.Invalid("direction", "direction must be inbound or outbound")
	}
	for field, v := range map[string]string{"assistant_id": f.AssistantID, "phone_number": f.PhoneNumber} {
		if err := httpapi.CheckText(field, v, 100); err != nil {
			return err
		}
	}
	if f.From, err = parseTimeParam("from", c.QueryParam("from")); err != nil {
		return err
	}
	if f.To, err = parseTimeParam("to", c.QueryParam("to")); err != nil {
		return err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return httpapi.Invalid("to", "to must be after from")
	}
	items, total, err := s.store.ListCalls(c.Request().Context(), httpapi.OrgID(c), f, db.Page{Skip: skip, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]callView, 0, len(items))
	for i := range items {
		out = append(out, callViewOf(&items[i]))
	}
	return httpapi.WriteList(c, out, total, skip, limit)
}

func (s *Server) getCall(c echo.Context) error {
	rec, err := s.lookupCall(c.Request().Context(), httpapi.OrgID(c), c.Param("id"))
	if err != nil {
		return callLookupError(err)
	}
	return c.JSON(http.StatusOK, callViewOf(rec))
}

// lookupCall finds one of the organization's calls by sipbridge's call id
// or, failing that, by its call_sid (the FreeSWITCH channel UUID of a SIP
// call, the provider's id of a hosted one): an assistant may hold either.
func (s *Server) lookupCall(ctx context.Context, org int64, ref string) (*db.Call, error) {
	rec, err := s.store.GetCall(ctx, org, ref)
	if errors.Is(err, db.ErrNotFound) && ref != "" && len(ref) <= 128 {
		return s.store.FindCall(ctx, org, ref)
	}
	return rec, err
}

func callLookupError(err error) error {
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.NotFound("call")
	}
	return err
}

func (s *Server) callEvents(c echo.Context) error {
	ctx := c.Request().Context()
	rec, err := s.lookupCall(ctx, httpapi.OrgID(c), c.Param("id"))
	if err != nil {
		return callLookupError(err)
	}
	evs, err := s.store.CallEvents(ctx, httpapi.OrgID(c), rec.ID)
	if err != nil {
		return err
	}
	out := make([]callEventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, callEventView{At: e.At, Type: e.Type, Detail: e.Detail})
	}
	return httpapi.WriteList(c, out, int64(len(out)), 0, 0)
}

// liveCallWording names the destination of a live call's transfer "to".
var liveCallWording = httpapi.Wording{Fields: map[string]string{"to_phone_number": "to"}}

// liveCallError is call control's answer for a call that exists, in the
// words of the hangup and transfer routes.
func liveCallError(err error) error { return httpapi.ErrorIn(err, liveCallWording) }

func (s *Server) hangupCall(c echo.Context) error {
	ctx := c.Request().Context()
	rec, err := s.lookupCall(ctx, httpapi.OrgID(c), c.Param("id"))
	if err != nil {
		return callLookupError(err)
	}
	if err := s.paths.Hangup(ctx, httpapi.OrgID(c), rec); err != nil {
		return liveCallError(err)
	}
	return c.JSON(http.StatusAccepted, callAccepted{Message: "hangup requested", CallID: rec.ID})
}

func (s *Server) transferCall(c echo.Context) error {
	// Another organization's call answers 404 before anything is validated.
	ctx := c.Request().Context()
	rec, err := s.lookupCall(ctx, httpapi.OrgID(c), c.Param("id"))
	if err != nil {
		return callLookupError(err)
	}
	var in callTransferInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	if in.To == "" {
		return httpapi.Invalid("to", "to is required: a sip: URI or an E.164 number")
	}
	if !call.TransferMode(in.Mode).Known() {
		return httpapi.Invalid("mode", "mode must be refer, bridge or warm")
	}
	if err := s.paths.Transfer(ctx, httpapi.OrgID(c), rec, in.To, call.TransferMode(in.Mode)); err != nil {
		return liveCallError(err)
	}
	return c.JSON(http.StatusAccepted, callAccepted{Message: "transfer requested", CallID: rec.ID})
}

// callRecording streams the call's WAV recording to its own organization.
func (s *Server) callRecording(c echo.Context) error {
	rec, err := s.lookupCall(c.Request().Context(), httpapi.OrgID(c), c.Param("id"))
	if err != nil {
		return callLookupError(err)
	}
	return ServeRecording(c.Response(), c.Request(), rec, "attachment")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

type initiateInput struct {
	ToPhoneNumber   string            `json:"to_phone_number"`
	FromPhoneNumber string            `json:"from_phone_number"`
	AssistantID     string            `json:"assistant_id"`
	WelcomeMessage  string            `json:"welcome_message"`
	Agenda          string            `json:"agenda"`
	Variables       map[string]string `json:"variables"`
	StatusCallback  string            `json:"status_callback" doc:"https URL receiving the call's ringing, answered, completed and failed events as signed JSON POSTs (X-Sipbridge-Signature: hex HMAC-SHA256 of the body with the assistant's webhook secret); the address policy applies"`
	Wait            bool              `json:"wait" doc:"true: answer once the call is answered (200) or failed on every trunk (502), as scripts may want; default: answer as soon as the call is placed"`
	AMD             bool              `json:"amd" doc:"true: answering machine detection on the callee's first seconds of audio (numbers on a SIP trunk; the provider's own detection on Twilio and Telnyx numbers; 501 on Vonage numbers); the assistant gets {\"event\":\"amd\",\"amd\":{\"result\":\"human|machine|unknown\",\"ms\":N}}"`
	AMDAction       string            `json:"amd_action" doc:"with amd: none (default: only tell the assistant), hangup (hang up a machine), wait_beep (a machine: tell the assistant again, beep true, once its beep has ended, or beep false when none came in 30 s)"`
}

type initiateResult struct {
	Message string `json:"message"`
	CallSID string `json:"call_sid" doc:"the channel of the call's first leg (the provider's call id for hosted numbers); once a trunk answers, the record's call_sid is the answering leg's"`
	CallID  string `json:"call_id"`
	Status  string `json:"status" doc:"ringing (placed), or in-progress (answered: wait=true)"`
}

type dialFailedBody struct {
	Error    *httpapi.APIError  `json:"error"`
	Attempts []call.DialAttempt `json:"attempts"`
}

func (s *Server) initiateCall(c echo.Context) error {
	var in initiateInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"to_phone_number", in.ToPhoneNumber}, {"from_phone_number", in.FromPhoneNumber}} {
		if f.v == "" {
			return httpapi.Invalid(f.name, "%s is required (E.164, e.g. +14155550100)", f.name)
		}
		if _, _, err := httpapi.NormalizeE164(f.name, f.v); err != nil {
			return err
		}
	}
	if err := httpapi.CheckText("welcome_message", in.WelcomeMessage, 2000); err != nil {
		return err
	}
	if len(in.Agenda) > 8000 {
		return httpapi.Invalid("agenda", "agenda must be at most 8000 characters")
	}
	if len(in.Variables) > 50 {
		return httpapi.Invalid("variables", "at most 50 variables")
	}
	for k, v := range in.Variables {
		if k == "" || len(k) > 64 || len(v) > 1000 {
			return httpapi.Invalid("variables", "variable names are 1–64 characters and values at most 1000")
		}
	}
	if err := s.CheckURLAddress(c.Request().Context(), "status_callback", in.StatusCallback, "https"); err != nil {
		return err
	}
	if in.AMDAction != "" && !contains(call.AMDActions, in.AMDAction) {
		return httpapi.Invalid("amd_action", "amd_action must be none, hangup or wait_beep")
	}
	if in.AMDAction != "" && !in.AMD {
		return httpapi.Invalid("amd_action", "amd_action needs amd: true")
	}
	if s.calls == nil {
		return &httpapi.APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "call control is not running"}
	}
	if in.Wait {
		// The answer comes once the call is answered, possibly after several
		// trunks rang out: lift the server's write timeout for this request.
		_ = http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Now().Add(10 * time.Minute))
	}
	res, err := s.calls.Initiate(c.Request().Context(), call.InitiateRequest{OrgID: httpapi.OrgID(c), To: in.ToPhoneNumber, From: in.FromPhoneNumber,
		AssistantID: in.AssistantID, WelcomeMessage: in.WelcomeMessage, Agenda: in.Agenda, Variables: in.Variables,
		StatusCallback: in.StatusCallback, Wait: in.Wait, AMD: in.AMD, AMDAction: in.AMDAction})
	if err != nil {
		var de *call.DialError
		if errors.As(err, &de) {
			return c.JSON(http.StatusBadGateway, dialFailedBody{Error: &httpapi.APIError{Status: http.StatusBadGateway, Code: "all_trunks_failed", Message: de.Error()}, Attempts: de.Attempts})
		}
		return httpapi.ErrorIn(err, initiateWording(in.FromPhoneNumber))
	}
	msg, status := "call answered and connected to the assistant", db.CallInProgress
	if res.Ringing {
		msg, status = "call placed; the assistant is connected when it is answered", db.CallRinging
	}
	return c.JSON(http.StatusOK, initiateResult{Message: msg, CallSID: res.CallSID, CallID: res.CallID, Status: status})
}

// initiateWording: the outbound call's own number is from_phone_number,
// and a number or assistant that is not found is named with the number.
func initiateWording(from string) httpapi.Wording {
	return httpapi.Wording{Fields: map[string]string{"phone_number": "from_phone_number"},
		Messages: map[error]string{
			numbers.ErrNumberNotFound: "phone number " + from + " not found",
			call.ErrNoAssistant:       "No assistant found for phone number " + from + ": assistant not found",
		}}
}

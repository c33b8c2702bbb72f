// Package callapi serves the call routes: the calls API (/api/v1/calls),
// the Twilio-compatible call route, the hosted providers' voice webhooks
// and media websocket, and FreeSWITCH's mod_audio_stream websocket.
package callapi

import (
	"log/slog"
	"net/http"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Deps are the call routes' collaborators.
type Deps struct {
	Store *db.Store
	Log   *slog.Logger
	// Calls is call control (nil: the calls API reads records only).
	Calls CallService
	// Hosted is the hosted-provider voice path (nil: its webhooks answer 503).
	Hosted HostedService
}

// Server serves the call routes on the server core.
type Server struct {
	*httpapi.Server
	store  *db.Store
	log    *slog.Logger
	calls  CallService
	hosted HostedService
	// paths picks the path of a live call from its record (hangup,
	// transfer).
	paths call.Chooser
}

// Register adds the call routes to core.
func Register(core *httpapi.Server, d Deps) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{Server: core, store: d.Store, log: d.Log, calls: d.Calls, hosted: d.Hosted}
	if d.Calls != nil {
		s.paths.SIP = d.Calls
	}
	if d.Hosted != nil {
		s.paths.Hosted = d.Hosted
	}
	s.routes()
}

func (s *Server) routes() {
	for _, p := range []string{"/fs/stream/:id", "/fs/stream/:id/"} {
		s.Handle(httpapi.Operation{Method: http.MethodGet, Path: p, Summary: "mod_audio_stream websocket of a live call (token in ?token=)", Tag: "calls", Raw: "websocket"}, s.fsStream)
	}
	s.hostedRoutes()
	s.twilioCompatRoutes()

	callQ := append([]httpapi.QueryParam{
		httpapi.Query("status", "string", "ringing|in-progress|completed|failed|refused"), httpapi.Query("assistant_id", "string", "assistant"),
		httpapi.Query("phone_number", "string", "E.164 number (from, to or resolved DID)"), httpapi.Query("direction", "string", "inbound|outbound"),
		httpapi.Query("from", "string", "started at or after (RFC 3339 or YYYY-MM-DD)"), httpapi.Query("to", "string", "started before (RFC 3339 or YYYY-MM-DD)"),
	}, httpapi.PageQuery()...)
	s.Route(http.MethodPost, "/calls/initiate", "Place an outbound call from one of the organization's numbers to an assistant: answers once the call is placed (wait=true: once answered); status_callback receives its progress; no enabled SIP trunk: 422 no_trunk", "calls", initiateInput{}, initiateResult{}, 200, s.initiateCall)
	s.Handle(httpapi.Operation{Method: http.MethodPost, Path: "/calls/initiate", Summary: "Alias of /api/v1/calls/initiate (same API key)", Tag: "calls", Auth: true,
		Req: initiateInput{}, Resp: initiateResult{}, Status: 200}, s.initiateCall, s.Auth)
	s.Route(http.MethodGet, "/calls", "List calls, newest first", "calls", nil, httpapi.ListBody[callView]{}, 200, s.listCalls, callQ...)
	s.Route(http.MethodGet, "/calls/:id", "Get a call record by its id or its call_sid (channel UUID or provider id)", "calls", nil, callView{}, 200, s.getCall)
	s.Route(http.MethodGet, "/calls/:id/events", "A call's timeline", "calls", nil, httpapi.ListBody[callEventView]{}, 200, s.callEvents)
	s.Route(http.MethodPost, "/calls/:id/hangup", "Hang up a live call", "calls", nil, callAccepted{}, 202, s.hangupCall)
	s.Route(http.MethodPost, "/calls/:id/transfer", "Transfer a live call: sip: URI by REFER, E.164 number bridged out through the trunks; if nobody takes it the caller stays with the assistant (transfer_failed); no enabled SIP trunk to bridge through: 422 no_trunk. mode warm: the caller hears hold audio while the target is dialled; once it answers the assistant talks to it (transfer_answered) and then sends transfer_complete (caller and target bridged) or transfer_cancel (back to the caller); SIP trunk calls only (hosted: 501)", "calls", callTransferInput{}, callAccepted{}, 202, s.transferCall)
	s.Route(http.MethodGet, "/calls/:id/recording", "Download the call's stereo WAV recording (caller left, assistant right)", "calls", nil, nil, 200, s.callRecording)
}

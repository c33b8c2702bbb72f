package sip

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/amdwatch"
	"github.com/sipbridge/sipbridge/call/sip/pipe"
	"github.com/sipbridge/sipbridge/call/sip/transfer"
	"github.com/sipbridge/sipbridge/call/sip/trunkdial"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/route"
	"github.com/sipbridge/sipbridge/route/did"
)

// Hangup causes sipbridge gives FreeSWITCH (sofia turns them into the SIP
// answer of an unanswered call: NORMAL_TEMPORARY_FAILURE → 503).
const (
	causeNormal      = "NORMAL_CLEARING"
	causeUnavailable = "NORMAL_TEMPORARY_FAILURE"
)

type requestKind int

const (
	reqHangup requestKind = iota
	reqTransfer
	reqDialDone // a bridge originate finished
	reqAMD      // answering machine detection made something known
	reqRelease  // let go of the call: the node's lease was lost (Release)
)

// request is asked of a session from outside its goroutine (API, the
// originate of a bridge).
type request struct {
	kind  requestKind
	to    string
	mode  string
	reply chan error // reqTransfer: nil once the transfer is under way
	out   string     // reqDialDone: the originate's reply
	dial  string     // reqDialDone: its sipbridge_dial id
	warm  bool       // reqDialDone: the target of a warm transfer
	err   error
	amd   amdwatch.Report
}

// fsNote tells the session about its mod_audio_stream websocket.
type fsNote struct {
	gen    int
	conn   call.StreamConn // set on attach
	closed bool
	err    error
}

// callSession is one live call. Its goroutine (run) owns every field below
// the mutex-protected ones; other goroutines talk to it through its queues.
type callSession struct {
	c        *Calls
	id       string // our call id (calls.id)
	uuid     string // the FreeSWITCH channel
	log      *slog.Logger
	events   *call.Queue[*esl.Event]
	requests *call.Queue[request]
	fsNotes  *call.Queue[fsNote]
	done     chan struct{} // closed when the session has ended
	live     func()        // ends the call's count in the registry of live calls

	mu    sync.Mutex
	org   int64
	token string
	gen   int // stream generation the token belongs to
	// life is the call's state (call.State): ringing, answered, being
	// transferred or transferred away, ending. The session's goroutine
	// changes it under mu and reads it without; the API reads it under mu
	// (notAnswered).
	life call.Lifecycle

	// dials is the originate under way (its legs' events).
	dials trunkdial.Current

	// asst is the assistant stream the caller's audio goes to (read by the
	// mod_audio_stream reader goroutine).
	asst   atomic.Pointer[assistant.Stream]
	exited atomic.Bool // the session's goroutine has returned
	// amd is an outbound call's answering machine detection, fed by the
	// mod_audio_stream reader (nil: none asked for).
	amd *amdwatch.Watch

	// status posts the outbound call's progress to its status_callback
	// (nil: none).
	status *call.Notifier

	outbound  bool
	info      assistant.StartInfo // what `start` tells the assistant
	route     *route.Route
	assistant *db.Assistant
	rec       *db.Call
	stream    *assistant.Stream
	fs        call.StreamConn
	fsGen     int
	play      *audio.Playback
	pending   []audio.Chunk // chunks made before mod_audio_stream connected
	// pipe plays the assistant's audio when CallsOptions.PlaybackDir is set
	// and the codec allows (call/sip/pipe); play then stays unused.
	pipe         *pipe.Player
	down         *audio.L16ToMulaw // an l16_16k assistant's audio for the pipe
	pipeWake     chan struct{}
	pipeRestarts int
	ringback     bool // early media: the ringback tone plays until the answer
	// endWhenPlayed: the assistant closed its stream normally; the call
	// ends once the audio it sent has been heard (or by endBy).
	endWhenPlayed bool
	endBy         time.Time
	restarts      int
	// eslFaultsDue counts stream failures already handled from the
	// websocket side whose mod_audio_stream::error/disconnect is still to
	// come: those events must not count as a second failure.
	eslFaultsDue int
	answeredAt   time.Time
	// streamUntil: the stream started must have connected by then (zero
	// once it has, or when none is awaited).
	streamUntil time.Time
	// The data of the transfer under way (the call is Transferring): the
	// REFER sent and not yet decided, or the transfer whose bridge leg is
	// dialling.
	refering *transfer.Refer
	bridging *transfer.Plan
	// warm is the warm transfer under way (calls_warm.go); briefLeg the
	// target's channel while the assistant briefs it (its media is there).
	warm        *transfer.Warm
	briefLeg    string
	endReason   string
	recordPath  string
	recordBytes int64
	// switchLostSince: the first channel check that could not reach
	// FreeSWITCH while the call's media stream was closed (zero otherwise).
	switchLostSince time.Time
	// lostAt: an adopted call's last sign of life before the restart, until
	// its new stream connects (adoptedStream).
	lostAt time.Time
}

func newCallSession(c *Calls, uuid string) *callSession {
	id := db.NewID()
	log := c.log.With("call_id", id)
	if uuid != "" { // an outbound call's channel is named once its leg answers
		log = log.With("call_uuid", uuid)
	}
	return &callSession{c: c, id: id, uuid: uuid,
		log:    log,
		events: call.NewQueue[*esl.Event](), requests: call.NewQueue[request](), fsNotes: call.NewQueue[fsNote](), done: make(chan struct{}),
		pipeWake: make(chan struct{}, 1), life: call.NewLifecycle(false), live: func() {}}
}

// newOutboundSession is the session of an outbound call of the
// organization, before its channel exists.
func newOutboundSession(c *Calls, org int64) *callSession {
	s := newCallSession(c, "")
	s.outbound, s.org, s.life = true, org, call.NewLifecycle(true)
	s.log = s.log.With("org_id", org, "direction", "outbound")
	return s
}

func (s *callSession) orgID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.org
}

// tokenOK checks a stream token and returns its generation.
func (s *callSession) tokenOK(t string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, call.TokenEqual(s.token, t)
}

// newStreamToken starts a stream generation and returns its token.
func (s *callSession) newStreamToken() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.token = call.NewToken()
	return s.token, s.gen
}

func (s *callSession) currentGen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

func (s *callSession) api(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.c.sw.API(ctx, cmd)
}

// event appends to the call's timeline (once a record exists).
func (s *callSession) event(typ string, detail db.JSONMap) {
	if s.rec == nil {
		return
	}
	s.recorder().Event(typ, detail)
}

// recorder writes the call's record and timeline.
func (s *callSession) recorder() call.Recorder {
	return call.Recorder{Store: s.c.store, Log: s.log, OrgID: s.rec.OrgID, CallID: s.rec.ID}
}

func (s *callSession) update(cols map[string]any) {
	if s.rec == nil {
		return
	}
	s.recorder().Update(cols)
}

// run handles the call from its CHANNEL_PARK to its CHANNEL_HANGUP_COMPLETE.
func (s *callSession) run(park *esl.Event) {
	defer s.live()
	defer s.c.remove(s)
	defer s.cleanup()
	s.start(park) // refused or not, the loop waits for the hangup
	s.loop()
	s.exit()
}

// exit marks the session gone and answers what was asked of it meanwhile:
// a transfer gets call.ErrCallNotFound, a bridge leg answered too late is hung
// up (its originate goroutine pushes, then checks exited: one of the two
// sees it).
func (s *callSession) exit() {
	s.exited.Store(true)
	close(s.done)
	for _, r := range s.requests.Drain() {
		switch r.kind {
		case reqTransfer:
			r.reply <- call.ErrCallNotFound
		case reqDialDone:
			killAnswered(s.c, r.out)
		}
	}
}

// start routes the call and, when accepted, connects the assistant, answers
// and starts the audio stream; a refused call is hung up.
func (s *callSession) start(park *esl.Event) {
	ctx, cancel := context.WithTimeout(s.c.ctx, 10*time.Second)
	defer cancel()
	vars := did.Vars(park.Values)
	from := park.Get("Caller-Caller-ID-Number")
	if id := park.Get("variable_sip_call_id"); id != "" {
		s.log = s.log.With("sip_call_id", id)
	}
	at := s.c.opts.Now().UTC()
	route, err := s.c.router.Decide(ctx, vars)
	if err != nil {
		s.log.Error("inbound call: routing failed", "err", err)
		s.holdRefusal(park, at, err)
		s.kill(causeUnavailable, "routing failed: "+err.Error())
		return
	}
	s.route = route
	rec := &db.Call{ID: s.id, CallSID: s.uuid, SIPCallID: park.Get("variable_sip_call_id"),
		Direction: db.DirectionInbound, FromNumber: from, ToNumber: park.Get("Caller-Destination-Number"),
		ResolvedDID: route.DID.DID, DIDSource: route.DID.Source, Status: db.CallRinging, StartedAt: at, Node: s.c.opts.Node}
	if route.Trunk != nil {
		rec.OrgID, rec.TrunkID = route.Trunk.OrgID, &route.Trunk.ID
		s.mu.Lock()
		s.org = route.Trunk.OrgID
		s.mu.Unlock()
		s.c.registry.Add(s.id, route.Trunk.OrgID, s.c)
		s.log = s.log.With("org_id", route.Trunk.OrgID, "trunk", route.Trunk.GatewayName)
	}
	if route.Number != nil {
		rec.PhoneNumberID, rec.ToNumber = &route.Number.ID, route.Number.PhoneNumber
	}
	if route.Refused != nil {
		s.refuse(ctx, rec, route, from)
		return
	}
	rec.AssistantID = &route.AssistantID
	// The assistant is read while the record and its routed event are
	// written: one round trip less before the answer.
	var a *db.Assistant
	var aerr error
	read := make(chan struct{})
	go func() { defer close(read); a, aerr = s.c.store.GetAssistant(ctx, rec.OrgID, route.AssistantID) }()
	if err := s.c.store.CreateCall(ctx, rec); err != nil {
		s.log.Error("call record not stored", "err", err)
		s.holdRefusal(park, at, err)
		s.kill(causeUnavailable, "call record not stored")
		return
	}
	s.rec = rec
	s.event(call.EventRouted, db.JSONMap{"trunk": route.Trunk.GatewayName, "trunk_by": route.TrunkBy, "did": route.DID.DID,
		"did_source": route.DID.Source, "assistant_id": route.AssistantID, "source": route.Source})
	s.log.Info("inbound call accepted", "did", route.DID.DID, "did_source", route.DID.Source, "assistant_id", route.AssistantID, "from", from, "source", route.Source)

	<-read
	if aerr != nil {
		s.fault("assistant record: " + aerr.Error())
		return
	}
	s.assistant = a
	s.info = assistant.StartInfo{From: from, To: route.DID.DID, AssistantID: a.ID,
		Direction: db.DirectionInbound, WelcomeMessage: a.WelcomeMessage, Extra: call.XHeaders(park.Headers), AudioFormat: a.Config.AudioFormat}
	s.trunkMedia(route.Trunk)
	s.earlyRingback()
	if s.connectAssistant() {
		s.answerInbound()
	}
}

// holdRefusal keeps a call refused with 503 because the database could not
// be reached (err): its record is written once it is back.
func (s *callSession) holdRefusal(park *esl.Event, at time.Time, err error) {
	if db.Unavailable(err) {
		s.c.refusals.Hold(call.HeldRefusal{CallID: s.id, UUID: s.uuid, SIPCallID: park.Get("variable_sip_call_id"), At: at,
			SIPStatus: 503, Cause: causeUnavailable, Node: s.c.opts.Node, Vars: call.RoutingVars(park.Headers, park.Values)})
	}
}

// refuse keeps the record of a refused call (when it has an organization)
// and hangs it up with the refusal's cause.
func (s *callSession) refuse(ctx context.Context, rec *db.Call, rt *route.Route, from string) {
	r := rt.Refused
	s.log.Warn("inbound call refused", "sip_status", r.SIPStatus, "cause", r.Cause, "reason", r.Reason,
		"detail", rt.Detail, "from", from, "did", rt.DID.DID, "did_source", rt.DID.Source, "source", rt.Source)
	if rt.Trunk != nil { // an organization to keep the record for
		rec.Status, rec.SIPStatus, rec.Reason = db.CallRefused, r.SIPStatus, r.Reason+": "+rt.Detail
		if err := s.c.store.CreateCall(ctx, rec); err != nil {
			s.log.Error("call record not stored", "err", err)
		} else {
			s.rec = rec
			s.event(call.EventRefused, db.JSONMap{"sip_status": r.SIPStatus, "cause": r.Cause, "reason": r.Reason, "detail": rt.Detail, "source": rt.Source})
		}
	}
	s.kill(r.Cause, r.Reason)
}

// answerInbound answers an accepted inbound call whose assistant is
// connected, and starts its recording, playback and audio stream.
func (s *callSession) answerInbound() {
	s.stopRingback()
	if out, err := s.api("uuid_answer " + s.uuid); err != nil {
		// Gone already (its hangup follows), or FreeSWITCH did not answer:
		// either way nothing will talk to this caller.
		s.log.Warn("uuid_answer failed", "err", err, "reply", out)
		s.closeAssistant(false)
		s.kill(causeUnavailable, "answer failed: "+strings.TrimSpace(out))
		return
	}
	s.answered(s.c.opts.Now().UTC())
	s.update(map[string]any{"status": db.CallInProgress, "answered_at": s.answeredAt})
	s.event(call.EventAnswered, nil)
	if s.assistant.RecordingEnabled {
		s.startRecording()
	}
	s.playWelcome()
	s.startPipe()
	s.startStream()
}

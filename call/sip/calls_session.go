package sip

import (
	"context"
	"fmt"
	"github.com/sipbridge/sipbridge/call"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
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
)

// request is asked of a session from outside its goroutine (API, the
// originate of a bridge).
type request struct {
	kind  requestKind
	to    string
	mode  string
	reply chan error // reqTransfer: nil once the transfer is under way
	out   string     // reqDialDone: the originate's reply
	err   error
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
	events   *queue[*esl.Event]
	requests *queue[request]
	fsNotes  *queue[fsNote]
	done     chan struct{} // closed when the session has ended

	mu    sync.Mutex
	org   int64
	token string
	gen   int // stream generation the token belongs to

	// track is the originate under way (its legs' events).
	track *dialTrack

	// asst is the assistant stream the caller's audio goes to (read by the
	// mod_audio_stream reader goroutine).
	asst atomic.Pointer[assistant.Stream]
	// An originate under way (a bridge, or the outbound call itself) and
	// whether it was cancelled; read by HandleEvent and the API.
	dialing    atomic.Bool
	dialID     atomic.Value // string: the sipbridge_dial of its legs
	cancelled  atomic.Bool
	initiating atomic.Bool // the outbound call's own originate is ringing
	exited     atomic.Bool // the session's goroutine has returned

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
	play      *assistant.Playback
	pending   []assistant.Chunk // chunks made before mod_audio_stream connected
	// pipe plays the assistant's audio when CallsOptions.PlaybackDir is set
	// and the codec allows (calls_pipe.go); play then stays unused.
	pipe         *pipePlayer
	pipeWake     chan struct{}
	pipeRestarts int
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
	streamUntil  time.Time // the stream must have connected by then
	connected    bool
	transferred  bool          // the call left the assistant (bridge or REFER)
	refering     *pendingRefer // a REFER sent and not yet decided
	bridging     *transferPlan // the transfer whose bridge leg is dialling
	ending       bool          // we asked FreeSWITCH to hang up
	endReason    string
	recordPath   string
	recordBytes  int64
}

func newCallSession(c *Calls, uuid string) *callSession {
	id := db.NewID()
	log := c.log.With("call_id", id)
	if uuid != "" { // an outbound call's channel is named once its leg answers
		log = log.With("call_uuid", uuid)
	}
	return &callSession{c: c, id: id, uuid: uuid,
		log:    log,
		events: newQueue[*esl.Event](), requests: newQueue[request](), fsNotes: newQueue[fsNote](), done: make(chan struct{}),
		pipeWake: make(chan struct{}, 1)}
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.c.store.AddCallEvent(ctx, s.rec.OrgID, s.rec.ID, typ, detail); err != nil {
		s.log.Warn("call event not stored", "type", typ, "err", err)
	}
}

func (s *callSession) update(cols map[string]any) {
	if s.rec == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.c.store.UpdateCall(ctx, s.rec.OrgID, s.rec.ID, cols); err != nil {
		s.log.Warn("call record not updated", "err", err)
	}
}

// run handles the call from its CHANNEL_PARK to its CHANNEL_HANGUP_COMPLETE.
func (s *callSession) run(park *esl.Event) {
	defer s.c.wg.Done()
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
	for _, r := range s.requests.drain() {
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
	route, err := s.c.router.Decide(ctx, vars)
	if err != nil {
		s.log.Error("inbound call: routing failed", "err", err)
		s.kill(causeUnavailable, "routing failed: "+err.Error())
		return
	}
	s.route = route
	rec := &db.Call{ID: s.id, CallSID: s.uuid, SIPCallID: park.Get("variable_sip_call_id"),
		Direction: db.DirectionInbound, FromNumber: from, ToNumber: park.Get("Caller-Destination-Number"),
		ResolvedDID: route.DID.DID, DIDSource: route.DID.Source, Status: db.CallRinging, StartedAt: s.c.opts.Now().UTC()}
	if route.Trunk != nil {
		rec.OrgID, rec.TrunkID = route.Trunk.OrgID, &route.Trunk.ID
		s.mu.Lock()
		s.org = route.Trunk.OrgID
		s.mu.Unlock()
		s.log = s.log.With("org_id", route.Trunk.OrgID, "trunk_id", route.Trunk.ID, "gateway", route.Trunk.GatewayName)
	}
	if route.Number != nil {
		rec.PhoneNumberID, rec.ToNumber = &route.Number.ID, route.Number.PhoneNumber
	}
	if route.Refused != nil {
		r := route.Refused
		s.log.Warn("inbound call refused", "sip_status", r.SIPStatus, "cause", r.Cause, "reason", r.Reason,
			"detail", route.Detail, "from", from, "did", route.DID.DID, "did_source", route.DID.Source)
		if route.Trunk != nil { // an organization to keep the record for
			rec.Status, rec.SIPStatus, rec.Reason = db.CallRefused, r.SIPStatus, r.Reason+": "+route.Detail
			if err := s.c.store.CreateCall(ctx, rec); err != nil {
				s.log.Error("call record not stored", "err", err)
			} else {
				s.rec = rec
				s.event("refused", db.JSONMap{"sip_status": r.SIPStatus, "cause": r.Cause, "reason": r.Reason, "detail": route.Detail})
			}
		}
		s.kill(r.Cause, r.Reason)
		return
	}
	rec.AssistantID = &route.AssistantID
	if err := s.c.store.CreateCall(ctx, rec); err != nil {
		s.log.Error("call record not stored", "err", err)
		s.kill(causeUnavailable, "call record not stored")
		return
	}
	s.rec = rec
	s.event("routed", db.JSONMap{"trunk": route.Trunk.GatewayName, "trunk_by": route.TrunkBy, "did": route.DID.DID,
		"did_source": route.DID.Source, "assistant_id": route.AssistantID})
	s.log.Info("inbound call accepted", "did", route.DID.DID, "did_source", route.DID.Source, "assistant_id", route.AssistantID, "from", from)

	a, err := s.c.store.GetAssistant(ctx, rec.OrgID, route.AssistantID)
	if err != nil {
		s.fault("assistant record: " + err.Error())
		return
	}
	s.assistant = a
	s.info = assistant.StartInfo{From: from, To: route.DID.DID, AssistantID: a.ID,
		Direction: db.DirectionInbound, WelcomeMessage: a.WelcomeMessage, Extra: xHeaders(park)}
	if !s.connectAssistant() {
		return
	}

	if out, err := s.api("uuid_answer " + s.uuid); err != nil {
		// Gone already (its hangup follows), or FreeSWITCH did not answer:
		// either way nothing will talk to this caller.
		s.log.Warn("uuid_answer failed", "err", err, "reply", out)
		s.closeAssistant(false)
		s.kill(causeUnavailable, "answer failed: "+strings.TrimSpace(out))
		return
	}
	s.answeredAt = s.c.opts.Now().UTC()
	s.update(map[string]any{"status": db.CallInProgress, "answered_at": s.answeredAt})
	s.event("answered", nil)
	if a.RecordingEnabled {
		s.startRecording()
	}
	s.startPipe()
	s.startStream()
}

// startPipe starts the call's one gapless playback (calls_pipe.go) when a
// playback directory is configured; otherwise, or when the channel's codec
// cannot go through a pipe, the assistant's audio is played as files.
func (s *callSession) startPipe() {
	if s.c.opts.PlaybackDir == "" {
		return
	}
	codec, err := s.api("uuid_getvar " + s.uuid + " read_codec")
	codec = strings.TrimSpace(codec)
	if err != nil {
		s.log.Warn("read_codec unknown: playing the assistant as files", "err", err, "reply", codec)
		return
	}
	p, err := newPipePlayer(s.c.opts.PlaybackDir, s.id, codec, s.log, s.wakePipe)
	if err != nil {
		s.log.Warn("playback pipe unavailable: playing the assistant as files", "err", err)
		s.event("playback_files", db.JSONMap{"reason": err.Error()})
		return
	}
	s.pipe = p
	s.broadcastPipe()
}

// broadcastPipe has FreeSWITCH play the pipe to the caller.
func (s *callSession) broadcastPipe() {
	if out, err := s.api("uuid_broadcast " + s.uuid + " " + s.pipe.path + " aleg"); err != nil {
		s.log.Warn("uuid_broadcast of the playback pipe failed", "err", err, "reply", out)
	}
}

func (s *callSession) wakePipe() {
	select {
	case s.pipeWake <- struct{}{}:
	default:
	}
}

// closePipe ends the pipe's playback (FreeSWITCH reads EOF).
func (s *callSession) closePipe() {
	if s.pipe != nil {
		s.pipe.Close()
	}
}

// endIfPlayed ends a call whose assistant closed normally once the audio
// it sent has been heard (or at endBy).
func (s *callSession) endIfPlayed() {
	if !s.endWhenPlayed || s.ending || s.transferred || s.transferPending() {
		return
	}
	if s.c.opts.Now().Before(s.endBy) {
		switch {
		case s.pipe != nil:
			if !s.pipe.Idle() {
				return
			}
		case s.play != nil:
			s.sendChunks(s.play.Flush())
			if s.play.Outstanding() > 0 {
				return
			}
		}
	}
	reason := "assistant ended the call"
	if s.endReason != "" {
		reason = s.endReason
	}
	s.log.Info(reason)
	s.kill(causeNormal, reason)
}

// hangupWait bounds how long an assistant's hangup waits for the audio it
// sent before to be heard.
const hangupWait = 30 * time.Second

// transferPending: a REFER or a bridge leg is under way, its outcome not
// yet known.
func (s *callSession) transferPending() bool {
	return s.refering != nil || s.dialing.Load()
}

// xHeaders returns the INVITE's X- headers by name (variable_sip_h_X-…),
// the context a PBX or carrier passes along.
func xHeaders(e *esl.Event) map[string]string {
	out := map[string]string{}
	for k, v := range e.Headers {
		if name, ok := strings.CutPrefix(k, "variable_sip_h_"); ok && len(name) > 2 && (name[0] == 'X' || name[0] == 'x') && name[1] == '-' {
			out[name] = v
		}
	}
	return out
}

func (s *callSession) startRecording() {
	if s.c.opts.RecordingsDir == "" {
		s.log.Warn("recording skipped: no recordings directory configured")
		return
	}
	path := strings.TrimRight(s.c.opts.RecordingsDir, "/") + "/" + s.id + ".wav"
	if _, err := s.api("uuid_setvar " + s.uuid + " RECORD_STEREO true"); err != nil {
		s.log.Warn("recording: RECORD_STEREO not set", "err", err)
	}
	if out, err := s.api("uuid_record " + s.uuid + " start " + path); err != nil {
		s.log.Warn("recording not started", "err", err, "reply", out)
		s.event("recording_failed", db.JSONMap{"error": strings.TrimSpace(out)})
		return
	}
	s.recordPath = path
	s.update(map[string]any{"recording_path": path})
	s.event("recording_started", nil)
}

// startStream asks mod_audio_stream for the caller's audio (mono 16k: a
// recorded stereo stream sends nothing while nothing plays) with a fresh
// per-stream token.
func (s *callSession) startStream() {
	token, gen := s.newStreamToken()
	s.play = assistant.NewPlayback(assistant.WithPlaybackClock(s.c.opts.Now))
	s.pending = nil
	s.connected = false
	// The URL host may hold letters, digits, '-' and '.' only, and a query
	// needs a path (DESIGN.md); the metadata is sent as the first text frame
	// and must hold no space (the api splits its arguments on spaces).
	u := fmt.Sprintf("%s/fs/stream/%s/?token=%s", s.c.opts.StreamWSBase, s.id, token)
	meta := `{"call_id":"` + s.id + `","gen":` + strconv.Itoa(gen) + `}`
	for _, v := range []string{"STREAM_MESSAGE_DEFLATE false", "STREAM_HEART_BEAT " + strconv.Itoa(s.c.opts.HeartBeat)} {
		if out, err := s.api("uuid_setvar " + s.uuid + " " + v); err != nil {
			s.log.Warn("uuid_setvar failed", "var", v, "err", err, "reply", out)
		}
	}
	out, err := s.api("uuid_audio_stream " + s.uuid + " start " + u + " mono 16k " + meta)
	if err != nil {
		s.log.Warn("uuid_audio_stream start failed", "err", err, "reply", out)
		s.streamFault("uuid_audio_stream start: " + strings.TrimSpace(out))
		return
	}
	s.streamUntil = s.c.opts.Now().Add(s.c.opts.StreamConnectTimeout)
	s.event("stream_requested", db.JSONMap{"generation": gen})
}

// kill hangs the channel up with a cause.
func (s *callSession) kill(cause, reason string) {
	if s.ending {
		return
	}
	s.ending = true
	if s.endReason == "" {
		s.endReason = reason
	}
	if out, err := s.api("uuid_kill " + s.uuid + " " + cause); err != nil {
		s.log.Warn("uuid_kill failed", "err", err, "reply", out)
	}
}

// fault handles the assistant being unreachable or gone: transfer to the
// assistant's fallback number when it has one, otherwise hang up.
func (s *callSession) fault(reason string) {
	s.closeAssistant(false)
	if s.assistant != nil && s.assistant.FallbackTransferNumber != "" && !s.transferred {
		s.log.Warn("assistant fault: transferring to the fallback number", "reason", reason, "to", s.assistant.FallbackTransferNumber)
		s.event("fallback_transfer", db.JSONMap{"reason": reason, "to": s.assistant.FallbackTransferNumber})
		if s.transfer(s.assistant.FallbackTransferNumber, "") == nil {
			return
		}
	}
	cause := causeNormal
	if s.answeredAt.IsZero() {
		cause = causeUnavailable
	}
	s.log.Warn("assistant fault: hanging up", "reason", reason, "cause", cause)
	s.kill(cause, reason)
}

// streamFault handles mod_audio_stream failing (error, disconnect, no
// connect in time): restart the stream once, then end the call.
func (s *callSession) streamFault(reason string) {
	if s.ending || s.transferred {
		return
	}
	s.event("stream_failed", db.JSONMap{"reason": reason, "restarts": s.restarts})
	if s.fs != nil {
		_ = s.fs.Close()
		s.fs = nil
	}
	if s.restarts < 1 {
		s.restarts++
		s.log.Warn("audio stream failed: restarting it", "reason", reason)
		_, _ = s.api("uuid_audio_stream " + s.uuid + " stop")
		if s.pipe == nil {
			// Files mod_audio_stream wrote for the old stream: drop them.
			if s.play != nil {
				s.sendMarks(s.play.Clear().Marks)
			}
			_, _ = s.api("uuid_break " + s.uuid + " all")
		}
		s.startStream()
		return
	}
	s.log.Warn("audio stream failed again: ending the call", "reason", reason)
	s.kill(causeNormal, "audio stream failed: "+reason)
}

// closeAssistant ends the assistant stream (with `stop` when it is still
// up).
func (s *callSession) closeAssistant(stop bool) {
	if s.stream == nil {
		return
	}
	s.asst.Store(nil)
	if stop {
		_ = s.stream.Stop()
	}
	_ = s.stream.Close()
	s.stream = nil
}

// loop runs until the channel's CHANNEL_HANGUP_COMPLETE (or Close).
func (s *callSession) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	check := time.NewTicker(30 * time.Second)
	defer check.Stop()
	for {
		var msgs <-chan assistant.AssistantMessage
		if s.stream != nil {
			msgs = s.stream.Messages()
		}
		s.armTimer(timer)
		select {
		case <-s.c.ctx.Done():
			if s.dialing.Load() {
				s.c.cancelDial(s) // a bridge leg still ringing
			}
			s.kill(causeNormal, "sipbridge stopped")
			s.finish(nil)
			return
		case <-s.events.wake:
			for _, e := range s.events.drain() {
				if s.handleEvent(e) {
					return
				}
			}
		case <-s.requests.wake:
			for _, r := range s.requests.drain() {
				s.handleRequest(r)
			}
		case <-s.fsNotes.wake:
			for _, n := range s.fsNotes.drain() {
				s.handleFSNote(n)
			}
		case <-s.pipeWake:
			if s.pipe != nil {
				s.sendMarks(s.pipe.Due())
			}
			s.endIfPlayed()
		case m, ok := <-msgs:
			if !ok {
				err := s.stream.Err()
				if s.transferPending() {
					// The assistant let go of a call being transferred: the
					// transfer's outcome decides (a failed one hangs up).
					s.event("assistant_ended", db.JSONMap{"close": fmt.Sprint(err), "during": "transfer"})
					s.stream = nil
					s.asst.Store(nil)
					continue
				}
				if assistant.IsNormalClose(err) && !s.ending && !s.transferred {
					// The assistant's way to end the call (Twilio: the
					// server closing a <Connect><Stream>): play what it
					// sent, then hang up.
					s.log.Info("assistant closed its stream: ending the call once its audio is heard", "err", err)
					s.event("assistant_ended", db.JSONMap{"close": fmt.Sprint(err)})
					s.stream = nil
					s.asst.Store(nil)
					s.endWhenPlayed = true
					s.endBy = s.c.opts.Now().Add(s.playbackLeft() + 5*time.Second)
					s.endIfPlayed()
					continue
				}
				s.log.Warn("assistant stream ended", "err", err)
				s.event("assistant_disconnected", db.JSONMap{"error": fmt.Sprint(err)})
				s.stream = nil
				s.asst.Store(nil)
				if !s.ending && !s.transferred {
					s.fault("assistant disconnected")
				}
				continue
			}
			s.handleAssistant(m)
		case <-timer.C:
			s.onTimer()
		case <-check.C:
			// A lost CHANNEL_HANGUP_COMPLETE (Event Socket reconnect) must not
			// leave the call open forever.
			if out, err := s.api("uuid_exists " + s.uuid); err == nil && strings.TrimSpace(out) == "false" {
				s.finish(nil)
				return
			}
		}
	}
}

func (s *callSession) armTimer(t *time.Timer) {
	var next time.Time
	if s.play != nil {
		if at, ok := s.play.NextFlush(); ok {
			next = at
		}
	}
	if !s.connected && !s.streamUntil.IsZero() && (next.IsZero() || s.streamUntil.Before(next)) {
		next = s.streamUntil
	}
	if s.refering != nil && (next.IsZero() || s.refering.next.Before(next)) {
		next = s.refering.next
	}
	if s.endWhenPlayed && (next.IsZero() || s.endBy.Before(next)) {
		next = s.endBy
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	d := time.Hour
	if !next.IsZero() {
		d = max(time.Until(next), 0)
	}
	t.Reset(d)
}

func (s *callSession) onTimer() {
	if s.refering != nil {
		s.pollRefer()
	}
	if s.play != nil {
		s.sendChunks(s.play.Tick())
	}
	s.endIfPlayed()
	if !s.connected && !s.streamUntil.IsZero() && !s.c.opts.Now().Before(s.streamUntil) {
		s.streamUntil = time.Time{}
		s.streamFault("mod_audio_stream did not connect in time")
	}
}

// handleEvent reacts to one FreeSWITCH event; true when the call is over.
func (s *callSession) handleEvent(e *esl.Event) bool {
	if e.UUID() != s.uuid {
		return s.handleLegEvent(e)
	}
	switch e.Name() {
	case "CHANNEL_HANGUP":
		// The channel is going: nothing is restarted or transferred now, and
		// a bridge leg still ringing is cancelled.
		s.ending = true
		if s.dialing.Load() {
			s.c.cancelDial(s)
		}
	case "CHANNEL_ANSWER":
		// Answered by FreeSWITCH itself (a bridge before our uuid_answer).
		if s.answeredAt.IsZero() && s.rec != nil && s.rec.Status != db.CallRefused {
			s.answeredAt = s.c.opts.Now().UTC()
			s.update(map[string]any{"status": db.CallInProgress, "answered_at": s.answeredAt})
			s.event("answered", db.JSONMap{"by": "bridge"})
		}
	case "CHANNEL_HANGUP_COMPLETE":
		s.finish(e)
		return true
	case "DTMF":
		if d := e.Get("DTMF-Digit"); d != "" {
			s.event("dtmf", db.JSONMap{"digit": d})
			if s.stream != nil {
				if err := s.stream.SendDTMF(d); err != nil {
					s.log.Debug("dtmf not forwarded", "err", err)
				}
			}
		}
	case "PLAYBACK_STOP":
		path := e.Get("Playback-File-Path")
		if s.pipe != nil && path == s.pipe.path {
			s.pipeStopped()
			return false
		}
		if s.play != nil {
			s.sendMarks(s.play.Played(path).Marks)
		}
		s.endIfPlayed()
	case "RECORD_STOP":
		if n, err := strconv.ParseInt(e.Get("variable_record_file_size"), 10, 64); err == nil {
			s.recordBytes = n
		}
	case "CHANNEL_BRIDGE":
		s.event("bridged", db.JSONMap{"other_leg": e.Get("Other-Leg-Unique-ID")})
	case "CUSTOM":
		s.handleCustom(e)
	}
	return false
}

func (s *callSession) handleCustom(e *esl.Event) {
	switch e.Subclass() {
	case "mod_audio_stream::connect":
		s.event("stream_connected", nil)
	case "mod_audio_stream::play":
		if s.play == nil || s.transferred {
			return
		}
		pe, err := assistant.ParsePlayEvent([]byte(e.Body))
		if err != nil {
			s.log.Warn("bad mod_audio_stream::play event", "err", err)
			return
		}
		if s.play.Stale(pe.File) {
			return // a chunk a clear dropped
		}
		if out, err := s.api("uuid_broadcast " + s.uuid + " " + pe.File + " aleg"); err != nil {
			s.log.Warn("uuid_broadcast failed", "err", err, "reply", out)
			s.sendMarks(s.play.Played(pe.File).Marks)
		}
	case "mod_audio_stream::disconnect", "mod_audio_stream::error":
		if s.eslFaultsDue > 0 {
			s.eslFaultsDue--
			return
		}
		s.streamFault(e.Subclass() + " " + e.Body)
	case "sofia::notify_refer":
		s.onReferNotify(e.Body)
	}
}

func (s *callSession) handleAssistant(m assistant.AssistantMessage) {
	switch m.Event {
	case assistant.EventMedia:
		if s.pipe != nil {
			s.pipe.Write(m.Payload)
		} else if s.play != nil {
			s.sendChunks(s.play.Write(m.Payload))
		}
	case assistant.EventMark:
		if s.pipe != nil {
			s.pipe.Mark(m.Mark)
		} else if s.play != nil {
			s.sendChunks(s.play.Mark(m.Mark))
		}
	case assistant.EventClear:
		if s.pipe != nil {
			// The pipe holds at most pipeLead: no uuid_break, which would
			// end the call's one playback.
			s.sendMarks(s.pipe.Clear())
			return
		}
		if s.play == nil {
			return
		}
		out := s.play.Clear()
		s.pending = nil
		if o, err := s.api("uuid_break " + s.uuid + " all"); err != nil {
			s.log.Debug("uuid_break", "err", err, "reply", o)
		}
		s.sendMarks(out.Marks)
	case assistant.EventTransfer:
		s.event("transfer_requested", db.JSONMap{"to": m.TransferTo, "by": "assistant"})
		if err := s.transfer(m.TransferTo, ""); err != nil {
			// Refused before anything was tried (target, destination
			// rules, address policy, a transfer already under way).
			s.log.Warn("transfer refused", "to", m.TransferTo, "err", err)
			if s.stream != nil {
				if err := s.stream.SendTransferFailed(m.TransferTo, err.Error()); err != nil {
					s.log.Debug("transfer_failed not sent", "err", err)
				}
			}
		}
	case assistant.EventHangup:
		s.event("hangup_requested", db.JSONMap{"by": "assistant", "immediate": m.Immediate})
		s.closeAssistant(true)
		if s.transferPending() {
			// The transfer decides: the caller leaves with it, or, when it
			// fails, with no assistant left the call is hung up then.
			return
		}
		if m.Immediate {
			s.kill(causeNormal, "assistant hung up")
			return
		}
		// The goodbye the assistant sent before its hangup is heard to
		// its end first (at most hangupWait).
		s.endReason = "assistant hung up"
		s.endWhenPlayed = true
		s.endBy = s.c.opts.Now().Add(min(s.playbackLeft()+2*time.Second, hangupWait))
		s.endIfPlayed()
	}
}

func (s *callSession) handleRequest(r request) {
	switch r.kind {
	case reqHangup:
		s.event("hangup_requested", db.JSONMap{"by": "api"})
		s.closeAssistant(true)
		s.kill(causeNormal, "hung up through the API")
	case reqTransfer:
		s.event("transfer_requested", db.JSONMap{"to": r.to, "mode": r.mode, "by": "api"})
		p, err := s.planTransfer(r.to, r.mode)
		r.reply <- err
		if err != nil {
			s.event("transfer_failed", db.JSONMap{"to": r.to, "error": err.Error()})
			return
		}
		s.runTransfer(p)
	case reqDialDone:
		s.onDialDone(r)
	}
}

func (s *callSession) handleFSNote(n fsNote) {
	if n.gen != s.currentGen() {
		if n.conn != nil {
			_ = n.conn.Close() // an old generation's stream
		}
		return
	}
	if n.conn != nil {
		if s.fs != nil {
			_ = s.fs.Close()
		}
		s.fs, s.fsGen, s.connected = n.conn, n.gen, true
		pending := s.pending
		s.pending = nil
		s.writeChunks(pending)
		return
	}
	if n.closed && s.fs != nil && s.fsGen == n.gen {
		s.fs = nil
		// mod_audio_stream reports its side with ::disconnect/::error; a
		// websocket that breaks without either is a fault too.
		// mod_audio_stream closes with 1000 when it stops on purpose (hangup,
		// uuid_audio_stream stop): not a failure.
		if !s.ending && !s.transferred && !websocket.IsCloseError(n.err, websocket.CloseNormalClosure) {
			s.eslFaultsDue++
			s.streamFault("websocket closed: " + fmt.Sprint(n.err))
		}
	}
}

// sendChunks sends playback chunks to mod_audio_stream (or keeps them until
// it connects) and echoes the marks that are due.
func (s *callSession) sendChunks(out assistant.PlaybackOutput) {
	if len(out.Chunks) > 0 {
		if s.fs == nil {
			s.pending = append(s.pending, out.Chunks...)
		} else {
			s.writeChunks(out.Chunks)
		}
	}
	s.sendMarks(out.Marks)
}

func (s *callSession) writeChunks(chunks []assistant.Chunk) {
	for _, ch := range chunks {
		_ = s.fs.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if err := s.fs.WriteMessage(textMessage, ch.Message); err != nil {
			s.log.Warn("streamAudio not sent", "err", err)
			return
		}
	}
}

func (s *callSession) sendMarks(marks []string) {
	for _, m := range marks {
		if s.stream == nil {
			return
		}
		if err := s.stream.SendMark(m); err != nil {
			s.log.Debug("mark not sent", "err", err)
		}
	}
}

// finish closes the record when the channel is gone (e is its
// CHANNEL_HANGUP_COMPLETE, nil when it was lost).
func (s *callSession) finish(e *esl.Event) {
	s.closeAssistant(true)
	if s.rec == nil {
		return
	}
	now := s.c.opts.Now().UTC()
	cause := "UNKNOWN"
	if e != nil {
		cause = e.Get("Hangup-Cause")
	}
	cols := map[string]any{"ended_at": now, "hangup_cause": cause}
	switch {
	case s.rec.Status == db.CallRefused:
	case !s.answeredAt.IsZero():
		cols["status"] = db.CallCompleted
		dur := int(now.Sub(s.answeredAt).Round(time.Second) / time.Second)
		if e != nil {
			if b, err := strconv.Atoi(e.Get("variable_billsec")); err == nil {
				dur = b
			}
		}
		cols["duration_seconds"] = dur
	default:
		cols["status"] = db.CallFailed
	}
	if s.endReason != "" && s.rec.Status != db.CallRefused {
		cols["reason"] = s.endReason
	}
	if s.recordPath != "" {
		if st, err := os.Stat(s.recordPath); err == nil {
			s.recordBytes = st.Size()
		}
		cols["recording_bytes"] = s.recordBytes
	}
	s.update(cols)
	s.event("hangup", db.JSONMap{"cause": cause, "reason": s.endReason})
	s.notifyFinish(cols)
	s.log.Info("call ended", "cause", cause, "reason", s.endReason)
}

// pipeStopped: the pipe's playback ended while the pipe is open (a
// uuid_break from outside, a media renegotiation): play it again, a few
// times at most.
func (s *callSession) pipeStopped() {
	if s.ending || s.transferred || s.pipe.closed() {
		return
	}
	if s.pipeRestarts >= 3 {
		s.log.Warn("playback pipe stopped again: the assistant is no longer heard")
		return
	}
	s.pipeRestarts++
	s.log.Warn("playback pipe stopped: playing it again", "restarts", s.pipeRestarts)
	s.broadcastPipe()
}

// playbackLeft estimates how long the audio already sent takes to play.
func (s *callSession) playbackLeft() time.Duration {
	switch {
	case s.pipe != nil:
		return s.pipe.Left()
	case s.play != nil:
		return s.play.Buffered() + time.Duration(s.play.Outstanding())*assistant.PlaybackChunk
	}
	return 0
}

// cleanup releases what the call still holds.
func (s *callSession) cleanup() {
	if s.pipe != nil {
		s.pipe.Remove()
	}
	s.closeAssistant(false)
	if s.fs != nil {
		_ = s.fs.Close()
		s.fs = nil
	}
	// Streams still attaching are refused by the token check; close any
	// that raced in.
	for _, n := range s.fsNotes.drain() {
		if n.conn != nil {
			_ = n.conn.Close()
		}
	}
	s.mu.Lock()
	s.token = ""
	s.mu.Unlock()
}

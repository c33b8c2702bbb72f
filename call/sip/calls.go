package sip

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/options"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/route"
)

// CallEventNames are the events call control follows on the event
// connection (with esl.WithEvents): channel lifecycle, playback, recording,
// DTMF, mod_audio_stream and REFER outcomes.
var CallEventNames = []string{
	"CHANNEL_CREATE", "CHANNEL_PARK", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF",
	"PLAYBACK_START", "PLAYBACK_STOP", "RECORD_STOP",
	"mod_audio_stream::connect", "mod_audio_stream::disconnect", "mod_audio_stream::error",
	"mod_audio_stream::json", "mod_audio_stream::play", "sofia::notify_refer",
}

// callSwitch is what call control needs of the Event Socket: api for quick
// channel commands, bgapi for the ones that block (originate, uuid_deflect),
// sendmsg to have a channel play a file without uuid_broadcast's lead
// frames (playFile).
type callSwitch interface {
	API(ctx context.Context, cmd string) (string, error)
	BGAPI(ctx context.Context, cmd string) (string, error)
	SendMsg(ctx context.Context, uuid string, msg esl.SendMsg) error
}

var _ callSwitch = (*esl.Client)(nil)

// CallsOptions configures call control (call/sip/options: the fields and
// their defaults).
type CallsOptions = options.Options

var _ call.Path = (*Calls)(nil)

// Calls is call control: it routes inbound calls parked by the dialplan,
// answers the accepted ones, bridges their audio to the assistant over
// mod_audio_stream and the Twilio Media Streams protocol, handles faults and
// transfers, and keeps a record of every call.
//
// Events arrive from the ESL dispatcher (HandleEvent, which never blocks);
// each live call has one goroutine that owns its state, plus a reader for
// each of its two websockets and a writer of the caller's audio to the
// assistant (mediaForwarder). No goroutine outlives its call.
type Calls struct {
	store  *db.Store
	router *route.Router
	sw     callSwitch
	opts   CallsOptions
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	// adopting: one Adopt at a time (a restart's and a lease taken again
	// while the first still runs would both take the same call).
	adopting sync.Mutex
	mu       sync.Mutex
	byUUID   map[string]*callSession // channel UUID → session (legs it bridged too)
	byID     map[string]*callSession // call id → session
	// live counts the calls begun (a drain waits for them) and knows each
	// live call's organization and path.
	registry *call.Registry
	refusals *call.HeldRefusals // calls refused while the database was away
	// limits are the organization's call limits and its admission lock
	// (the limit checks and the creation of the call record, serialized).
	limits *call.Limits
	// cancelledDials are the sipbridge_dial ids of originates cancelled
	// while they may still start legs; such legs are hung up as they are
	// created, even after their call's session has ended.
	cancelledDials map[string]bool
	// Status callbacks outlive their calls a little (retries): their own
	// context and count, ended after the calls' on Close.
	cbCtx    context.Context
	cbCancel context.CancelFunc
	cbWG     sync.WaitGroup
	started  time.Time // when call control was made (an adopted call's since_start_ms)
}

// NewCalls returns call control. Close ends every session.
func NewCalls(store *db.Store, sw callSwitch, opts CallsOptions) *Calls {
	opts = opts.WithDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Calls{registry: opts.Registry, store: store, router: route.New(store, opts.Routing), sw: sw, opts: opts, log: opts.Log,
		ctx: ctx, cancel: cancel, byUUID: map[string]*callSession{}, byID: map[string]*callSession{},
		limits: call.NewLimits(store, opts.DefaultLimits, opts.Now), cancelledDials: map[string]bool{}, started: opts.Now()}
	if opts.Limits != nil {
		c.limits = opts.Limits
	}
	c.cbCtx, c.cbCancel = context.WithCancel(context.Background())
	c.refusals = call.NewHeldRefusals(c.router, store, opts.Log)
	return c
}

// statusNotifier returns the status callback of a call (nil without a
// URL); events it gives up on go to the call's timeline.
func (c *Calls) statusNotifier(url, secret, callID string, log *slog.Logger, timeline func(string, db.JSONMap)) *call.Notifier {
	n := call.NewNotifier(c.cbCtx, &c.cbWG, c.opts.StatusCallbacks, c.opts.AddressPolicy, url, secret, callID, log)
	n.OnFailed(func(event, err string) {
		timeline(call.EventStatusCallbackFailed, db.JSONMap{"event": event, "error": err})
	})
	return n
}

// HandleEvent takes one event from the event connection. It never blocks:
// the event is queued to its call's goroutine, or starts a new call on the
// CHANNEL_PARK of an inbound channel sipbridge does not know yet.
func (c *Calls) HandleEvent(e *esl.Event) {
	id := e.UUID()
	if id == "" {
		return
	}
	c.mu.Lock()
	s := c.byUUID[id]
	if s == nil && e.Name() == "CHANNEL_PARK" && isInbound(e) {
		done, err := c.registry.Begin()
		if err != nil {
			c.mu.Unlock()
			go c.refuseDraining(id) // never block the event dispatcher
			return
		}
		s = newCallSession(c, id)
		s.live = done
		c.byUUID[id] = s
		c.byID[s.id] = s
		go s.run(e)
		c.mu.Unlock()
		return
	}
	cancelledLeg := e.Name() == "CHANNEL_CREATE" && c.cancelledDials[e.Get("variable_sipbridge_dial")]
	c.mu.Unlock()
	if cancelledLeg {
		// A leg a cancelled originate tried next (failover): hang it up.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = c.sw.API(ctx, "uuid_kill "+id+" ORIGINATOR_CANCEL")
		}()
	}
	if s == nil {
		s = c.legOf(e)
	}
	if s != nil {
		s.dials.Observe(e, c.opts.Now()) // a leg of its originate
		s.events.Push(e)
	}
}

func isInbound(e *esl.Event) bool {
	if e.Get("variable_sipbridge_inbound") == "true" {
		return true
	}
	return e.Get("Call-Direction") == "inbound" && e.Get("variable_sipbridge_leg") == ""
}

// refuseDraining turns a new call away while shutting down (503).
func (c *Calls) refuseDraining(uuid string) {
	c.log.Warn("inbound call refused: draining", "call_uuid", uuid)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = c.sw.API(ctx, "uuid_kill "+uuid+" NORMAL_TEMPORARY_FAILURE")
}

// addLeg routes a bridged leg's events to its session.
func (c *Calls) addLeg(uuid string, s *callSession) {
	c.mu.Lock()
	c.byUUID[uuid] = s
	c.mu.Unlock()
}

func (c *Calls) remove(s *callSession) {
	c.mu.Lock()
	for k, v := range c.byUUID {
		if v == s {
			delete(c.byUUID, k)
		}
	}
	delete(c.byID, s.id)
	c.mu.Unlock()
	c.registry.Remove(s.id)
}

// Active returns the number of live calls.
func (c *Calls) Active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// Drain refuses new calls and waits until the live ones have ended or ctx
// is done (SIGTERM).
func (c *Calls) Drain(ctx context.Context) error { return c.registry.Drain(ctx) }

// Close ends every session (their calls are hung up as far as FreeSWITCH
// can still be told) and waits for their goroutines.
func (c *Calls) Close() {
	c.registry.StopAdmitting() // no session starts while Close waits
	c.cancel()
	c.registry.Wait()
	c.refusals.Close()
	call.WaitBounded(&c.cbWG, 5*time.Second) // the last status callbacks
	c.cbCancel()
	c.cbWG.Wait()
}

// lockAdmit takes the organization's admission lock; the returned release
// may be called more than once.
func (c *Calls) lockAdmit(org int64) (release func()) { return c.limits.Admit(org) }

// dialOver forgets a cancelled originate once it has returned: it starts
// no more legs.
func (c *Calls) dialOver(dialID string) {
	c.mu.Lock()
	delete(c.cancelledDials, dialID)
	c.mu.Unlock()
}

// StreamSink receives one mod_audio_stream websocket.
type StreamSink interface {
	// ServeStream reads caller audio from conn until the stream or the call
	// ends; it closes conn.
	ServeStream(conn call.StreamConn)
}

// AuthorizeStream checks the token of a mod_audio_stream websocket for a
// live call before the upgrade.
func (c *Calls) AuthorizeStream(callID, token string) (StreamSink, error) {
	c.mu.Lock()
	s := c.byID[callID]
	c.mu.Unlock()
	if s == nil {
		return nil, call.ErrBadStreamToken
	}
	gen, ok := s.tokenOK(token)
	if !ok {
		return nil, call.ErrBadStreamToken
	}
	return &streamSink{s: s, gen: gen}, nil
}

// SwitchReconnected is told that an Event Socket connection came back:
// every live call checks at once that its channel still exists. A hangup
// whose events were lost while the connection was down, or every channel
// of a FreeSWITCH that was killed and started again, closes its record now
// (reason: the connection was lost) rather than at the next periodic check.
func (c *Calls) SwitchReconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.byID {
		s.requests.Push(request{kind: reqChannelCheck})
	}
}

// Hangup ends a live call of the organization (API); an outbound call
// still ringing is cancelled (by its goroutine, which waits on the
// originate: callSession.ring).
func (c *Calls) Hangup(ctx context.Context, orgID int64, callID string) error {
	s := c.live(orgID, callID)
	if s == nil {
		return call.ErrCallNotFound
	}
	s.requests.Push(request{kind: reqHangup})
	return nil
}

// Transfer moves a live call of the organization to a sip: URI or an E.164
// number (API). mode is "", "refer" or "bridge". It answers once the
// session has decided the transfer can be done (and started it): a target
// that cannot be reached leaves the call with its assistant.
func (c *Calls) Transfer(ctx context.Context, orgID int64, callID, to string, mode call.TransferMode) error {
	s := c.live(orgID, callID)
	if s == nil {
		return call.ErrCallNotFound
	}
	if s.notAnswered() {
		return call.ErrNotAnswered
	}
	reply := make(chan error, 1)
	s.requests.Push(request{kind: reqTransfer, to: to, mode: string(mode), reply: reply})
	select {
	case err := <-reply:
		return err
	case <-s.done:
		return call.ErrCallNotFound
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return call.ErrTransferInProgress
	}
}

func (c *Calls) live(orgID int64, callID string) *callSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.byID[callID]
	if s == nil || s.orgID() != orgID {
		return nil
	}
	return s
}

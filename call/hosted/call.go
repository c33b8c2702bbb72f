package hosted

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
)

// A hosted call's state is a call.Lifecycle: Routing (inbound, not
// answered yet) or Ringing (outbound), Connecting once answered and until
// its media stream attaches, InProgress while the stream serves it,
// Transferring and Transferred while and once the provider moves it
// elsewhere, and terminal once its record is closed. A media stream
// attaches only to a call not yet streamed nor transferred.

// attachLocked moves the call to InProgress for its media stream (c.mu
// held): from Routing or Ringing through Connecting (the stream is the
// answer), from Connecting at once. It reports whether the stream may
// serve the call.
func (c *hostedCall) attachLocked() bool {
	switch c.life.State() {
	case call.Routing, call.Ringing:
		if c.life.To(call.Connecting) != nil {
			return false
		}
	case call.Connecting:
	default:
		return false
	}
	return c.life.To(call.InProgress) == nil
}

// is reports whether the call is in one of the states.
func (c *hostedCall) is(states ...call.State) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range states {
		if c.life.State() == s {
			return true
		}
	}
	return false
}

// hostedCall is one live provider-hosted call.
type hostedCall struct {
	h         *Path
	id        string // calls.id
	provider  string
	orgID     int64
	token     string
	outbound  bool
	assistant *db.Assistant
	info      assistant.StartInfo
	log       *slog.Logger
	done      chan struct{} // closed when the call is over
	counted   func()        // ends the call's count in the registry (once)
	detach    chan struct{} // closed when the call left the assistant (transfer)
	detached  sync.Once

	mu         sync.Mutex
	life       call.Lifecycle
	sid        string // provider call id
	answeredAt time.Time
	// unserved: no assistant ever took the call (its fault hung it up); the
	// record ends failed whoever ends it.
	unserved  bool
	endReason string
	timer     *time.Timer
	// status posts an outbound call's progress to its status_callback
	// (nil: none); cbRec is what the posts say of the call.
	status *call.Notifier
	cbRec  db.Call
	// amdOn: the outbound call asked its provider for answering machine
	// detection (amdAction its amd_action); amdResult is the decision once
	// reported, amdBeepDone once wait_beep's beep report went. amdOut
	// carries the amd messages to the relay.
	amdOn, amdBeepDone   bool
	amdAction, amdResult string
	amdOut               chan assistant.AMDPayload
}

// newCall counts and registers a live call (record not yet stored); while
// draining it refuses with call.ErrDraining.
func (h *Path) newCall(prov string, orgID int64, a *db.Assistant, outbound bool) (*hostedCall, error) {
	counted, err := h.live.Begin()
	if err != nil {
		return nil, err
	}
	id := db.NewID()
	c := &hostedCall{h: h, id: id, provider: prov, orgID: orgID, token: call.NewToken(), outbound: outbound, assistant: a,
		log:  h.log.With("call_id", id, "org_id", orgID, "provider", prov),
		done: make(chan struct{}), counted: counted, detach: make(chan struct{}), life: call.NewLifecycle(outbound),
		amdOut: make(chan assistant.AMDPayload, 2)}
	h.mu.Lock()
	h.byID[id] = c
	h.mu.Unlock()
	h.live.Add(id, orgID, h)
	return c, nil
}

// setSID records the provider's call id of a call.
func (c *hostedCall) setSID(sid string) {
	c.mu.Lock()
	c.sid = sid
	c.mu.Unlock()
	c.h.mu.Lock()
	c.h.bySID[c.provider+"|"+sid] = c
	c.h.mu.Unlock()
}

func (c *hostedCall) providerSID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

// armTimer (re)arms the call's watchdog: when it fires before a stream
// attached (or after the stream ended), the call is closed with reason;
// with hangup the provider is asked to end it first and the call counts as
// failed (no stream ever served it).
func (c *hostedCall) armTimer(d time.Duration, cause, reason string, hangup bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.life.State().Terminal() {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(d, func() {
		c.log.Warn("hosted call watchdog fired", "reason", reason)
		if hangup {
			_ = c.providerHangup(context.Background())
		}
		c.finish(finishInfo{cause: cause, reason: reason, failed: hangup})
	})
}

// event appends to the call's timeline.
func (c *hostedCall) event(typ string, detail db.JSONMap) { c.recorder().Event(typ, detail) }

func (c *hostedCall) update(cols map[string]any) { c.recorder().Update(cols) }

// recorder writes the call's record and timeline.
func (c *hostedCall) recorder() call.Recorder {
	return call.Recorder{Store: c.h.store, Log: c.log, OrgID: c.orgID, CallID: c.id}
}

// answered marks the call answered (once).
func (c *hostedCall) answered() {
	c.mu.Lock()
	if !c.answeredAt.IsZero() || c.life.State().Terminal() {
		c.mu.Unlock()
		return
	}
	if s := c.life.State(); s == call.Routing || s == call.Ringing {
		_ = c.life.To(call.Connecting)
	}
	now := c.h.opts.Now().UTC()
	c.answeredAt = now
	c.mu.Unlock()
	c.recorder().UpdateOpen(map[string]any{"status": db.CallInProgress, "answered_at": now})
	c.event(call.EventAnswered, nil)
	c.notifyStatus(call.StatusAnswered, "", "", 0)
}

// notifyStatus posts one status event of an outbound call with a
// status_callback.
func (c *hostedCall) notifyStatus(event, cause, reason string, dur int) {
	if c.status == nil {
		return
	}
	c.mu.Lock()
	st := call.StatusOf(event, &c.cbRec, c.h.opts.Now())
	c.mu.Unlock()
	st.Cause, st.Reason, st.DurationSeconds = cause, reason, dur
	c.status.Notify(st)
}

type finishInfo struct {
	cause  string // provider's hangup cause, or ours
	reason string
	failed bool // the call failed even if answered
}

// finish closes the record once and ends the relay.
func (c *hostedCall) finish(f finishInfo) {
	c.mu.Lock()
	if !c.life.End() {
		c.mu.Unlock()
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.endReason == "" {
		c.endReason = f.reason
	}
	reason, answeredAt, sid := c.endReason, c.answeredAt, c.sid
	f.failed = f.failed || c.unserved
	c.mu.Unlock()
	close(c.done)
	c.h.mu.Lock()
	delete(c.h.byID, c.id)
	if sid != "" {
		delete(c.h.bySID, c.provider+"|"+sid)
	}
	c.h.mu.Unlock()
	c.h.live.Remove(c.id)
	defer c.counted() // once the record is closed

	now := c.h.opts.Now().UTC()
	cause := f.cause
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	cols := map[string]any{"ended_at": now, "hangup_cause": cause}
	if !answeredAt.IsZero() && !f.failed {
		cols["status"] = db.CallCompleted
		cols["duration_seconds"] = int(now.Sub(answeredAt).Round(time.Second) / time.Second)
	} else {
		cols["status"] = db.CallFailed
	}
	if reason != "" {
		cols["reason"] = reason
	}
	c.update(cols)
	c.event(call.EventHangup, db.JSONMap{"cause": cause, "reason": reason})
	event := call.StatusFailed
	if cols["status"] == db.CallCompleted {
		event = call.StatusCompleted
	}
	dur, _ := cols["duration_seconds"].(int)
	c.notifyStatus(event, cause, reason, dur)
	c.log.Info("hosted call ended", "cause", cause, "reason", reason)
}

// setReason keeps the first explanation of how the call ended.
func (c *hostedCall) setReason(r string) {
	c.mu.Lock()
	if c.endReason == "" {
		c.endReason = r
	}
	c.mu.Unlock()
}

// providerHangup asks the provider to end the call.
func (c *hostedCall) providerHangup(ctx context.Context) error {
	sid := c.providerSID()
	if sid == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := c.h.client(ctx, c.orgID, c.assistant, c.provider)
	if err != nil {
		return err
	}
	if err := p.Hangup(ctx, sid); err != nil {
		c.log.Warn("provider hangup failed", "err", err)
		return fmt.Errorf("%w: %w", ErrProviderCall, err)
	}
	return nil
}

// providerTransfer moves the call to a number or sip: URI at the provider.
func (c *hostedCall) providerTransfer(ctx context.Context, to string) error {
	tt, err := call.ParseTransferTarget(to)
	if err == nil {
		err = c.checkDestination(ctx, tt)
	}
	if err == nil {
		err = call.CheckTransferHost(ctx, call.AddressPolicy(c.h.opts.AddressPolicy), tt.HostPort)
	}
	if err != nil {
		c.event(call.EventTransferFailed, db.JSONMap{"to": to, "error": err.Error()})
		return err
	}
	sid := c.providerSID()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := c.h.client(ctx, c.orgID, c.assistant, c.provider)
	if err != nil {
		return err
	}
	// transferring before the provider is asked: its stream may stop
	// before the answer comes back, and must not be taken for the caller
	// hanging up.
	from, err := c.beginTransfer()
	if err != nil {
		c.event(call.EventTransferFailed, db.JSONMap{"to": to, "error": err.Error()})
		return err
	}
	if err := p.Transfer(ctx, sid, strings.TrimSpace(to)); err != nil {
		c.endTransfer(from)
		c.log.Warn("provider transfer failed", "to", to, "err", err)
		c.event(call.EventTransferFailed, db.JSONMap{"to": to, "error": err.Error()})
		return fmt.Errorf("%w: %w", ErrProviderCall, err)
	}
	c.endTransfer(call.Transferred)
	c.setReason("transferred to " + to)
	c.event(call.EventTransferred, db.JSONMap{"to": to})
	// The assistant's part is over; the relay closes its stream.
	c.detached.Do(func() { close(c.detach) })
	if from == call.Connecting {
		// No stream ever served the call, and none will: the call is
		// where a streamed one is once its stream stopped (not hung up
		// by the stream watchdog as a call nobody answered).
		c.streamDone("transferred to " + to)
	}
	return nil
}

// beginTransfer moves the call to Transferring and returns the state it
// left: ErrNotAnswered before the call is answered, ErrTransferInProgress
// while or once another transfer moves it, ErrCallNotFound once it is over.
func (c *hostedCall) beginTransfer() (call.State, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := c.life.State()
	switch {
	case from.Terminal():
		return from, call.ErrCallNotFound
	case from == call.Routing || from == call.Ringing:
		return from, call.ErrNotAnswered
	case from == call.Transferring || from == call.Transferred:
		return from, call.ErrTransferInProgress
	}
	if err := c.life.To(call.Transferring); err != nil {
		return from, call.ErrTransferInProgress
	}
	return from, nil
}

// endTransfer moves a transferring call to Transferred, or back to the
// state it left (a call over meanwhile stays over).
func (c *hostedCall) endTransfer(to call.State) {
	c.mu.Lock()
	if c.life.State() == call.Transferring {
		_ = c.life.To(to)
	}
	c.mu.Unlock()
}

// isTransferred reports whether the call is being or has been moved
// elsewhere by its provider.
func (c *hostedCall) isTransferred() bool {
	return c.is(call.Transferring, call.Transferred)
}

// checkDestination applies the organization's destination rules
// (CheckDestination) to the number a transfer reaches, as on the SIP path.
func (c *hostedCall) checkDestination(ctx context.Context, t call.TransferTarget) error {
	number := t.E164
	if t.SIPURI != "" {
		number = call.E164User(t.SIPURI)
	}
	if number == "" {
		return nil
	}
	org, err := c.h.store.GetOrg(ctx, c.orgID)
	if err != nil {
		return err
	}
	return call.CheckDestination(org, number)
}

// fault handles the assistant being unreachable or gone: the assistant's
// fallback number when it has one (provider transfer), else a hangup.
// neverConnected marks a call no assistant ever took: hung up, its record
// ends failed (as a SIP call refused for the same reason).
func (c *hostedCall) fault(reason string, neverConnected bool) {
	c.setReason(reason)
	if a := c.assistant; a != nil && a.FallbackTransferNumber != "" {
		c.log.Warn("assistant fault: transferring to the fallback number", "reason", reason, "to", a.FallbackTransferNumber)
		c.event(call.EventFallbackNumberTransfer, db.JSONMap{"reason": reason, "to": a.FallbackTransferNumber})
		if c.providerTransfer(context.Background(), a.FallbackTransferNumber) == nil {
			return
		}
	}
	c.log.Warn("assistant fault: hanging up", "reason", reason)
	if neverConnected {
		c.mu.Lock()
		c.unserved = true
		c.mu.Unlock()
	}
	_ = c.providerHangup(context.Background())
}

// startInfo fills what `start` tells the assistant.
func (c *hostedCall) startInfo(from, to, welcome string, extra map[string]string) {
	dir := db.DirectionInbound
	if c.outbound {
		dir = db.DirectionOutbound
	}
	c.info = assistant.StartInfo{CallID: c.id, From: from, To: to, AssistantID: c.assistant.ID, Direction: dir,
		WelcomeMessage: cmp.Or(welcome, c.assistant.WelcomeMessage), Extra: map[string]string{}, AudioFormat: c.assistant.Config.AudioFormat}
	for k, v := range extra {
		c.info.Extra[k] = v
	}
	c.info.Extra["provider"] = c.provider
}

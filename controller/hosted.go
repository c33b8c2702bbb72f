package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/creds"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/clients"
	"github.com/sipbridge/sipbridge/provider/telnyx"
)

// Hosted-provider voice errors.
var (
	// ErrWebhookSignature means a provider webhook failed its signature
	// check (or could not be checked: no key for the organization). API: 403.
	ErrWebhookSignature = errors.New("provider webhook signature invalid or unverifiable")
	// ErrBadWebhook means a provider webhook could not be parsed. API: 400.
	ErrBadWebhook = errors.New("malformed provider webhook")
	// ErrProviderCall means the provider refused or failed a call request
	// (create, answer, hangup, transfer). API: 502 with the provider's message.
	ErrProviderCall = errors.New("provider call request failed")
)

// HostedOptions configures the hosted-provider voice path.
type HostedOptions struct {
	// PublicBaseURL is how providers reach sipbridge (PUBLIC_BASE_URL): the
	// webhooks are <base>/twiml, /telnyx-webhook, /vonage-webhook and the
	// media websocket is ws(s)://<host>/streams.
	PublicBaseURL string
	// ProviderConfig points the provider clients (base URLs, timeouts).
	ProviderConfig provider.Config
	// Env is the environment level of credentials (after the organization's).
	Env provider.Credentials
	// AssistantConnectTimeout bounds the websocket to the assistant
	// (default 1.5 s).
	AssistantConnectTimeout time.Duration
	// StreamTimeout is how long the provider may take to open the media
	// websocket once the call is answered (default 15 s).
	StreamTimeout time.Duration
	// RingTimeout is how long an outbound call may ring (default 60 s).
	RingTimeout time.Duration
	// HangupGrace is how long a Telnyx or Vonage record stays open after
	// its stream ended, waiting for the hangup webhook (default 30 s).
	HangupGrace time.Duration
	// DialOptions are passed to assistant.Dial (tests: clock, timeouts).
	DialOptions []assistant.DialOption
	// AddressPolicy decides which addresses the assistant's stream_url may
	// reach (nil: netpolicy.Default()); status callbacks go through it too.
	AddressPolicy *netpolicy.Policy
	// StatusCallbacks shape the delivery of outbound calls' status_callback.
	StatusCallbacks StatusCallbackOptions
	// VonageReplays remembers the Vonage JWTs already used; app hands the
	// same cache to the SMS webhooks (nil: one of the path's own).
	VonageReplays *provider.ReplayCache
	Log           *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Hosted bridges calls on numbers hosted at Twilio, Telnyx or Vonage to
// the organization's assistants: it answers the providers' voice webhooks,
// accepts their media websockets (/streams) and relays the audio over the
// same Twilio Media Streams protocol as the SIP path, keeping the same call
// records. It also places outbound calls from such numbers (HostedDialer).
//
// Each live call is a hostedCall; its stream goroutine (the websocket
// handler's) owns the relay. Webhooks and the API reach a call through its
// control channel. Close ends every call.
type Hosted struct {
	store *db.Store
	creds *creds.Resolver
	opts  HostedOptions
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	byID     map[string]*hostedCall
	bySID    map[string]*hostedCall // provider + "|" + provider call id
	draining bool
	closed   bool // Close was called: no new relay starts
	wg       sync.WaitGroup
	replays  *provider.ReplayCache // Vonage JWTs already used (opts.VonageReplays)
	// Status callbacks: their own context and count (they outlive calls).
	cbCtx    context.Context
	cbCancel context.CancelFunc
	cbWG     sync.WaitGroup
}

var _ HostedDialer = (*Hosted)(nil)

// NewHosted returns the hosted-provider voice path.
func NewHosted(store *db.Store, opts HostedOptions) *Hosted {
	opts.PublicBaseURL = strings.TrimRight(opts.PublicBaseURL, "/")
	if opts.AssistantConnectTimeout <= 0 {
		opts.AssistantConnectTimeout = 1500 * time.Millisecond
	}
	if opts.StreamTimeout <= 0 {
		opts.StreamTimeout = 15 * time.Second
	}
	if opts.RingTimeout <= 0 {
		opts.RingTimeout = 60 * time.Second
	}
	if opts.HangupGrace <= 0 {
		opts.HangupGrace = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.VonageReplays == nil {
		opts.VonageReplays = &provider.ReplayCache{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hosted{store: store, creds: creds.New(store, opts.Env), opts: opts, log: opts.Log,
		ctx: ctx, cancel: cancel, byID: map[string]*hostedCall{}, bySID: map[string]*hostedCall{}, replays: opts.VonageReplays}
	h.cbCtx, h.cbCancel = context.WithCancel(context.Background())
	return h
}

// Close ends every live hosted call's relay and waits for them.
func (h *Hosted) Close() {
	h.cancel()
	h.mu.Lock()
	h.closed = true
	calls := make([]*hostedCall, 0, len(h.byID))
	for _, c := range h.byID {
		calls = append(calls, c)
	}
	h.mu.Unlock()
	for _, c := range calls {
		c.finish(finishInfo{cause: "SIPBRIDGE_STOPPED", reason: "sipbridge stopped"})
	}
	h.wg.Wait()
	waitBounded(&h.cbWG, 5*time.Second) // the last status callbacks
	h.cbCancel()
	h.cbWG.Wait()
}

// Drain refuses new hosted calls (inbound ones are rejected as busy,
// outbound ones are refused by call control) and waits until the live ones
// have ended or ctx is done (SIGTERM).
func (h *Hosted) Drain(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for h.Active() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (h *Hosted) isDraining() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.draining
}

// Active returns the number of live hosted calls.
func (h *Hosted) Active() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byID)
}

// StreamURL is the media websocket URL for providers: PUBLIC_BASE_URL with
// wss:// for https:// (ws:// for http://) and /streams after its path, like
// the webhooks (wss://bridge.example.com/streams).
func (h *Hosted) StreamURL() string {
	b := h.opts.PublicBaseURL
	switch {
	case strings.HasPrefix(b, "https://"):
		b = "wss://" + strings.TrimPrefix(b, "https://")
	case strings.HasPrefix(b, "http://"):
		b = "ws://" + strings.TrimPrefix(b, "http://")
	}
	if u, err := url.Parse(b); err == nil {
		u.RawQuery, u.Fragment = "", ""
		b = u.String()
	}
	return strings.TrimRight(b, "/") + "/streams"
}

// streamURLWithToken is the stream URL carrying the call id and token in
// its query (Telnyx and Vonage allow a query; Twilio does not).
func (h *Hosted) streamURLWithToken(c *hostedCall) string {
	return h.StreamURL() + "?" + url.Values{"call_id": {c.id}, "token": {c.token}}.Encode()
}

// client builds the provider client for a call of the organization
// answered by assistant a (nil: none yet, as a refused call): the
// credentials the creds package's rule picks for voice.
func (h *Hosted) client(ctx context.Context, orgID int64, a *db.Assistant, name string) (provider.Provider, error) {
	org, err := h.store.GetOrg(ctx, orgID)
	if err != nil {
		return nil, err
	}
	c, _, err := h.creds.For(org, a, name, creds.Voice)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProviderCall, err)
	}
	p, err := clients.New(name, c, h.opts.ProviderConfig)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProviderCall, err)
	}
	return p, nil
}

// webhookKey is the key verifying the named provider's webhook about a
// call of org answered by a (either may be nil): creds.Resolver.WebhookKey.
func (h *Hosted) webhookKey(org *db.Organization, a *db.Assistant, name string) (string, error) {
	key, _, err := h.creds.WebhookKey(org, a, name)
	return key, err
}

// hostedCall is one live provider-hosted call.
type hostedCall struct {
	h         *Hosted
	id        string // calls.id
	provider  string
	orgID     int64
	token     string
	outbound  bool
	assistant *db.Assistant
	info      assistant.StartInfo
	log       *slog.Logger
	done      chan struct{} // closed when the call is over
	detach    chan struct{} // closed when the call left the assistant (transfer)
	detached  sync.Once

	mu          sync.Mutex
	sid         string // provider call id
	answeredAt  time.Time
	attached    bool // a media stream serves the call
	transferred bool
	ended       bool
	failed      bool // no assistant ever took the call: the record ends failed
	endReason   string
	timer       *time.Timer
	// status posts an outbound call's progress to its status_callback
	// (nil: none); cbRec is what the posts say of the call.
	status *statusNotifier
	cbRec  db.Call
}

// newCall registers a live call (record not yet stored).
func (h *Hosted) newCall(prov string, orgID int64, a *db.Assistant, outbound bool) *hostedCall {
	id := db.NewID()
	c := &hostedCall{h: h, id: id, provider: prov, orgID: orgID, token: newToken(), outbound: outbound, assistant: a,
		log:  h.log.With("call_id", id, "org_id", orgID, "provider", prov),
		done: make(chan struct{}), detach: make(chan struct{})}
	h.mu.Lock()
	h.byID[id] = c
	h.mu.Unlock()
	return c
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

func (c *hostedCall) isAttached() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attached
}

// awaitingSID reports whether an outbound Twilio call is still waiting for
// the provider's call id (its /twiml may come before CreateCall returned).
func (h *Hosted) awaitingSID(prov string) bool {
	h.mu.Lock()
	calls := make([]*hostedCall, 0, len(h.byID))
	for _, c := range h.byID {
		if c.outbound && c.provider == prov {
			calls = append(calls, c)
		}
	}
	h.mu.Unlock()
	for _, c := range calls {
		if c.providerSID() == "" {
			return true
		}
	}
	return false
}

func (c *hostedCall) providerSID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

func (h *Hosted) callBySID(prov, sid string) *hostedCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bySID[prov+"|"+sid]
}

func (h *Hosted) callByID(id string) *hostedCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byID[id]
}

// armTimer (re)arms the call's watchdog: when it fires before a stream
// attached (or after the stream ended), the call is closed with reason;
// with hangup the provider is asked to end it first and the call counts as
// failed (no stream ever served it).
func (c *hostedCall) armTimer(d time.Duration, cause, reason string, hangup bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
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
func (c *hostedCall) event(typ string, detail db.JSONMap) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.h.store.AddCallEvent(ctx, c.orgID, c.id, typ, detail); err != nil {
		c.log.Warn("call event not stored", "type", typ, "err", err)
	}
}

func (c *hostedCall) update(cols map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.h.store.UpdateCall(ctx, c.orgID, c.id, cols); err != nil {
		c.log.Warn("call record not updated", "err", err)
	}
}

// answered marks the call answered (once).
func (c *hostedCall) answered() {
	c.mu.Lock()
	if !c.answeredAt.IsZero() || c.ended {
		c.mu.Unlock()
		return
	}
	now := c.h.opts.Now().UTC()
	c.answeredAt = now
	c.mu.Unlock()
	c.update(map[string]any{"status": db.CallInProgress, "answered_at": now})
	c.event("answered", nil)
	c.notifyStatus(StatusAnswered, "", "", 0)
}

// notifyStatus posts one status event of an outbound call with a
// status_callback.
func (c *hostedCall) notifyStatus(event, cause, reason string, dur int) {
	if c.status == nil {
		return
	}
	c.mu.Lock()
	st := callStatusOf(event, &c.cbRec, c.h.opts.Now())
	c.mu.Unlock()
	st.Cause, st.Reason, st.DurationSeconds = cause, reason, dur
	c.status.notify(st)
}

type finishInfo struct {
	cause  string // provider's hangup cause, or ours
	reason string
	failed bool // the call failed even if answered
}

// finish closes the record once and ends the relay.
func (c *hostedCall) finish(f finishInfo) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.endReason == "" {
		c.endReason = f.reason
	}
	reason, answeredAt, sid := c.endReason, c.answeredAt, c.sid
	f.failed = f.failed || c.failed
	c.mu.Unlock()
	close(c.done)
	c.h.mu.Lock()
	delete(c.h.byID, c.id)
	if sid != "" {
		delete(c.h.bySID, c.provider+"|"+sid)
	}
	c.h.mu.Unlock()

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
	c.event("hangup", db.JSONMap{"cause": cause, "reason": reason})
	event := StatusFailed
	if cols["status"] == db.CallCompleted {
		event = StatusCompleted
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
	tt, err := parseTransferTarget(to)
	if err == nil {
		err = c.checkDestination(ctx, tt)
	}
	if err == nil {
		err = checkTransferHost(ctx, addressPolicy(c.h.opts.AddressPolicy), tt.hostPort)
	}
	if err != nil {
		c.event("transfer_failed", db.JSONMap{"to": to, "error": err.Error()})
		return err
	}
	sid := c.providerSID()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := c.h.client(ctx, c.orgID, c.assistant, c.provider)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.transferred = true
	c.mu.Unlock()
	if err := p.Transfer(ctx, sid, strings.TrimSpace(to)); err != nil {
		c.mu.Lock()
		c.transferred = false
		c.mu.Unlock()
		c.log.Warn("provider transfer failed", "to", to, "err", err)
		c.event("transfer_failed", db.JSONMap{"to": to, "error": err.Error()})
		return fmt.Errorf("%w: %w", ErrProviderCall, err)
	}
	c.setReason("transferred to " + to)
	c.event("transferred", db.JSONMap{"to": to})
	// The assistant's part is over; the relay closes its stream.
	c.detached.Do(func() { close(c.detach) })
	return nil
}

// checkDestination applies the organization's destination rules
// (CheckDestination) to the number a transfer reaches, as on the SIP path.
func (c *hostedCall) checkDestination(ctx context.Context, t transferTarget) error {
	number := t.e164
	if t.sipURI != "" {
		number = e164User(t.sipURI)
	}
	if number == "" {
		return nil
	}
	org, err := c.h.store.GetOrg(ctx, c.orgID)
	if err != nil {
		return err
	}
	return CheckDestination(org, number)
}

// fault handles the assistant being unreachable or gone: the assistant's
// fallback number when it has one (provider transfer), else a hangup.
// neverConnected marks a call no assistant ever took: hung up, its record
// ends failed (as a SIP call refused for the same reason).
func (c *hostedCall) fault(reason string, neverConnected bool) {
	c.setReason(reason)
	if a := c.assistant; a != nil && a.FallbackTransferNumber != "" {
		c.log.Warn("assistant fault: transferring to the fallback number", "reason", reason, "to", a.FallbackTransferNumber)
		c.event("fallback_transfer", db.JSONMap{"reason": reason, "to": a.FallbackTransferNumber})
		if c.providerTransfer(context.Background(), a.FallbackTransferNumber) == nil {
			return
		}
	}
	c.log.Warn("assistant fault: hanging up", "reason", reason)
	if neverConnected {
		c.mu.Lock()
		c.failed = true
		c.mu.Unlock()
	}
	_ = c.providerHangup(context.Background())
}

// liveOf returns a live call of the organization.
func (h *Hosted) liveOf(orgID int64, callID string) *hostedCall {
	c := h.callByID(callID)
	if c == nil || c.orgID != orgID {
		return nil
	}
	return c
}

// Hangup ends a live hosted call of the organization at its provider (API).
func (h *Hosted) Hangup(ctx context.Context, orgID int64, callID string) error {
	c := h.liveOf(orgID, callID)
	if c == nil {
		return ErrCallNotFound
	}
	c.event("hangup_requested", db.JSONMap{"by": "api"})
	c.setReason("hung up through the API")
	return c.providerHangup(ctx)
}

// Transfer moves a live hosted call of the organization to a sip: URI or an
// E.164 number through its provider (Twilio: the live call's TwiML becomes
// a <Dial>; Telnyx: the transfer action; Vonage: a transfer to a connect
// NCCO) (API).
func (h *Hosted) Transfer(ctx context.Context, orgID int64, callID, to string) error {
	c := h.liveOf(orgID, callID)
	if c == nil {
		return ErrCallNotFound
	}
	if _, err := parseTransferTarget(to); err != nil {
		return err
	}
	c.event("transfer_requested", db.JSONMap{"to": to, "by": "api"})
	return c.providerTransfer(ctx, to)
}

// startInfo fills what `start` tells the assistant.
func (c *hostedCall) startInfo(from, to, welcome string, extra map[string]string) {
	dir := db.DirectionInbound
	if c.outbound {
		dir = db.DirectionOutbound
	}
	c.info = assistant.StartInfo{CallID: c.id, From: from, To: to, AssistantID: c.assistant.ID, Direction: dir,
		WelcomeMessage: firstNonEmpty(welcome, c.assistant.WelcomeMessage), Extra: map[string]string{}}
	for k, v := range extra {
		c.info.Extra[k] = v
	}
	c.info.Extra["provider"] = c.provider
}

// hostedRoute is the decision for an inbound hosted call: the same rules
// as the SIP path (an active number of the organization, its assistant,
// the caller-country allow-list), with the same refusals.
type hostedRoute struct {
	org       *db.Organization // nil: nobody's number
	number    *db.PhoneNumber
	assistant *db.Assistant // nil: refused
	refused   *Refusal
	detail    string
}

// routeInbound decides an inbound hosted call to `to` from `from`.
func (h *Hosted) routeInbound(ctx context.Context, prov, to, from string) hostedRoute {
	rt := h.routeNumber(ctx, prov, to, from)
	if rt.assistant != nil && h.isDraining() {
		return hostedRoute{org: rt.org, number: rt.number, refused: &refuseDraining, detail: "sipbridge is draining"}
	}
	return rt
}

// refuseDraining is the refusal of a new call while shutting down (the SIP
// path answers 503 too).
var refuseDraining = Refusal{503, causeUnavailable, "sipbridge is shutting down"}

// routeNumber finds the number's assistant. The number must be hosted at the
// provider whose webhook asked (prov): another provider's number, or one on
// a SIP trunk, answers like an unknown one, so a webhook of one provider can
// never reach the assistant of a number it does not carry.
func (h *Hosted) routeNumber(ctx context.Context, prov, to, from string) hostedRoute {
	orgID, ok, err := h.store.NumberOwner(ctx, to)
	if err != nil || !ok {
		return hostedRoute{refused: &RefuseUnknownNumber, detail: to}
	}
	org, err := h.store.GetOrg(ctx, orgID)
	if err != nil {
		return hostedRoute{refused: &RefuseUnknownNumber, detail: to}
	}
	rt := hostedRoute{org: org}
	active := true
	recs, _, err := h.store.ListNumbers(ctx, orgID, db.NumberFilter{Exact: to, Active: &active}, db.Page{Limit: 1})
	if err != nil || len(recs) == 0 {
		rt.refused, rt.detail = &RefuseUnknownNumber, to+" (inactive)"
		return rt
	}
	n := &recs[0]
	if n.Provider != prov {
		rt.refused, rt.detail = &RefuseUnknownNumber, to+" (a "+n.Provider+" number, not "+prov+")"
		return rt
	}
	rt.number = n
	if n.AssistantID == nil {
		rt.refused, rt.detail = &RefuseNoAssistant, to
		return rt
	}
	if len(n.AllowedCountryCodes) > 0 {
		cc := callerCountry(from, org.DefaultCountry)
		if !slices.Contains(n.AllowedCountryCodes, cc) {
			rt.refused, rt.detail = &RefuseCountryBlocked, fmt.Sprintf("caller country %q not in %v", cc, []string(n.AllowedCountryCodes))
			return rt
		}
	}
	a, err := h.store.GetAssistant(ctx, orgID, *n.AssistantID)
	if err != nil {
		rt.refused, rt.detail = &RefuseNoAssistant, to+" (assistant not found)"
		return rt
	}
	rt.assistant = a
	return rt
}

// recordRefused keeps the record of a refused call of a known organization
// (status refused, the SIP status the SIP path would answer, the reason),
// as the SIP path does.
func (h *Hosted) recordRefused(ctx context.Context, prov, sid string, rt hostedRoute, from, to string) {
	h.log.Info("inbound hosted call refused", "provider", prov, "did", to, "from", from, "reason", rt.refused.Reason, "detail", rt.detail)
	if rt.org == nil {
		return
	}
	now := h.opts.Now().UTC()
	rec := &db.Call{OrgID: rt.org.ID, CallSID: sid, Provider: prov, Direction: db.DirectionInbound, FromNumber: from, ToNumber: to,
		ResolvedDID: to, DIDSource: prov, Status: db.CallRefused, SIPStatus: rt.refused.SIPStatus, HangupCause: rt.refused.Cause,
		Reason: rt.refused.Reason + ": " + rt.detail, StartedAt: now, EndedAt: &now}
	if rt.number != nil {
		rec.PhoneNumberID = &rt.number.ID
	}
	if err := h.store.CreateCall(ctx, rec); err != nil {
		h.log.Warn("refused call record not stored", "err", err)
		return
	}
	_ = h.store.AddCallEvent(ctx, rt.org.ID, rec.ID, "refused", db.JSONMap{"sip_status": rt.refused.SIPStatus,
		"cause": rt.refused.Cause, "reason": rt.refused.Reason, "detail": rt.detail})
}

// createInbound stores the record of an accepted inbound hosted call and
// registers it.
func (h *Hosted) createInbound(ctx context.Context, prov, sid string, rt hostedRoute, from, to string, status string) (*hostedCall, error) {
	org, n, a := rt.org, rt.number, rt.assistant
	c := h.newCall(prov, org.ID, a, false)
	rec := &db.Call{ID: c.id, OrgID: org.ID, CallSID: sid, AssistantID: &a.ID, PhoneNumberID: &n.ID, Provider: prov,
		Direction: db.DirectionInbound, FromNumber: from, ToNumber: to, ResolvedDID: to, DIDSource: prov,
		Status: status, StartedAt: h.opts.Now().UTC()}
	if status == db.CallInProgress {
		now := rec.StartedAt
		rec.AnsweredAt = &now
		c.answeredAt = now
	}
	if err := h.store.CreateCall(ctx, rec); err != nil {
		h.mu.Lock()
		delete(h.byID, c.id)
		h.mu.Unlock()
		return nil, err
	}
	c.setSID(sid)
	c.startInfo(from, to, "", map[string]string{"provider_call_id": sid})
	c.event("routed", db.JSONMap{"provider": prov, "did": to, "assistant_id": a.ID, "provider_call_id": sid})
	if status == db.CallInProgress {
		c.event("answered", nil)
	}
	c.log.Info("inbound hosted call accepted", "did", to, "from", from, "assistant_id", a.ID)
	c.armTimer(h.opts.StreamTimeout, "STREAM_TIMEOUT", "the provider's media stream did not connect", true)
	return c, nil
}

// Initiate places an outbound call from a number hosted at Twilio (Calls
// API, Url={PUBLIC_BASE_URL}/twiml, StatusCallback=…/twiml/status), Telnyx (Call Control dial with the
// bidirectional stream) or Vonage (Voice API with an NCCO connecting the
// websocket). The record is created first; the provider's call id is
// stored once it answers. Provider failures wrap ErrProviderCall.
func (h *Hosted) Initiate(ctx context.Context, org *db.Organization, number *db.PhoneNumber, a *db.Assistant, req InitiateRequest) (*InitiateResult, error) {
	if h.opts.PublicBaseURL == "" {
		return nil, ErrNoPublicURL
	}
	prov := number.Provider
	switch prov {
	case provider.NameTwilio, provider.NameTelnyx, provider.NameVonage:
	default:
		return nil, fmt.Errorf("%w: %s", ErrNotSIPNumber, prov)
	}
	p, err := h.client(ctx, org.ID, a, prov)
	if err != nil {
		return nil, err
	}
	c := h.newCall(prov, org.ID, a, true)
	rec := &db.Call{ID: c.id, OrgID: org.ID, AssistantID: &a.ID, PhoneNumberID: &number.ID, Provider: prov,
		Direction: db.DirectionOutbound, FromNumber: req.From, ToNumber: req.To, ResolvedDID: req.From,
		Status: db.CallRinging, StartedAt: h.opts.Now().UTC()}
	if err := h.store.CreateCall(ctx, rec); err != nil {
		h.mu.Lock()
		delete(h.byID, c.id)
		h.mu.Unlock()
		return nil, err
	}
	extra := map[string]string{}
	for k, v := range req.Variables {
		extra[k] = v
	}
	if req.Agenda != "" {
		extra["agenda"] = req.Agenda
	}
	c.startInfo(req.From, req.To, req.WelcomeMessage, extra)
	c.event("dialing", db.JSONMap{"to": req.To, "provider": prov})
	if req.StatusCallback != "" {
		secret, err := h.store.SMSWebhookSecret(ctx, a.ID)
		if err != nil {
			c.finish(finishInfo{cause: "NO_WEBHOOK_SECRET", reason: ErrNoCallbackSecret.Error(), failed: true})
			return nil, ErrNoCallbackSecret
		}
		c.cbRec = *rec
		c.status = newStatusNotifier(h.cbCtx, &h.cbWG, h.opts.StatusCallbacks, h.opts.AddressPolicy, req.StatusCallback, secret, c.id, c.log)
		c.status.failed = func(event, err string) {
			c.event("status_callback_failed", db.JSONMap{"event": event, "error": err})
		}
	}

	base := h.opts.PublicBaseURL
	var sid string
	// Once asked, the provider may place the call whatever the client does:
	// the request's cancellation must not lose its id.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	switch prov {
	case provider.NameTwilio:
		sid, err = p.CreateCall(ctx, provider.Call{From: req.From, To: req.To, URL: base + "/twiml", StatusCallback: base + "/twiml/status"})
	case provider.NameTelnyx:
		tx, ok := p.(*telnyx.Client)
		if !ok {
			err = errors.New("not a Telnyx client")
			break
		}
		sid, err = tx.Dial(ctx, telnyx.Dial{From: req.From, To: req.To, WebhookURL: base + "/telnyx-webhook",
			ClientState: telnyxClientState(c.id), Stream: telnyxStream(h.streamURLWithToken(c))})
	case provider.NameVonage:
		sid, err = p.CreateCall(ctx, provider.Call{From: req.From, To: req.To, StreamURL: h.streamURLWithToken(c),
			StreamParams: map[string]string{"call_id": c.id}, StatusCallback: base + "/vonage-webhook/event"})
	}
	if err != nil {
		c.log.Warn("outbound hosted call failed at the provider", "err", err)
		c.event("dial_failed", db.JSONMap{"error": err.Error()})
		c.finish(finishInfo{cause: "PROVIDER_ERROR", reason: "provider refused the call: " + err.Error(), failed: true})
		return nil, fmt.Errorf("%w: %w", ErrProviderCall, err)
	}
	c.setSID(sid)
	c.update(map[string]any{"call_sid": sid})
	c.mu.Lock()
	c.info.Extra["provider_call_id"] = sid
	c.mu.Unlock()
	c.event("provider_accepted", db.JSONMap{"provider_call_id": sid})
	c.mu.Lock()
	c.cbRec.CallSID = sid
	c.mu.Unlock()
	c.notifyStatus(StatusRinging, "", "", 0)
	c.armTimer(h.opts.RingTimeout+h.opts.StreamTimeout, "NO_ANSWER", "not answered in time", true)
	c.log.Info("outbound hosted call placed", "to", req.To, "from", req.From)
	return &InitiateResult{CallID: c.id, CallSID: sid, Ringing: true}, nil
}

// Package hosted is the hosted-provider voice path: calls on numbers hosted
// at Twilio, Telnyx or Vonage, carried by the provider's call API and media
// stream, behind the same call.Path as the FreeSWITCH path.
package hosted

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/creds"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/clients"
	"github.com/sipbridge/sipbridge/route"
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

// Options configures the hosted-provider voice path: what both paths are
// given (call.Options: the assistant's connect timeout, the address
// policy, status callbacks, the registry of live calls, log, clock) and
// what is this path's own.
type Options struct {
	call.Options
	// PublicBaseURL is how providers reach sipbridge (PUBLIC_BASE_URL): the
	// webhooks are <base>/twiml, /telnyx-webhook, /vonage-webhook and the
	// media websocket is ws(s)://<host>/streams.
	PublicBaseURL string
	// ProviderConfig points the provider clients (base URLs, timeouts).
	ProviderConfig provider.Config
	// Env is the environment level of credentials (after the organization's).
	Env provider.Credentials
	// StreamTimeout is how long the provider may take to open the media
	// websocket once the call is answered (default 15 s).
	StreamTimeout time.Duration
	// RingTimeout is how long an outbound call may ring (default 60 s).
	RingTimeout time.Duration
	// HangupGrace is how long a Telnyx or Vonage record stays open after
	// its stream ended, waiting for the hangup webhook (default 30 s).
	HangupGrace time.Duration
	// VonageReplays remembers the Vonage JWTs already used; app hands the
	// same cache to the SMS webhooks (nil: one of the path's own).
	VonageReplays *provider.ReplayCache
	// Replica is this sipbridge replica's name (REPLICA_NAME; "": no
	// replicas), written in its calls' records: the live call is in this
	// process's memory, and closed by another replica once this one's
	// presence expired.
	Replica string
	// Router decides inbound calls: number → assistant → policy, the
	// rules of the SIP path (nil: a router on the store).
	Router *route.Router
}

// Path bridges calls on numbers hosted at Twilio, Telnyx or Vonage to the
// organization's assistants: it answers the providers' voice webhooks,
// accepts their media websockets (/streams) and relays the audio over the
// same Twilio Media Streams protocol as the SIP path, keeping the same call
// records. It also places outbound calls from such numbers (Initiate).
//
// Each live call is a hostedCall; its stream goroutine (the websocket
// handler's) owns the relay. Webhooks and the API reach a call through its
// control channel. Close ends every call.
type Path struct {
	store *db.Store
	creds *creds.Resolver
	opts  Options
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	// live counts the live calls (a drain waits for them, refuses new
	// ones) and knows each call's organization (opts.Registry).
	live *call.Registry

	mu      sync.Mutex
	byID    map[string]*hostedCall
	bySID   map[string]*hostedCall // provider + "|" + provider call id
	closed  bool                   // Close was called: no new relay starts
	wg      sync.WaitGroup
	replays *provider.ReplayCache // Vonage JWTs already used (opts.VonageReplays)
	// Status callbacks: their own context and count (they outlive calls).
	cbCtx    context.Context
	cbCancel context.CancelFunc
	cbWG     sync.WaitGroup
}

var _ call.Path = (*Path)(nil)

// New returns the hosted-provider voice path.
func New(store *db.Store, opts Options) *Path {
	opts.PublicBaseURL = strings.TrimRight(opts.PublicBaseURL, "/")
	opts.Options = opts.Options.WithDefaults()
	if opts.StreamTimeout <= 0 {
		opts.StreamTimeout = 15 * time.Second
	}
	if opts.RingTimeout <= 0 {
		opts.RingTimeout = 60 * time.Second
	}
	if opts.HangupGrace <= 0 {
		opts.HangupGrace = 30 * time.Second
	}
	if opts.VonageReplays == nil {
		opts.VonageReplays = &provider.ReplayCache{}
	}
	if opts.Router == nil {
		opts.Router = route.NewRouter(store, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Path{live: opts.Registry, store: store, creds: creds.New(store, opts.Env), opts: opts, log: opts.Log,
		ctx: ctx, cancel: cancel, byID: map[string]*hostedCall{}, bySID: map[string]*hostedCall{}, replays: opts.VonageReplays}
	h.cbCtx, h.cbCancel = context.WithCancel(context.Background())
	return h
}

// Close ends every live hosted call's relay and waits for them.
func (h *Path) Close() {
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
	call.WaitBounded(&h.cbWG, 5*time.Second) // the last status callbacks
	h.cbCancel()
	h.cbWG.Wait()
}

// Drain refuses new hosted calls (inbound ones are rejected as busy,
// outbound ones are refused by call control) and waits until the live ones
// have ended or ctx is done (SIGTERM): its call.Registry's drain.
func (h *Path) Drain(ctx context.Context) error { return h.live.Drain(ctx) }

// Active returns the number of live hosted calls.
func (h *Path) Active() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byID)
}

// StreamURL is the media websocket URL for providers: PUBLIC_BASE_URL with
// wss:// for https:// (ws:// for http://) and /streams after its path, like
// the webhooks (wss://bridge.example.com/streams).
func (h *Path) StreamURL() string {
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
func (h *Path) streamURLWithToken(c *hostedCall) string {
	return h.StreamURL() + "?" + url.Values{"call_id": {c.id}, "token": {c.token}}.Encode()
}

// client builds the provider client for a call of the organization
// answered by assistant a (nil: none yet, as a refused call): the
// credentials the creds package's rule picks for voice.
func (h *Path) client(ctx context.Context, orgID int64, a *db.Assistant, name string) (provider.Provider, error) {
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
func (h *Path) webhookKey(org *db.Organization, a *db.Assistant, name string) (string, error) {
	key, _, err := h.creds.WebhookKey(org, a, name)
	return key, err
}

// awaitingSID reports whether an outbound Twilio call is still waiting for
// the provider's call id (its /twiml may come before CreateCall returned).
func (h *Path) awaitingSID(prov string) bool {
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

func (h *Path) callBySID(prov, sid string) *hostedCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bySID[prov+"|"+sid]
}

func (h *Path) callByID(id string) *hostedCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byID[id]
}

// forget drops a registered call whose record could not be stored.
func (h *Path) forget(c *hostedCall) {
	h.mu.Lock()
	delete(h.byID, c.id)
	h.mu.Unlock()
	h.live.Remove(c.id)
	c.counted()
}

// liveOf returns a live call of the organization.
func (h *Path) liveOf(orgID int64, callID string) *hostedCall {
	c := h.callByID(callID)
	if c == nil || c.orgID != orgID {
		return nil
	}
	return c
}

// Hangup ends a live hosted call of the organization at its provider (API).
func (h *Path) Hangup(ctx context.Context, orgID int64, callID string) error {
	c := h.liveOf(orgID, callID)
	if c == nil {
		return call.ErrCallNotFound
	}
	c.event(call.EventHangupRequested, db.JSONMap{"by": "api"})
	c.setReason("hung up through the API")
	return c.providerHangup(ctx)
}

// Transfer moves a live hosted call of the organization to a sip: URI or an
// E.164 number through its provider (Twilio: the live call's TwiML becomes
// a <Dial>; Telnyx: the transfer action; Vonage: a transfer to a connect
// NCCO) (API). The provider decides how the call leaves: mode is not
// used, except that warm is refused (call.ErrWarmUnsupported).
func (h *Path) Transfer(ctx context.Context, orgID int64, callID, to string, mode call.TransferMode) error {
	c := h.liveOf(orgID, callID)
	if c == nil {
		return call.ErrCallNotFound
	}
	if mode == call.TransferWarm {
		return call.ErrWarmUnsupported
	}
	c.event(call.EventTransferRequested, db.JSONMap{"to": to, "by": "api"})
	return c.providerTransfer(ctx, to)
}

// Package sms owns messaging: sending through a durable queue paced per
// provider, receiving inbound messages and delivery reports (including the
// verification of the providers' webhook signatures), consent keywords, and
// forwarding received messages to the assistants' sms_webhook_url. web
// binds its routes; provider credentials come from creds.
package sms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sipbridge/sipbridge/creds"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/clients"
	"github.com/sipbridge/sipbridge/ratelimit"
)

var (
	// ErrNoAssistantForNumber: the sender is not an active number of the
	// organization with an assistant.
	ErrNoAssistantForNumber = errors.New("no assistant found for phone number")
	// ErrOptedOut: the customer opted out of messages from this sender.
	ErrOptedOut = errors.New("the recipient has opted out of messages from this number")
	// ErrMediaLimit: the provider carries fewer media per message.
	ErrMediaLimit = errors.New("too many media URLs for this provider")
	// ErrWebhookUnverifiable: nothing can verify the webhook (unknown
	// number, or no key for it); a RejectedError wraps it.
	ErrWebhookUnverifiable = errors.New("webhook cannot be verified")
)

// NoAssistantError names the number (ErrNoAssistantForNumber).
type NoAssistantError struct{ Number string }

func (e *NoAssistantError) Error() string { return "No assistant found for phone number " + e.Number }

// Unwrap returns ErrNoAssistantForNumber.
func (e *NoAssistantError) Unwrap() error { return ErrNoAssistantForNumber }

// Options configures the SMS service. Zero fields take their defaults.
type Options struct {
	// PublicBaseURL is where providers send delivery reports
	// ({PublicBaseURL}/webhooks/sms/<provider>); empty sends no callback URL.
	PublicBaseURL  string
	ProviderConfig provider.Config
	// Env is the environment level of credential resolution.
	Env provider.Credentials
	Log *slog.Logger
	// Rates is the send rate per provider name in messages per second
	// (token bucket, burst = max(1, rate)). Missing: DefaultRate.
	Rates map[string]float64
	// Lease is how long a claimed message or forward stays with its worker
	// (default 2m); it must exceed the provider timeout.
	Lease time.Duration
	// Poll is the queue polling interval (default 1s).
	Poll time.Duration
	// Batch is how many rows a worker claims at once (default 20).
	Batch int
	// Workers is how many queue workers Run starts (default 4); they share
	// the per-provider rate limits.
	Workers int
	// MaxAttempts bounds the sends of one message on 429/5xx (default 8).
	MaxAttempts int
	// RetryBase and RetryMax bound the exponential backoff of sends
	// (default 2s, 10m) and of forwards (same values).
	RetryBase, RetryMax time.Duration
	// ForwardTimeout bounds one POST to an assistant (default 10s).
	ForwardTimeout time.Duration
	// ForwardMaxAge: a forward still failing after this long is given up
	// (default 72h).
	ForwardMaxAge time.Duration
	// HTTPClient posts forwards (default: AddressPolicy's client, without
	// redirects). A client given here replaces the policy's: tests only.
	HTTPClient *http.Client
	// AddressPolicy decides which addresses an assistant's sms_webhook_url
	// may reach, checked at every connection (nil: netpolicy.Default(), no
	// loopback, link-local or metadata address).
	AddressPolicy *netpolicy.Policy
	// VonageReplays remembers the Vonage JWTs already used; app hands the
	// same cache to the voice webhooks (nil: one of the service's own).
	VonageReplays *provider.ReplayCache
}

// DefaultRate is the default per-provider send rate (messages/second).
const DefaultRate = 10

// DestinationCheck applies the organization's destination rules of calls
// (costly number types, outbound countries) to a message to `to`.
type DestinationCheck func(org *db.Organization, to string) error

// Service sends messages through the durable queue, receives them from
// provider webhooks and forwards them to assistants.
type Service struct {
	store  *smsdb.Store
	dest   DestinationCheck
	creds  *creds.Resolver
	opts   Options
	limits *ratelimit.Limits
	wakeQ  chan struct{}            // the workers of every provider (RunQueue)
	wakeP  map[string]chan struct{} // the workers of one provider (Run)
	wakeF  chan struct{}
}

// New returns the SMS service; dest is the destination rule of calls, which
// messages obey too.
func New(store *db.Store, dest DestinationCheck, opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.PublicBaseURL = strings.TrimRight(opts.PublicBaseURL, "/")
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Lease, 2*time.Minute)
	// A lease must outlast the send it covers (one POST, never retried),
	// or another worker takes the message back mid-send and sends it too.
	if t := opts.ProviderConfig.Timeout; t > 0 && opts.Lease < 2*t+30*time.Second {
		opts.Lease = 2*t + 30*time.Second
	}
	def(&opts.Poll, time.Second)
	def(&opts.RetryBase, 2*time.Second)
	def(&opts.RetryMax, 10*time.Minute)
	def(&opts.ForwardTimeout, 10*time.Second)
	def(&opts.ForwardMaxAge, 72*time.Hour)
	if opts.Batch <= 0 {
		opts.Batch = 20
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.HTTPClient == nil {
		policy := netpolicy.Default()
		if opts.AddressPolicy != nil {
			policy = *opts.AddressPolicy
		}
		opts.HTTPClient = policy.HTTPClient(0)
		opts.HTTPClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	if opts.VonageReplays == nil {
		opts.VonageReplays = &provider.ReplayCache{}
	}
	return &Service{store: smsdb.New(store), dest: dest, creds: creds.New(store, opts.Env), opts: opts, limits: ratelimit.NewLimits(opts.Rates, DefaultRate, store.Now),
		wakeQ: make(chan struct{}, 1), wakeF: make(chan struct{}, 1), wakeP: wakeProviders()}
}

func wakeProviders() map[string]chan struct{} {
	m := map[string]chan struct{}{}
	for _, p := range sendProviders {
		m[p] = make(chan struct{}, 1)
	}
	return m
}

// PublicBaseURL is the base the provider webhooks are reached at.
func (s *Service) PublicBaseURL() string { return s.opts.PublicBaseURL }

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// SendInput is one send request, validated for shape by the caller.
type SendInput struct {
	From, To, Body string
	MediaURLs      []string
	// Queue false sends before answering (still recorded in the queue
	// first, so nothing is lost).
	Queue          bool
	IdempotencyKey string
}

// providerName maps a number's provider to the provider package's name.
func providerName(numberProvider string) string {
	switch numberProvider {
	case db.ProviderTwilio:
		return provider.NameTwilio
	case db.ProviderTelnyx:
		return provider.NameTelnyx
	case db.ProviderVonage:
		return provider.NameVonage
	}
	return numberProvider
}

// senderNumber returns the organization's active number with an assistant.
func (s *Service) senderNumber(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, string, error) {
	nums, _, err := s.store.ListNumbers(ctx, orgID, db.NumberFilter{Exact: e164}, db.Page{Limit: 1})
	if err != nil {
		return nil, "", err
	}
	if len(nums) == 0 || !nums[0].IsActive {
		return nil, "", &NoAssistantError{Number: e164}
	}
	n := &nums[0]
	switch {
	case n.AssistantID != nil:
		return n, *n.AssistantID, nil
	case n.OutboundAssistantID != nil:
		return n, *n.OutboundAssistantID, nil
	}
	return nil, "", &NoAssistantError{Number: e164}
}

// sendCreds resolves the credentials sending through providerName for a
// number of the organization answered by the assistant assistantID ("" or
// gone: none): creds.Resolver.For with creds.Messaging (assistant, then
// organization, then environment, the first complete).
func (s *Service) sendCreds(ctx context.Context, orgID int64, assistantID, name string) (provider.Credentials, error) {
	org, err := s.store.GetOrg(ctx, orgID)
	if err != nil {
		return provider.Credentials{}, err
	}
	a, err := s.assistantOf(ctx, orgID, assistantID)
	if err != nil {
		return provider.Credentials{}, err
	}
	c, _, err := s.creds.For(org, a, name, creds.Messaging)
	return c, err
}

// assistantOf loads the organization's assistant id; nil for "" or an
// assistant deleted since.
func (s *Service) assistantOf(ctx context.Context, orgID int64, id string) (*db.Assistant, error) {
	if id == "" {
		return nil, nil
	}
	a, err := s.store.GetAssistant(ctx, orgID, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	return a, err
}

func requestHash(in SendInput) string {
	b, _ := json.Marshal([]any{in.From, in.To, in.Body, in.MediaURLs})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Send records a message in the queue and, unless in.Queue, sends it at
// once. With an idempotency key already used by the organization, the first
// message is returned as it is now (replayed=true) and nothing is sent.
func (s *Service) Send(ctx context.Context, orgID int64, in SendInput) (m *db.SMSMessage, replayed bool, err error) {
	log := s.opts.Log.With("org_id", orgID)
	if in.IdempotencyKey != "" {
		if old, err := s.store.SMSByIdempotencyKey(ctx, orgID, in.IdempotencyKey); err == nil {
			if old.RequestHash != requestHash(in) {
				log.Info("idempotency key reused with a different request: answering with the first message", "sms_id", old.ID)
			}
			return old, true, nil
		} else if !errors.Is(err, db.ErrNotFound) {
			return nil, false, err
		}
	}
	num, assistantID, err := s.senderNumber(ctx, orgID, in.From)
	if err != nil {
		return nil, false, err
	}
	if num.Provider == db.ProviderBYOSIP {
		return nil, false, fmt.Errorf("%w: %s cannot send messages", numbers.ErrVoiceOnly, in.From)
	}
	org, err := s.store.GetOrg(ctx, orgID)
	if err != nil {
		return nil, false, err
	}
	// The destination rules of calls (outbound_countries,
	// allow_number_types): a message to a premium-rate or satellite number
	// is billed like a call to it.
	if err := s.dest(org, in.To); err != nil {
		return nil, false, err
	}
	name := providerName(num.Provider)
	if name == provider.NameVonage && len(in.MediaURLs) > 1 {
		return nil, false, fmt.Errorf("%w: Vonage carries one image per MMS, got %d", ErrMediaLimit, len(in.MediaURLs))
	}
	if out, err := s.store.OptedOut(ctx, orgID, in.From, in.To); err != nil {
		return nil, false, err
	} else if out {
		return nil, false, ErrOptedOut
	}
	if _, err := s.sendCreds(ctx, orgID, assistantID, name); err != nil {
		return nil, false, err
	}
	segs, enc := provider.CountSegments(in.Body)
	now := s.store.Now()
	rec := &db.SMSMessage{
		ID: db.NewID(), OrgID: orgID, Direction: db.SMSOutbound, AssistantID: &assistantID,
		FromNumber: in.From, ToNumber: in.To, Body: in.Body, MediaURLs: db.StringList(in.MediaURLs),
		Provider: name, Status: db.SMSQueued, Segments: segs, Encoding: enc, NextAttemptAt: &now, RequestHash: requestHash(in),
	}
	if in.IdempotencyKey != "" {
		rec.IdempotencyKey = &in.IdempotencyKey
	}
	owner := "request-" + uuid.NewString()
	if !in.Queue {
		// Sent by this request: stored already leased to it, so no worker
		// can claim it between the insert and the send.
		until := now.Add(s.opts.Lease)
		rec.Status, rec.LeaseOwner, rec.LeaseUntil = db.SMSSending, owner, &until
	}
	got, created, err := s.store.EnqueueSMS(ctx, rec)
	if err != nil {
		return nil, false, err
	}
	if !created {
		return got, true, nil
	}
	log.Info("sms queued", "sms_id", got.ID, "provider", name, "segments", segs, "queue", in.Queue)
	if in.Queue {
		wake(s.wakeQ)
		if c := s.wakeP[name]; c != nil {
			wake(c)
		}
		return got, false, nil
	}
	s.attempt(ctx, got, owner)
	now2, err := s.store.GetSMS(context.WithoutCancel(ctx), orgID, got.ID)
	return now2, false, err
}

// Cancel cancels a queued message.
func (s *Service) Cancel(ctx context.Context, orgID int64, id string) (*db.SMSMessage, error) {
	return s.store.CancelSMS(ctx, orgID, id)
}

// transient reports whether a send error is worth another attempt: the
// provider throttled us or failed (5xx, timeout, unreachable).
func transient(err error) bool {
	return errors.Is(err, provider.ErrRateLimited) || errors.Is(err, provider.ErrProviderDown) ||
		errors.Is(err, context.DeadlineExceeded)
}

// attempt sends one claimed message and records the outcome, ending the
// lease in the same statement. The send and the write do not stop with ctx
// (a stopping worker finishes the message it holds); waiting for the rate
// limit does, and then the message goes back to the queue unattempted.
func (s *Service) attempt(ctx context.Context, m *db.SMSMessage, owner string) {
	log := s.opts.Log.With("org_id", m.OrgID, "sms_id", m.ID, "provider", m.Provider)
	bg := context.WithoutCancel(ctx)
	if err := s.limits.Wait(ctx, m.Provider); err != nil {
		if _, err := s.store.ReleaseSMS(bg, m.ID, owner); err != nil {
			log.Error("sms release failed", "err", err)
		}
		return
	}
	// The wait may have been long: take the lease again for the send, and
	// send nothing if another worker took the message meanwhile.
	if ok, err := s.store.RenewSMSLease(bg, m.ID, owner, s.opts.Lease); err != nil || !ok {
		if err != nil {
			log.Error("sms lease renewal failed", "err", err)
		} else {
			log.Warn("sms lease lost before sending: left to its new worker")
		}
		return
	}
	// Consent is checked again at send time: a customer who texted STOP
	// while the message waited (queued, backing off) is not texted.
	if out, err := s.store.OptedOut(bg, m.OrgID, m.FromNumber, m.ToNumber); err == nil && out {
		if _, err := s.store.FailSMS(bg, m.ID, owner, ErrOptedOut.Error()); err != nil {
			log.Error("sms outcome not recorded", "outcome", "opted_out", "err", err)
		}
		log.Info("sms not sent: the recipient opted out while it waited")
		return
	}
	record := func(ok bool, err error, what string) {
		if err != nil {
			log.Error("sms outcome not recorded", "outcome", what, "err", err)
		} else if !ok {
			log.Warn("sms lease lost before the outcome was recorded", "outcome", what)
		}
	}
	sendWith, err := s.sendCreds(bg, m.OrgID, deref(m.AssistantID), m.Provider)
	var sent provider.SentMessage
	// Our side failed (database, keys): nothing reached the provider, so it
	// is worth another try; missing credentials are not.
	local := err != nil && !errors.Is(err, provider.ErrInvalidCredentials)
	if err == nil {
		var client provider.Provider
		client, err = clients.New(m.Provider, sendWith, s.opts.ProviderConfig)
		local = err != nil && !errors.Is(err, provider.ErrInvalidCredentials)
		if err == nil {
			msg := provider.Message{From: m.FromNumber, To: m.ToNumber, Body: m.Body, MediaURLs: m.MediaURLs}
			if s.opts.PublicBaseURL != "" {
				msg.StatusCallback = s.opts.PublicBaseURL + "/webhooks/sms/" + m.Provider
			}
			sent, err = client.SendMessage(bg, msg)
		}
	}
	switch {
	case err == nil:
		// The provider took it: the write must not be lost, or the lease
		// runs out and the message goes again. Retry it while the lease lasts.
		ok, err := s.store.MarkSMSSent(bg, m.ID, owner, sent.ProviderMessageID)
		for wait := 100 * time.Millisecond; err != nil && wait < s.opts.Lease/2; wait *= 2 {
			time.Sleep(wait)
			ok, err = s.store.MarkSMSSent(bg, m.ID, owner, sent.ProviderMessageID)
		}
		record(ok, err, "sent")
		log.Info("sms sent", "provider_message_id", sent.ProviderMessageID)
	case (transient(err) || local) && m.Attempts+1 < s.opts.MaxAttempts:
		next := s.store.Now().Add(ratelimit.Backoff(s.opts.RetryBase, s.opts.RetryMax, m.Attempts+1))
		ok, err2 := s.store.RetrySMS(bg, m.ID, owner, next, err.Error())
		record(ok, err2, "retry")
		log.Warn("sms send failed, will retry", "attempt", m.Attempts+1, "next_attempt_at", next, "err", err)
	default:
		msg := err.Error()
		if transient(err) {
			msg = fmt.Sprintf("gave up after %d attempts: %s", m.Attempts+1, msg)
		}
		ok, err2 := s.store.FailSMS(bg, m.ID, owner, msg)
		record(ok, err2, "failed")
		log.Warn("sms failed", "err", err)
	}
}

// sendProviders are the providers messages are sent through (Send refuses
// the others); each has queue workers of its own.
var sendProviders = []string{provider.NameTwilio, provider.NameTelnyx, provider.NameVonage}

// Run runs the queue workers and the forwarding worker until ctx ends, and
// returns once each has recorded what it was sending.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	// As many forwarding workers as queue workers: one assistant endpoint
	// that hangs must not hold up every other organization's forwards.
	// Queue workers per provider: one that answers slowly holds up only
	// its own messages, not a batch's messages to the others.
	wg.Add(s.opts.Workers * (1 + len(sendProviders)))
	for i := 0; i < s.opts.Workers; i++ {
		go func() { defer wg.Done(); s.RunForwards(ctx) }()
		for _, p := range sendProviders {
			go func() { defer wg.Done(); s.runQueue(ctx, p) }()
		}
	}
	wg.Wait()
}

// RunQueue sends due messages, of every provider, until ctx ends. On stop,
// the message being sent is finished and recorded; the rest of the claimed
// batch goes back to the queue at once.
func (s *Service) RunQueue(ctx context.Context) { s.runQueue(ctx, "") }

// runQueue is RunQueue for the messages of one provider ("" = any).
func (s *Service) runQueue(ctx context.Context, prov string) {
	kind, wakeC := "queue", s.wakeQ
	if prov != "" {
		kind, wakeC = "queue-"+prov, s.wakeP[prov]
	}
	runLeased(ctx, s, kind, wakeC,
		func(ctx context.Context, owner string) ([]db.SMSMessage, error) {
			return s.store.ClaimSMSOf(ctx, prov, owner, s.opts.Lease, s.opts.Batch)
		},
		func(ctx context.Context, m *db.SMSMessage, owner string) { s.attempt(ctx, m, owner) },
		func(ctx context.Context, m *db.SMSMessage, owner string) error {
			_, err := s.store.ReleaseSMS(ctx, m.ID, owner)
			return err
		})
}

// runLeased is the loop of a worker over leased rows (queued messages,
// forwards): claim a batch, handle each row, and on stop put the rows not
// yet handled back at once (the one being handled is finished). It polls
// every Poll, or sooner when woken.
func runLeased[T any](ctx context.Context, s *Service, kind string, wakeC <-chan struct{},
	claim func(context.Context, string) ([]T, error),
	handle func(context.Context, *T, string),
	release func(context.Context, *T, string) error) {
	owner := kind + "-" + uuid.NewString()
	bg := context.WithoutCancel(ctx)
	failing := false // one line per outage of the database, not one per poll
	for ctx.Err() == nil {
		batch, err := claim(ctx, owner)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			s.opts.Log.Error("sms "+kind+" claim failed", "err", err)
			failing = true
		case err != nil && ctx.Err() == nil:
			s.opts.Log.Debug("sms "+kind+" claim failed again", "err", err)
		case err == nil && failing:
			s.opts.Log.Info("sms " + kind + " claims again")
			failing = false
		}
		for i := range batch {
			if ctx.Err() != nil {
				for j := range batch[i:] {
					if err := release(bg, &batch[i+j], owner); err != nil {
						s.opts.Log.Error("sms "+kind+" release failed", "err", err)
					}
				}
				return
			}
			handle(ctx, &batch[i], owner)
		}
		if len(batch) == s.opts.Batch {
			continue
		}
		t := time.NewTimer(s.opts.Poll)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-wakeC:
		}
		t.Stop()
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

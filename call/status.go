package call

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"strconv"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/hooksign"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/ratelimit"
)

// Status callback events: what an outbound call's status_callback receives.
const (
	StatusRinging   = "ringing"   // the first INVITE left (or the provider accepted the call)
	StatusAnswered  = "answered"  // a trunk (or the provider) answered
	StatusCompleted = "completed" // an answered call ended
	StatusFailed    = "failed"    // the call ended without being answered; cause says why
)

// Status callback headers (signature and attempt: hooksign's, as for SMS
// forwards).
const (
	CallIDHeader      = "X-Sipbridge-Call-Id"
	StatusEventHeader = "X-Sipbridge-Event"
)

// StatusCallbackOptions shape the delivery of status callbacks.
type StatusCallbackOptions struct {
	// Client posts them (nil: the address policy's client, no redirects,
	// 10 s per attempt).
	Client *http.Client
	// Attempts is how many times one event is tried (default 5).
	Attempts int
	// RetryBase is the first retry's delay, doubled each time up to 30 s
	// (default 2 s).
	RetryBase time.Duration
}

// StatusEvent is the JSON body of a status callback.
type StatusEvent struct {
	Event           string `json:"event"`
	Status          string `json:"status"` // the record's status after the event
	CallID          string `json:"call_id"`
	CallSID         string `json:"call_sid,omitempty"`
	Direction       string `json:"direction"`
	From            string `json:"from"`
	To              string `json:"to"`
	Provider        string `json:"provider,omitempty"`
	SIPTrunkID      string `json:"sip_trunk_id,omitempty"`
	Cause           string `json:"cause,omitempty"`
	Reason          string `json:"reason,omitempty"`
	DurationSeconds int    `json:"duration_seconds,omitempty"`
	Timestamp       string `json:"timestamp"`
}

// Notifier posts one call's status events to its status_callback, in
// order, each retried on its own goroutine: the call never waits for it.
type Notifier struct {
	url, secret, callID string
	opts                StatusCallbackOptions
	log                 *slog.Logger
	ctx                 context.Context
	wg                  *sync.WaitGroup
	// failed is told about an event given up on (the call's timeline).
	onFailed func(event, err string)

	mu      sync.Mutex
	queue   []StatusEvent
	running bool
	sent    map[string]bool // each event is posted once per call
}

// OnFailed sets what is told about an event given up on (the call's
// timeline); a nil notifier ignores it.
func (n *Notifier) OnFailed(f func(event, err string)) {
	if n != nil {
		n.onFailed = f
	}
}

// NewNotifier returns nil when there is no URL.
func NewNotifier(ctx context.Context, wg *sync.WaitGroup, opts StatusCallbackOptions, policy *netpolicy.Policy, url, secret, callID string, log *slog.Logger) *Notifier {
	if url == "" {
		return nil
	}
	if opts.Client == nil {
		opts.Client = AddressPolicy(policy).HTTPClient(10 * time.Second)
		opts.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 2 * time.Second
	}
	return &Notifier{url: url, secret: secret, callID: callID, opts: opts, ctx: ctx, wg: wg,
		log: log.With("status_callback", true), sent: map[string]bool{}}
}

// notify queues an event; a nil notifier does nothing.
func (n *Notifier) Notify(st StatusEvent) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sent[st.Event] {
		return
	}
	n.sent[st.Event] = true
	n.queue = append(n.queue, st)
	if !n.running {
		n.running = true
		n.wg.Add(1)
		go n.run()
	}
}

func (n *Notifier) run() {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.running = false
			n.mu.Unlock()
			return
		}
		st := n.queue[0]
		n.queue = n.queue[1:]
		n.mu.Unlock()
		n.deliver(st)
	}
}

// deliver posts one event until it is taken (2xx), refused for good (a 4xx
// other than 408/429) or out of attempts.
func (n *Notifier) deliver(st StatusEvent) {
	body, _ := json.Marshal(st)
	var err error
	for attempt := 1; attempt <= n.opts.Attempts; attempt++ {
		var retry bool
		retry, err = n.post(body, st.Event, attempt)
		if err == nil {
			n.log.Debug("status callback delivered", "event", st.Event, "attempt", attempt)
			return
		}
		if !retry || attempt == n.opts.Attempts {
			break
		}
		select {
		case <-time.After(ratelimit.Backoff(n.opts.RetryBase, 30*time.Second, attempt)):
		case <-n.ctx.Done():
			attempt = n.opts.Attempts
		}
	}
	n.log.Warn("status callback given up", "event", st.Event, "err", err)
	if n.onFailed != nil {
		n.onFailed(st.Event, err.Error())
	}
}

func (n *Notifier) post(body []byte, event string, attempt int) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("bad status_callback: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sipbridge")
	req.Header.Set(hooksign.SignatureHeader, hooksign.Sign(n.secret, body))
	req.Header.Set(CallIDHeader, n.callID)
	req.Header.Set(StatusEventHeader, event)
	req.Header.Set(hooksign.AttemptHeader, strconv.Itoa(attempt))
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		var ue *neturl.Error // its message holds the URL, whose query may hold a token
		if errors.As(err, &ue) {
			err = ue.Err
		}
		n.log.Info("status callback not delivered", "event", event, "attempt", attempt, "cause", netpolicy.Detail(err))
		return true, errors.New("could not connect to the status_callback")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return true, fmt.Errorf("status_callback answered HTTP %d", c)
	default:
		return false, fmt.Errorf("status_callback answered HTTP %d", c)
	}
}

// StatusOf fills a status event from a call record.
func StatusOf(event string, rec *db.Call, now time.Time) StatusEvent {
	st := StatusEvent{Event: event, CallID: rec.ID, CallSID: rec.CallSID, Direction: rec.Direction, From: rec.FromNumber,
		To: rec.ToNumber, Provider: rec.Provider, Timestamp: now.UTC().Format(time.RFC3339Nano)}
	if rec.TrunkID != nil {
		st.SIPTrunkID = *rec.TrunkID
	}
	switch event {
	case StatusRinging:
		st.Status = db.CallRinging
	case StatusAnswered:
		st.Status = db.CallInProgress
	case StatusCompleted:
		st.Status = db.CallCompleted
	default:
		st.Status = db.CallFailed
	}
	return st
}

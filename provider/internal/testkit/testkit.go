// Package testkit holds what the tests of the provider clients share: a
// fake clock, a recorder of the requests a fake provider saw, the spec rows
// of the contract tests and the checks of errors and parsed webhooks.
package testkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider"
)

// FakeClock records the sleeps of the retry loop and returns at once.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func NewFakeClock() *FakeClock { return &FakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// TestConfig points every base URL at base and uses a fake clock.
func TestConfig(base string, clock provider.Clock) provider.Config {
	return provider.Config{
		TwilioBaseURL:     base,
		TelnyxBaseURL:     base,
		VonageAPIBaseURL:  base,
		VonageRESTBaseURL: base,
		Timeout:           2 * time.Second,
		Retry:             provider.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 2 * time.Second},
		Clock:             clock,
	}
}

// Recorded is one request seen by a fake provider.
type Recorded struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values // form body (x-www-form-urlencoded)
	Body   []byte
	Header http.Header
}

// Recorder keeps the requests of a fake provider.
type Recorder struct {
	mu   sync.Mutex
	reqs []Recorded
}

// Record reads the request (its body included) and stores it.
func (r *Recorder) Record(req *http.Request) Recorded {
	body, _ := io.ReadAll(req.Body)
	rec := Recorded{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Body: body, Header: req.Header.Clone()}
	if req.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		rec.Form, _ = url.ParseQuery(string(body))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return rec
}

// All returns every request seen, in order.
func (r *Recorder) All() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.reqs...)
}

// Count returns how many requests matched method and path.
func (r *Recorder) Count(method, path string) int {
	n := 0
	for _, q := range r.All() {
		if q.Method == method && q.Path == path {
			n++
		}
	}
	return n
}

// Last returns the last request with method and path.
func (r *Recorder) Last(t *testing.T, method, path string) Recorded {
	t.Helper()
	all := r.All()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Method == method && all[i].Path == path {
			return all[i]
		}
	}
	t.Fatalf("no %s %s request; saw %d requests", method, path, len(all))
	return Recorded{}
}

// WantKind fails unless err wraps kind.
func WantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want it to wrap %v", err, kind)
	}
}

func WriteJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// HTTPStatus is the tests' one-number summary of an error's kind (the
// API's status for each kind is web's error table):
// ErrNumberUnavailable 409, ErrInsufficientBalance 402,
// ErrInvalidCredentials 424, ErrRateLimited 429, ErrProviderDown 502,
// ErrNotFound 404, ErrNotSupported 501, ErrBadRequest 400,
// ErrInvalidSignature 403, a context deadline 504; nil is 200 and anything
// else 500.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, provider.ErrNumberUnavailable):
		return http.StatusConflict
	case errors.Is(err, provider.ErrInsufficientBalance):
		return http.StatusPaymentRequired
	case errors.Is(err, provider.ErrInvalidCredentials):
		return http.StatusFailedDependency
	case errors.Is(err, provider.ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, provider.ErrProviderDown):
		return http.StatusBadGateway
	case errors.Is(err, provider.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, provider.ErrNotSupported):
		return http.StatusNotImplemented
	case errors.Is(err, provider.ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, provider.ErrInvalidSignature):
		return http.StatusForbidden
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// Sentinels are the kinds a provider error may have.
var Sentinels = []error{provider.ErrNumberUnavailable, provider.ErrInsufficientBalance, provider.ErrInvalidCredentials, provider.ErrRateLimited,
	provider.ErrProviderDown, provider.ErrNotFound, provider.ErrNotSupported, provider.ErrBadRequest}

// CheckClassified fails unless e has one of the Sentinels, one the API does
// not answer with a 500.
func CheckClassified(t *testing.T, what string, e *provider.Error) {
	t.Helper()
	if e == nil {
		t.Fatalf("%s: nil error", what)
	}
	for _, s := range Sentinels {
		if e.Kind == s {
			if HTTPStatus(e) == 500 {
				t.Fatalf("%s: %v maps to 500", what, e)
			}
			_ = e.Error()
			return
		}
	}
	t.Fatalf("%s: kind %v is not a sentinel", what, e.Kind)
}

// CheckEvent fails unless a parsed SMS webhook is either an ErrBadRequest or
// a complete event in our vocabulary.
func CheckEvent(t *testing.T, ev provider.SMSEvent, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, provider.ErrBadRequest) {
			t.Fatalf("error outside ErrBadRequest: %v", err)
		}
		return
	}
	if ev.ProviderMessageID == "" || (ev.Kind != provider.SMSEventInbound && ev.Kind != provider.SMSEventStatus) || len(ev.MediaURLs) > provider.MaxMedia {
		t.Fatalf("accepted an incomplete event: %+v", ev)
	}
	if ev.Kind == provider.SMSEventInbound && (ev.From == "" || ev.To == "") {
		t.Fatalf("inbound without numbers: %+v", ev)
	}
	switch ev.Status {
	case "", provider.DeliverySent, provider.DeliveryDelivered, provider.DeliveryFailed:
	default:
		t.Fatalf("status outside the vocabulary: %q", ev.Status)
	}
}

// ErrorBodySeeds adds the seed corpus of the error-body fuzzers: one answer
// of each provider's documented shapes and a few broken ones.
func ErrorBodySeeds(f *testing.F) {
	f.Add(400, []byte(`{"code":21422,"message":"PhoneNumber is not available","more_info":"https://www.twilio.com/docs/errors/21422","status":400}`))
	f.Add(401, []byte(`{"errors":[{"code":"10009","title":"Authentication failed","detail":"x"}]}`))
	f.Add(420, []byte(`{"error-code":"420","error-code-label":"method failed"}`))
	f.Add(200, []byte(`{"message-count":"1","messages":[{"status":"9","error-text":"Quota Exceeded"}]}`))
	f.Add(403, []byte(`{"type":"https://example.com/Error#out-of-credit","title":"You do not have enough credit"}`))
	f.Add(502, []byte(`<html>Bad Gateway</html>`))
	f.Add(429, []byte(`{"code":"20429","status":"x"}`))
	f.Add(0, []byte(`{"errors":[null,{"code":1e400}]}`))
	f.Add(-1, []byte("\xff\xfe"))
}

// FuzzStatus brings a fuzzed status into 0..999 (500 otherwise).
func FuzzStatus(status int) int {
	if status < 0 || status > 999 {
		return 500
	}
	return status
}

// NopBody gives a request back the body Recorder.Record read.
func NopBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

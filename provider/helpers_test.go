package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeClock records the sleeps of the retry loop and returns at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// testConfig points every base URL at base and uses a fake clock.
func testConfig(base string, clock Clock) Config {
	return Config{
		TwilioBaseURL:     base,
		TelnyxBaseURL:     base,
		VonageAPIBaseURL:  base,
		VonageRESTBaseURL: base,
		Timeout:           2 * time.Second,
		Retry:             RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 2 * time.Second},
		Clock:             clock,
	}
}

// recorded is one request seen by a fake provider.
type recorded struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values // form body (x-www-form-urlencoded)
	Body   []byte
	Header http.Header
}

// recorder keeps the requests of a fake provider.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

// record reads the request (its body included) and stores it.
func (r *recorder) record(req *http.Request) recorded {
	body, _ := io.ReadAll(req.Body)
	rec := recorded{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Body: body, Header: req.Header.Clone()}
	if req.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		rec.Form, _ = url.ParseQuery(string(body))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return rec
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// count returns how many requests matched method and path.
func (r *recorder) count(method, path string) int {
	n := 0
	for _, q := range r.all() {
		if q.Method == method && q.Path == path {
			n++
		}
	}
	return n
}

// last returns the last request with method and path.
func (r *recorder) last(t *testing.T, method, path string) recorded {
	t.Helper()
	all := r.all()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Method == method && all[i].Path == path {
			return all[i]
		}
	}
	t.Fatalf("no %s %s request; saw %d requests", method, path, len(all))
	return recorded{}
}

// wantKind fails unless err wraps kind.
func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want it to wrap %v", err, kind)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

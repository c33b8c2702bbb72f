package wire

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

// FuzzRetryAfter checks the Retry-After parser: never negative, bounded.
func FuzzRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("-5")
	f.Add("9223372036854775807")
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := RetryAfter(v, time.Unix(1_700_000_000, 0))
		if ok && (d < 0 || d > 24*time.Hour) {
			t.Fatalf("RetryAfter(%q) = %v", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("RetryAfter(%q) = %v without ok", v, d)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tc := range cases {
		got, ok := RetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHTTPCoreRetryPolicy(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(503)
	}))
	defer srv.Close()
	cases := []struct {
		method string
		want   int32
	}{
		{http.MethodGet, 3}, {http.MethodPut, 3}, {http.MethodDelete, 3},
		{http.MethodPost, 1}, {http.MethodPatch, 1},
	}
	for _, tc := range cases {
		hits.Store(0)
		clock := testkit.NewFakeClock()
		c := NewCore("test", testkit.TestConfig(srv.URL, clock).WithDefaults())
		resp, err := c.Do(context.Background(), tc.method, srv.URL, nil, []byte("{}"))
		if err != nil || resp.Status != 503 {
			t.Fatalf("%s: %v, %v", tc.method, resp, err)
		}
		if hits.Load() != tc.want {
			t.Errorf("%s sent %d times, want %d", tc.method, hits.Load(), tc.want)
		}
	}
}

func TestHTTPCoreStopsWhenCallerGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	clock := &cancelClock{FakeClock: testkit.NewFakeClock(), cancel: cancel}
	c := NewCore("test", testkit.TestConfig(srv.URL, clock).WithDefaults())
	_, err := c.Do(ctx, http.MethodGet, srv.URL, nil, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, provider.ErrProviderDown) {
		t.Fatalf("err = %v, want the caller's cancellation", err)
	}
}

// cancelClock cancels the caller's context during the first backoff.
type cancelClock struct {
	*testkit.FakeClock
	cancel context.CancelFunc
}

func TestRedactURL(t *testing.T) {
	got := RedactURL("https://rest.nexmo.com/account/numbers?api_key=k&api_secret=s3cr3t")
	if got != "https://rest.nexmo.com/account/numbers" {
		t.Errorf("redactURL = %q", got)
	}
	if got := RedactURL("https://user:pass@host/p#frag"); strings.Contains(got, "pass") || strings.Contains(got, "frag") {
		t.Errorf("redactURL = %q", got)
	}
}

func (c *cancelClock) Sleep(ctx context.Context, d time.Duration) error {
	c.cancel()
	return c.FakeClock.Sleep(ctx, d)
}

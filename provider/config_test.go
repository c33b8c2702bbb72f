package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"empty keeps defaults", nil, Config{}, ""},
		{"all set", map[string]string{
			EnvTwilioBaseURL: "http://127.0.0.1:9001", EnvTelnyxBaseURL: "http://127.0.0.1:9002/v2",
			EnvVonageAPIBaseURL: "http://fake:9003", EnvVonageRESTBaseURL: "https://rest.fake", EnvTimeout: "7s"},
			Config{TwilioBaseURL: "http://127.0.0.1:9001", TelnyxBaseURL: "http://127.0.0.1:9002/v2",
				VonageAPIBaseURL: "http://fake:9003", VonageRESTBaseURL: "https://rest.fake", Timeout: 7 * time.Second}, ""},
		{"relative URL", map[string]string{EnvTelnyxBaseURL: "/v2"}, Config{}, EnvTelnyxBaseURL},
		{"query in URL", map[string]string{EnvTwilioBaseURL: "http://x?a=1"}, Config{}, EnvTwilioBaseURL},
		{"ftp URL", map[string]string{EnvVonageRESTBaseURL: "ftp://x"}, Config{}, EnvVonageRESTBaseURL},
		{"bad timeout", map[string]string{EnvTimeout: "10"}, Config{}, EnvTimeout},
		{"negative timeout", map[string]string{EnvTimeout: "-1s"}, Config{}, EnvTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.TwilioBaseURL != tc.want.TwilioBaseURL || got.TelnyxBaseURL != tc.want.TelnyxBaseURL ||
				got.VonageAPIBaseURL != tc.want.VonageAPIBaseURL || got.VonageRESTBaseURL != tc.want.VonageRESTBaseURL || got.Timeout != tc.want.Timeout {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	d := Config{}.withDefaults()
	if d.TelnyxBaseURL != "https://api.telnyx.com/v2" || d.VonageAPIBaseURL != "https://api.nexmo.com" ||
		d.VonageRESTBaseURL != "https://rest.nexmo.com" || d.TwilioBaseURL != "https://api.twilio.com" || d.Retry.MaxAttempts != 3 {
		t.Errorf("defaults = %+v", d)
	}
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
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
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
		clock := newFakeClock()
		c := newHTTPCore("test", testConfig(srv.URL, clock).withDefaults())
		resp, err := c.do(context.Background(), tc.method, srv.URL, nil, []byte("{}"))
		if err != nil || resp.status != 503 {
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
	clock := &cancelClock{fakeClock: newFakeClock(), cancel: cancel}
	c := newHTTPCore("test", testConfig(srv.URL, clock).withDefaults())
	_, err := c.do(ctx, http.MethodGet, srv.URL, nil, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrProviderDown) {
		t.Fatalf("err = %v, want the caller's cancellation", err)
	}
}

// cancelClock cancels the caller's context during the first backoff.
type cancelClock struct {
	*fakeClock
	cancel context.CancelFunc
}

func (c *cancelClock) Sleep(ctx context.Context, d time.Duration) error {
	c.cancel()
	return c.fakeClock.Sleep(ctx, d)
}

func TestRedactURL(t *testing.T) {
	got := redactURL("https://rest.nexmo.com/account/numbers?api_key=k&api_secret=s3cr3t")
	if got != "https://rest.nexmo.com/account/numbers" {
		t.Errorf("redactURL = %q", got)
	}
	if got := redactURL("https://user:pass@host/p#frag"); strings.Contains(got, "pass") || strings.Contains(got, "frag") {
		t.Errorf("redactURL = %q", got)
	}
}

func TestNewRefusesIncompleteCredentials(t *testing.T) {
	cases := []struct {
		name  string
		creds Credentials
	}{
		{NameTwilio, Credentials{Twilio: &TwilioCreds{AccountSID: "AC1"}}},
		{NameTwilio, Credentials{}},
		{NameTelnyx, Credentials{Telnyx: &TelnyxCreds{ConnectionID: "c"}}},
		{NameVonage, Credentials{Vonage: &VonageCreds{APIKey: "k"}}},
	}
	for _, tc := range cases {
		p, err := New(tc.name, tc.creds, Config{})
		wantKind(t, err, ErrInvalidCredentials)
		if p != nil {
			t.Errorf("%s: provider %#v returned with an error", tc.name, p)
		}
	}
	_, err := New("acme", Credentials{}, Config{})
	wantKind(t, err, ErrNotSupported)
	for name, creds := range map[string]Credentials{
		NameTwilio: {Twilio: twilioOK}, NameTelnyx: {Telnyx: telnyxKey},
		NameVonage: {Vonage: vonageSMS}, NameSIP: {},
	} {
		p, err := New(name, creds, Config{})
		if err != nil || p.Name() != name {
			t.Errorf("New(%s) = %v, %v", name, p, err)
		}
	}
}

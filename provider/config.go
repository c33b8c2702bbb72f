package provider

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Default API base URLs.
const (
	DefaultTwilioBaseURL     = "https://api.twilio.com"
	DefaultTelnyxBaseURL     = "https://api.telnyx.com/v2"
	DefaultVonageAPIBaseURL  = "https://api.nexmo.com"
	DefaultVonageRESTBaseURL = "https://rest.nexmo.com"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvTwilioBaseURL     = "TWILIO_API_BASE_URL"
	EnvTelnyxBaseURL     = "TELNYX_API_BASE_URL"
	EnvVonageAPIBaseURL  = "VONAGE_API_BASE_URL"
	EnvVonageRESTBaseURL = "VONAGE_REST_BASE_URL"
	EnvTimeout           = "PROVIDER_HTTP_TIMEOUT"
)

// Config is the HTTP configuration shared by the provider clients. The zero
// value is usable: every empty field takes its default.
type Config struct {
	// TwilioBaseURL replaces the scheme, host (and path prefix) of every
	// request the twilio-go library makes to https://api.twilio.com.
	// Default DefaultTwilioBaseURL. Env TWILIO_API_BASE_URL.
	TwilioBaseURL string
	// TelnyxBaseURL is the Telnyx API v2 root. Default DefaultTelnyxBaseURL.
	// Env TELNYX_API_BASE_URL.
	TelnyxBaseURL string
	// VonageAPIBaseURL is the root of the Vonage Messages and Voice APIs.
	// Default DefaultVonageAPIBaseURL. Env VONAGE_API_BASE_URL.
	VonageAPIBaseURL string
	// VonageRESTBaseURL is the root of the Vonage Numbers and SMS APIs.
	// Default DefaultVonageRESTBaseURL. Env VONAGE_REST_BASE_URL.
	VonageRESTBaseURL string
	// Timeout bounds one HTTP attempt, body included. Default 15s.
	// Env PROVIDER_HTTP_TIMEOUT (a Go duration, "10s").
	Timeout time.Duration
	// Retry is the retry policy of idempotent requests.
	Retry RetryPolicy
	// HTTPClient supplies the transport (nil: a client on
	// http.DefaultTransport). Its Timeout is not used; Timeout above is.
	HTTPClient *http.Client
	// Logger receives debug lines about retries; nil discards. Secrets and
	// query strings are never logged.
	Logger *slog.Logger
	// Clock tells the time and sleeps between retries; nil is the system
	// clock.
	Clock Clock
}

// RetryPolicy bounds the retries of idempotent requests (GET, PUT, DELETE)
// after a network error, a 5xx or a 429. Other methods are sent once.
type RetryPolicy struct {
	// MaxAttempts counts the first try. Default 3; 1 disables retries.
	MaxAttempts int
	// BaseDelay is the first backoff, doubled on each retry. Default 200ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff. A Retry-After longer than MaxDelay stops
	// the retries (the error is returned at once). Default 2s.
	MaxDelay time.Duration
}

// Clock is the time source of the package.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ConfigFromEnv reads the base URLs and the timeout through getenv
// (os.Getenv in main). Unset variables keep their defaults; a malformed URL or
// duration is an error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	for _, v := range []struct {
		env string
		dst *string
	}{
		{EnvTwilioBaseURL, &c.TwilioBaseURL},
		{EnvTelnyxBaseURL, &c.TelnyxBaseURL},
		{EnvVonageAPIBaseURL, &c.VonageAPIBaseURL},
		{EnvVonageRESTBaseURL, &c.VonageRESTBaseURL},
	} {
		raw := strings.TrimSpace(getenv(v.env))
		if raw == "" {
			continue
		}
		if _, err := ParseBaseURL(raw); err != nil {
			return Config{}, fmt.Errorf("provider: %s: %w", v.env, err)
		}
		*v.dst = raw
	}
	if raw := strings.TrimSpace(getenv(EnvTimeout)); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("provider: %s=%q: want a positive duration like 10s", EnvTimeout, raw)
		}
		c.Timeout = d
	}
	return c, nil
}

func (c Config) WithDefaults() Config {
	if c.TwilioBaseURL == "" {
		c.TwilioBaseURL = DefaultTwilioBaseURL
	}
	if c.TelnyxBaseURL == "" {
		c.TelnyxBaseURL = DefaultTelnyxBaseURL
	}
	if c.VonageAPIBaseURL == "" {
		c.VonageAPIBaseURL = DefaultVonageAPIBaseURL
	}
	if c.VonageRESTBaseURL == "" {
		c.VonageRESTBaseURL = DefaultVonageRESTBaseURL
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.Retry.MaxAttempts <= 0 {
		c.Retry.MaxAttempts = 3
	}
	if c.Retry.BaseDelay <= 0 {
		c.Retry.BaseDelay = 200 * time.Millisecond
	}
	if c.Retry.MaxDelay <= 0 {
		c.Retry.MaxDelay = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c
}

// ParseBaseURL accepts an absolute http(s) URL without query or fragment.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid base URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid base URL %q: want http(s)://host[/path]", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("invalid base URL %q: no query, fragment or user info", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

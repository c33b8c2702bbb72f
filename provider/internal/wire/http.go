package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/provider"
)

// maxResponseBody caps what is read from a provider response.
const maxResponseBody = 4 << 20

// Core sends requests for one provider client: per-attempt timeout,
// retries of idempotent methods, bodies read completely.
type Core struct {
	provider string
	client   *http.Client
	timeout  time.Duration
	retry    provider.RetryPolicy
	clock    provider.Clock
	log      *slog.Logger
}

// Response is a provider answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// NewCore returns the core of one provider client; cfg has its defaults
// (Config.WithDefaults).
func NewCore(name string, cfg provider.Config) *Core {
	hc := &http.Client{
		// Never follow redirects: an API answering with one is a failure
		// we want to see, and a redirect would resend credentials.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.HTTPClient != nil {
		hc.Transport = cfg.HTTPClient.Transport
		hc.Jar = cfg.HTTPClient.Jar
	}
	return &Core{
		provider: name,
		client:   hc,
		timeout:  cfg.Timeout,
		retry:    cfg.Retry,
		clock:    cfg.Clock,
		log:      cfg.Logger.With("provider", name),
	}
}

// idempotent reports whether a method may be sent again after a failure.
// POST and PATCH never are: a purchase, a send or a call must not happen
// twice.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// retryableStatus reports whether an answer is worth another try.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// Do sends the request. Every HTTP answer is returned as a response (the
// caller classifies the status); an error means no usable answer arrived:
// the caller's context ended (its error is wrapped) or the provider could not
// be reached or timed out (ErrProviderDown).
func (c *Core) Do(ctx context.Context, method, rawURL string, header http.Header, body []byte) (*Response, error) {
	attempts := 1
	if idempotent(method) {
		attempts = max(c.retry.MaxAttempts, 1)
	}
	delay := c.retry.BaseDelay
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, method, rawURL, header, body)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", c.provider, method, RedactURL(rawURL), ctxErr)
		}
		retry := attempt < attempts && (err != nil || retryableStatus(resp.Status))
		if !retry {
			if err != nil {
				return nil, err
			}
			return resp, nil
		}
		wait := delay
		if err == nil {
			if ra, ok := RetryAfter(resp.Header.Get("Retry-After"), c.clock.Now()); ok {
				if ra > c.retry.MaxDelay {
					// The provider asks for longer than we are willing to
					// hold the caller: give its answer back now.
					return resp, nil
				}
				wait = ra
			}
		}
		wait = min(wait, c.retry.MaxDelay)
		status := 0
		if resp != nil {
			status = resp.Status
		}
		c.log.DebugContext(ctx, "provider request retry",
			"method", method, "path", urlPath(rawURL), "status", status,
			"attempt", attempt, "delay", wait)
		if serr := c.clock.Sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", c.provider, method, RedactURL(rawURL), serr)
		}
		delay = min(delay*2, c.retry.MaxDelay)
	}
}

// once is one attempt under its own timeout.
func (c *Core) once(ctx context.Context, method, rawURL string, header http.Header, body []byte) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, rawURL, rd)
	if err != nil {
		return nil, &provider.Error{Provider: c.provider, Kind: provider.ErrBadRequest, Message: "building request: " + redactErr(err)}
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, &provider.Error{Provider: c.provider, Kind: provider.ErrProviderDown, Message: redactErr(err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBody))
	if err != nil {
		return nil, &provider.Error{Provider: c.provider, Kind: provider.ErrProviderDown, Status: res.StatusCode,
			Message: "reading response: " + redactErr(err)}
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
}

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := min(max(t.Sub(now), 0), 24*time.Hour)
		return d, true
	}
	return 0, false
}

// redactErr renders a transport error without the URL's query string (the
// Vonage REST APIs carry credentials there).
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		msg := ue.Op + " " + RedactURL(ue.URL)
		if ue.Timeout() {
			return msg + ": timeout"
		}
		return msg + ": " + redactErr(ue.Err)
	}
	return err.Error()
}

// RedactURL drops the query and user info of a URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	u.RawQuery = ""
	u.User = nil
	u.Fragment = ""
	return u.String()
}

// urlPath is the path of a URL for logs.
func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}

// Snippet shortens a non-JSON body for an error message.
func Snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

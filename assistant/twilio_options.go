package assistant

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults of Dial.
const (
	// DefaultConnectTimeout bounds TCP connect, TLS and the websocket
	// upgrade together.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultWriteTimeout is the write deadline of every message. A write
	// that misses it breaks the stream (ErrAssistantGone): an assistant that
	// cannot take 20 ms of audio within this time is not keeping up.
	DefaultWriteTimeout = 2 * time.Second
	// DefaultReadLimit is the largest message accepted from the assistant
	// (1 MiB ≈ 95 s of base64 μ-law in one media message).
	DefaultReadLimit = 1 << 20
	// DefaultMessageBuffer is the capacity of the Messages channel.
	DefaultMessageBuffer = 64
	// DefaultSendBuffer bounds the kernel's send buffer of the connection
	// (SO_SNDBUF; Linux doubles it): about 4 s of caller audio. Left to the
	// kernel it grows to megabytes, minutes of audio queued for an
	// assistant that stopped reading before a write ever blocks.
	DefaultSendBuffer = 32 << 10
)

// DialOption configures Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	connectTimeout time.Duration
	writeTimeout   time.Duration
	readLimit      int64
	messageBuffer  int
	sendBuffer     int
	header         http.Header
	tlsConfig      *tls.Config
	netDial        func(ctx context.Context, network, addr string) (net.Conn, error)
	logger         *slog.Logger
	now            func() time.Time
}

func defaultDialConfig() dialConfig {
	return dialConfig{
		connectTimeout: DefaultConnectTimeout,
		writeTimeout:   DefaultWriteTimeout,
		readLimit:      DefaultReadLimit,
		messageBuffer:  DefaultMessageBuffer,
		sendBuffer:     DefaultSendBuffer,
		logger:         slog.New(slog.DiscardHandler),
		now:            time.Now,
	}
}

// WithConnectTimeout bounds the whole connection set-up (default
// DefaultConnectTimeout). The context given to Dial still applies.
func WithConnectTimeout(d time.Duration) DialOption {
	return func(c *dialConfig) {
		if d > 0 {
			c.connectTimeout = d
		}
	}
}

// WithWriteTimeout sets the per-message write deadline (default
// DefaultWriteTimeout).
func WithWriteTimeout(d time.Duration) DialOption {
	return func(c *dialConfig) {
		if d > 0 {
			c.writeTimeout = d
		}
	}
}

// WithSendBuffer sets the connection's send buffer in bytes (default
// DefaultSendBuffer; 0 leaves the kernel's).
func WithSendBuffer(n int) DialOption {
	return func(c *dialConfig) {
		if n >= 0 {
			c.sendBuffer = n
		}
	}
}

// WithReadLimit sets the largest message accepted from the assistant; a
// larger one ends the stream (ErrAssistantGone).
func WithReadLimit(n int64) DialOption {
	return func(c *dialConfig) {
		if n > 0 {
			c.readLimit = n
		}
	}
}

// WithMessageBuffer sets the capacity of the Messages channel.
func WithMessageBuffer(n int) DialOption {
	return func(c *dialConfig) {
		if n >= 0 {
			c.messageBuffer = n
		}
	}
}

// WithHeader adds HTTP headers to the upgrade request (for example an
// Authorization header the assistant requires). Header values are never
// logged.
func WithHeader(h http.Header) DialOption {
	return func(c *dialConfig) { c.header = h.Clone() }
}

// WithTLSConfig sets the TLS configuration for wss:// URLs.
func WithTLSConfig(cfg *tls.Config) DialOption {
	return func(c *dialConfig) { c.tlsConfig = cfg }
}

// WithNetDialContext sets how the TCP connection to the assistant is made
// (default: a plain net.Dialer). sipbridge passes its address policy's
// dialer (netpolicy.Policy.DialContext), which refuses loopback, link-local
// and metadata addresses after resolving the URL's host.
func WithNetDialContext(dial func(ctx context.Context, network, addr string) (net.Conn, error)) DialOption {
	return func(c *dialConfig) { c.netDial = dial }
}

// WithLogger sets the logger (default: discard), naming the call (call_id);
// the stream adds stream_sid.
func WithLogger(l *slog.Logger) DialOption {
	return func(c *dialConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClock sets the clock used for media timestamps (default time.Now).
func WithClock(now func() time.Time) DialOption {
	return func(c *dialConfig) {
		if now != nil {
			c.now = now
		}
	}
}

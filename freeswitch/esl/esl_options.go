package esl

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Option configures a [Client] (New) or a [Server] (NewServer). Options that
// do not apply to the receiver are ignored (a Server uses only WithLogger and
// WithWriteTimeout).
type Option func(*options)

type options struct {
	logger         *slog.Logger
	events         []string // event names (no CUSTOM)
	subclasses     []string // CUSTOM subclasses
	filters        []header
	backoffInitial time.Duration
	backoffMax     time.Duration
	hbInterval     time.Duration
	hbTimeout      time.Duration
	dialTimeout    time.Duration
	writeTimeout   time.Duration
	workers        int
	onConnect      func(ctx context.Context)
	quiet          bool
}

func defaultOptions() options {
	return options{
		logger:         slog.New(slog.DiscardHandler),
		backoffInitial: 500 * time.Millisecond,
		backoffMax:     30 * time.Second,
		hbInterval:     20 * time.Second,
		hbTimeout:      10 * time.Second,
		dialTimeout:    10 * time.Second,
		writeTimeout:   10 * time.Second,
		workers:        8,
	}
}

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithLogger sets the logger (default: discard). Keys used: addr, err,
// attempt, backoff_ms, call_uuid, event_name, shard, queue_len.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithEvents adds events to subscribe to (as text/event-json) on every
// (re)connect. Each argument may hold several space-separated names; names
// containing "::" are CUSTOM subclasses and the word CUSTOM itself is
// optional, so all of these work:
//
//	WithEvents("CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE")
//	WithEvents("CUSTOM sofia::gateway_state sofia::gateway_add")
//	WithEvents("ALL", "sofia::notify_refer")
//
// The command sent is "event json <names...> [CUSTOM <subclasses...>]"
// (FreeSWITCH reads every word after CUSTOM as a subclass, so subclasses go
// last). BACKGROUND_JOB is added unless ALL is present, because BGAPI needs it.
func WithEvents(names ...string) Option {
	return func(o *options) {
		for _, arg := range names {
			for _, n := range strings.Fields(arg) {
				switch {
				case n == "CUSTOM":
				case strings.Contains(n, "::"):
					o.subclasses = appendUnique(o.subclasses, n)
				default:
					o.events = appendUnique(o.events, n)
				}
			}
		}
	}
}

// WithFilter adds an ESL filter ("filter <name> <value>") sent after the
// subscription on every (re)connect. FreeSWITCH then delivers only matching
// events — BACKGROUND_JOB included — so the client also adds
// "filter Event-Name BACKGROUND_JOB" when any filter is set, or BGAPI would
// never see its result.
func WithFilter(name, value string) Option {
	return func(o *options) { o.filters = append(o.filters, header{name: name, value: value}) }
}

// WithQuietReconnect logs the client's connects, failed attempts and
// lost connections at debug level: its owner watches Connected and
// LastError and tells the operator once (a bridge has several connections
// to one switch, and each retries on its own back-off).
func WithQuietReconnect() Option {
	return func(o *options) { o.quiet = true }
}

// WithBackoff sets the reconnect delay: it starts at initial, doubles after
// each failed attempt and stays at max (defaults 500ms and 30s). After a
// successful connect it starts again at initial.
func WithBackoff(initial, max time.Duration) Option {
	return func(o *options) {
		if initial > 0 {
			o.backoffInitial = initial
		}
		if max > 0 {
			o.backoffMax = max
		}
		if o.backoffMax < o.backoffInitial {
			o.backoffMax = o.backoffInitial
		}
	}
}

// WithHeartbeat sets the liveness check: when no frame has arrived for
// interval, the client sends "api status"; no frame within timeout closes
// the connection and a reconnect follows (defaults 20s and 10s).
func WithHeartbeat(interval, timeout time.Duration) Option {
	return func(o *options) {
		if interval > 0 {
			o.hbInterval = interval
		}
		if timeout > 0 {
			o.hbTimeout = timeout
		}
	}
}

// WithDialTimeout bounds one connect attempt: TCP connect, auth, event
// subscription and filters (default 10s).
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.dialTimeout = d
		}
	}
}

// WithWriteTimeout bounds one write to the socket (default 10s). A write
// that times out closes the connection (the stream would be corrupt).
func WithWriteTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.writeTimeout = d
		}
	}
}

// WithWorkers sets the number of event handler goroutines (default 8).
// Events of one channel (same UUID) always go to the same worker, in order;
// events without a UUID all go to worker 0.
//
// Overflow policy: each worker has an unbounded queue. The connection
// reader never waits for a handler (so api replies are never stalled by a
// slow handler) and no event is ever dropped; a stuck handler costs memory
// instead, and a warning is logged each time its queue doubles past 1024.
func WithWorkers(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.workers = n
		}
	}
}

// WithOnConnect sets a hook run after each successful connect, auth,
// subscription and filters, in its own goroutine (Connected() is already
// true, so it can call API/BGAPI). Its ctx is cancelled when that connection
// drops or the client closes; the hook must then return (Close waits for
// it). Use it to resync state after a reconnect.
func WithOnConnect(f func(ctx context.Context)) Option {
	return func(o *options) { o.onConnect = f }
}

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// OutboundHandler handles one call that FreeSWITCH handed to the outbound
// socket (`socket <addr> async full` in the dialplan). ctx ends when the
// connection ends or the server is closed. When the handler returns, the
// server sends "exit" (if the connection is still up) and closes it.
type OutboundHandler func(ctx context.Context, c *OutboundConn)

// Server accepts outbound-socket connections from FreeSWITCH.
type Server struct {
	handler OutboundHandler
	o       options
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*OutboundConn]struct{}
	closing   bool
	wg        sync.WaitGroup // live handlers
}

// NewServer returns a server that runs h for every connection. Options:
// WithLogger, WithWriteTimeout, WithDialTimeout (bounds the "connect"
// handshake).
func NewServer(h OutboundHandler, opts ...Option) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		handler:   h,
		o:         buildOptions(opts),
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*OutboundConn]struct{}{},
	}
}

// ListenAndServe listens on addr ("127.0.0.1:8094") and serves.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until the server is shut down (then it
// returns ErrClosed) or Accept fails permanently. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.o.logger.Warn("esl: outbound accept failed, retrying", "err", err, "backoff_ms", delay.Milliseconds())
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			_ = nc.Close()
			return ErrClosed
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

// Shutdown stops accepting and waits until every live call's handler has
// returned (calls drain), or until ctx ends; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopListening()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		_ = s.Close()
		return ctx.Err()
	}
}

// Close stops accepting, closes every connection (handlers' ctx is
// cancelled) and waits for the handlers to return.
func (s *Server) Close() error {
	s.stopListening()
	s.cancel()
	s.mu.Lock()
	conns := make([]*OutboundConn, 0, len(s.conns))
	for oc := range s.conns {
		conns = append(conns, oc)
	}
	s.mu.Unlock()
	for _, oc := range conns {
		oc.c.closeWith(ErrClosed)
	}
	s.wg.Wait()
	return nil
}

func (s *Server) stopListening() {
	s.mu.Lock()
	s.closing = true
	lns := make([]net.Listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
}

func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	log := s.o.logger.With("addr", nc.RemoteAddr().String())
	oc := &OutboundConn{ready: make(chan struct{}, 1)}
	oc.c = newConn(nc, &s.o, oc.push)
	defer oc.c.close()

	hctx, cancel := context.WithTimeout(s.ctx, s.o.dialTimeout)
	r, err := oc.c.roundTrip(hctx, "connect", commandBytes("connect", nil, ""))
	cancel()
	if err != nil {
		log.Warn("esl: outbound connect failed", "err", err)
		return
	}
	oc.data = eventFromHeaders(r.hdrs)
	log = log.With("call_uuid", oc.UUID())

	s.mu.Lock()
	if s.ctx.Err() != nil { // Close ran before this call was registered
		s.mu.Unlock()
		return
	}
	s.conns[oc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, oc)
		s.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go func() {
		select {
		case <-oc.c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	func() {
		defer func() {
			if p := recover(); p != nil {
				log.Error("esl: outbound handler panicked", "panic", p)
			}
		}()
		s.handler(ctx, oc)
	}()
	if oc.c.closeErr() == nil {
		ectx, ecancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := oc.c.exit(ectx); err != nil && !errors.Is(err, ErrClosed) {
			log.Debug("esl: outbound exit failed", "err", err)
		}
		ecancel()
	}
}

// OutboundConn is one call's outbound-socket connection. Its methods are
// safe for concurrent use.
type OutboundConn struct {
	c    *conn
	data *Event

	mu    sync.Mutex
	queue []*Event
	ready chan struct{} // cap 1: "queue not empty"
}

// EventFormat selects how FreeSWITCH sends events: plain or JSON.
type EventFormat string

// Event formats for [OutboundConn.MyEvents].
const (
	EventsPlain EventFormat = "plain"
	EventsJSON  EventFormat = "json"
)

// Data returns the channel data FreeSWITCH sent in reply to "connect"
// (Event-Name CHANNEL_DATA, every channel variable, URL-decoded).
func (o *OutboundConn) Data() *Event { return o.data }

// UUID returns the channel's Unique-ID.
func (o *OutboundConn) UUID() string { return o.data.UUID() }

// MyEvents subscribes to the events of this channel ("myevents" or
// "myevents json").
func (o *OutboundConn) MyEvents(ctx context.Context, f EventFormat) error {
	line := "myevents"
	switch f {
	case EventsJSON:
		line += " json"
	case EventsPlain, "":
	default:
		return fmt.Errorf("%w: event format %q", ErrInvalid, f)
	}
	_, err := o.c.command(ctx, line)
	return err
}

// Linger asks FreeSWITCH to keep the socket open after the hangup so the
// last events arrive: d <= 0 sends "linger" (until we send exit), otherwise
// "linger <seconds>" (rounded up).
func (o *OutboundConn) Linger(ctx context.Context, d time.Duration) error {
	line := "linger"
	if d > 0 {
		line += " " + strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
	}
	_, err := o.c.command(ctx, line)
	return err
}

// SendMsg sends a call command to this channel ("sendmsg" without uuid).
func (o *OutboundConn) SendMsg(ctx context.Context, msg SendMsg) error {
	return o.c.sendMsg(ctx, "", msg)
}

// API runs "api <cmd>" on this connection (see [Client.API]).
func (o *OutboundConn) API(ctx context.Context, cmd string) (string, error) {
	return o.c.api(ctx, cmd)
}

// Command sends any other single-line command ("nolinger", "resume",
// "event json CHANNEL_HANGUP", ...) and returns the reply text. (No BGAPI
// here: with myevents FreeSWITCH forwards only this channel's events, so a
// BACKGROUND_JOB would never arrive; use the inbound Client for bgapi.)
func (o *OutboundConn) Command(ctx context.Context, line string) (string, error) {
	return o.c.command(ctx, line)
}

// Exit sends "exit": FreeSWITCH replies "+OK bye", sends the final
// disconnect notice and closes the socket.
func (o *OutboundConn) Exit(ctx context.Context) error { return o.c.exit(ctx) }

// NextEvent returns the next event of this connection in arrival order,
// waiting until one arrives. Events are queued without bound, so the
// connection never waits for the handler. After the connection has ended
// and the queue is drained it returns the reason (wrapping ErrClosed;
// ErrDisconnected after FreeSWITCH's final disconnect notice).
func (o *OutboundConn) NextEvent(ctx context.Context) (*Event, error) {
	for {
		o.mu.Lock()
		if len(o.queue) > 0 {
			ev := o.queue[0]
			o.queue[0] = nil
			o.queue = o.queue[1:]
			o.mu.Unlock()
			return ev, nil
		}
		o.mu.Unlock()
		select {
		case <-o.ready:
		case <-o.c.done:
			o.mu.Lock()
			empty := len(o.queue) == 0
			o.mu.Unlock()
			if empty {
				return nil, o.c.closeErr()
			}
		case <-ctx.Done():
			// The handler's ctx ends with the connection: report the
			// connection's end (and drain the queue) rather than the cancel.
			select {
			case <-o.c.done:
				o.mu.Lock()
				empty := len(o.queue) == 0
				o.mu.Unlock()
				if empty {
					return nil, o.c.closeErr()
				}
				continue
			default:
				return nil, ctx.Err()
			}
		}
	}
}

// Lingering is closed when FreeSWITCH sends the linger disconnect notice
// (Content-Disposition: linger): the channel has hung up, the socket stays
// open for the remaining events until Exit or the linger time ends.
func (o *OutboundConn) Lingering() <-chan struct{} { return o.c.linger }

// Done is closed when the connection has ended.
func (o *OutboundConn) Done() <-chan struct{} { return o.c.done }

// Close closes the connection without "exit".
func (o *OutboundConn) Close() error {
	o.c.close()
	return nil
}

// push is the connection's onEvent: queue without blocking.
func (o *OutboundConn) push(ev *Event) {
	o.mu.Lock()
	o.queue = append(o.queue, ev)
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

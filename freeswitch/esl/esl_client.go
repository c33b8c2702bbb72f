package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client is an inbound ESL connection to FreeSWITCH that reconnects by
// itself. Create it with [New], register handlers with [Client.OnEvent],
// then [Client.Start]. All methods are safe for concurrent use.
//
// While no connection is up, API, BGAPI and SendMsg fail at once with
// ErrNotConnected; calls pending when a connection drops fail with an error
// wrapping ErrClosed (ErrDisconnected if FreeSWITCH said goodbye).
type Client struct {
	addr     string
	password string
	o        options
	handlers atomic.Pointer[[]func(*Event)]

	mu      sync.Mutex
	cur     *conn
	changed chan struct{} // closed and replaced when cur changes
	lastErr error
	started bool
	closed  bool
	cancel  context.CancelFunc
	disp    *dispatcher
	wg      sync.WaitGroup
}

// New returns a Client for the ESL server at addr ("host:port") with the
// given password. Nothing happens until Start.
func New(addr, password string, opts ...Option) *Client {
	c := &Client{addr: addr, password: password, o: buildOptions(opts), changed: make(chan struct{})}
	c.handlers.Store(&[]func(*Event){})
	return c
}

// OnEvent adds an event handler. Handlers run on the client's worker
// goroutines (see [WithWorkers]): events of one channel in order, different
// channels concurrently. A handler may block and may call API/BGAPI: the
// connection keeps reading, and only later events on the same worker wait
// (see [WithWorkers] for the overflow policy). A panic in a handler is
// recovered and logged. Register handlers before Start to see every event.
func (c *Client) OnEvent(h func(*Event)) {
	if h == nil {
		return
	}
	for {
		old := c.handlers.Load()
		next := append(append(make([]func(*Event), 0, len(*old)+1), *old...), h)
		if c.handlers.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Start begins connecting in the background and returns at once. The
// client runs until ctx is cancelled or Close is called; call Close in any
// case to stop the event workers.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return errors.New("esl: client already started")
	}
	c.started = true
	c.disp = newDispatcher(c.o.workers, c.dispatch, c.o.logger)
	ctx, c.cancel = context.WithCancel(ctx)
	c.wg.Add(1)
	go c.run(ctx)
	return nil
}

// Close stops the client: "exit" is sent and the connection closed without
// waiting for the reply, pending calls fail with ErrClosed, the OnConnect hook's ctx is cancelled, events already queued are
// still handled, and Close returns when every goroutine has ended.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cancel, disp := c.cancel, c.disp
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
	if disp != nil {
		disp.close()
	}
	return nil
}

// Connected reports whether a connection is up (authenticated and
// subscribed).
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

// LastError returns why the client is not connected: the last connect
// attempt's error or the cause of the lost connection; nil while a
// connection is up or before the first attempt has ended.
func (c *Client) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		return nil
	}
	return c.lastErr
}

// WaitConnected blocks until a connection is up or ctx ends. On ctx's end
// the error also wraps the last connect error (so errors.Is(err, ErrAuth)
// tells a wrong password apart from an unreachable server).
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		cur, ch, last, closed := c.cur, c.changed, c.lastErr, c.closed
		c.mu.Unlock()
		if cur != nil {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last connect attempt: %w)", ctx.Err(), last)
			}
			return ctx.Err()
		}
	}
}

// API runs "api <cmd>" and returns the reply body exactly as sent (usually
// ending in "\n"). A reply starting with "-ERR" returns the text and a
// *CommandError; other failures that FreeSWITCH reports with "+OK" (e.g.
// reloadxml's "+OK [[error near line ...]]") are the caller's to interpret.
// api blocks the connection's command queue until FreeSWITCH answers: use
// BGAPI for slow commands (originate, uuid_deflect).
func (c *Client) API(ctx context.Context, cmd string) (string, error) {
	cn, err := c.conn()
	if err != nil {
		return "", err
	}
	return cn.api(ctx, cmd)
}

// BGAPI runs "bgapi <cmd>" with a fresh Job-UUID and waits for the matching
// BACKGROUND_JOB event; it returns that event's body (e.g. "+OK <uuid>\n").
// A body starting with "-ERR" (e.g. "-ERR USER_BUSY\n") returns the text and
// a *CommandError. Cancelling ctx stops the wait, not the job.
func (c *Client) BGAPI(ctx context.Context, cmd string) (string, error) {
	cn, err := c.conn()
	if err != nil {
		return "", err
	}
	return cn.bgapi(ctx, cmd)
}

// SendMsg sends a call command to the channel uuid ("sendmsg <uuid>").
func (c *Client) SendMsg(ctx context.Context, uuid string, msg SendMsg) error {
	if uuid == "" {
		return fmt.Errorf("%w: sendmsg needs a channel uuid", ErrInvalid)
	}
	cn, err := c.conn()
	if err != nil {
		return err
	}
	return cn.sendMsg(ctx, uuid, msg)
}

func (c *Client) conn() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.cur == nil {
		return nil, ErrNotConnected
	}
	return c.cur, nil
}

func (c *Client) dispatch(ev *Event) {
	for _, h := range *c.handlers.Load() {
		h(ev)
	}
}

// setConn publishes the current connection (nil: down).
func (c *Client) setConn(cn *conn, lastErr error) {
	c.mu.Lock()
	c.cur = cn
	if lastErr != nil {
		c.lastErr = lastErr
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *Client) run(ctx context.Context) {
	defer c.wg.Done()
	log := c.o.logger.With("addr", c.addr)
	level := slog.LevelWarn // connect failures and losses
	if c.o.quiet {
		level = slog.LevelDebug
	}
	backoff := c.o.backoffInitial
	for attempt := 1; ; attempt++ {
		cn, err := c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.setConn(nil, err)
			log.Log(ctx, level, "esl: connect failed", "err", err, "attempt", attempt, "backoff_ms", backoff.Milliseconds())
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = nextBackoff(backoff, c.o.backoffMax)
			continue
		}
		log.Log(ctx, min(level, slog.LevelInfo), "esl: connected", "attempt", attempt)
		attempt, backoff = 0, c.o.backoffInitial
		c.setConn(cn, nil)

		connCtx, cancel := context.WithCancel(ctx)
		if c.o.onConnect != nil {
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				c.o.onConnect(connCtx)
			}()
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.heartbeat(connCtx, cn)
		}()
		select {
		case <-cn.done:
		case <-ctx.Done():
			cn.closeWithExit() // say goodbye when we are the ones leaving
		}
		cancel()
		cn.close()
		cause := cn.closeErr()
		c.setConn(nil, cause)
		if ctx.Err() != nil {
			return
		}
		log.Log(ctx, level, "esl: connection lost", "err", cause)
		if !sleepCtx(ctx, backoff) {
			return
		}
	}
}

// connect dials, authenticates, subscribes and installs the filters.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.dialTimeout)
	defer cancel()
	cn, err := dialInbound(ctx, c.addr, c.password, &c.o, c.enqueue)
	if err != nil {
		return nil, err
	}
	for _, line := range c.setupCommands() {
		if _, err := cn.command(ctx, line); err != nil {
			cn.close()
			return nil, fmt.Errorf("esl: %s: %w", line, err)
		}
	}
	return cn, nil
}

// enqueue is the connections' onEvent; c.disp is set in Start before the
// run goroutine (and so any reader) exists.
func (c *Client) enqueue(ev *Event) { c.disp.enqueue(ev) }

// setupCommands returns the subscription and filter commands sent after
// each connect.
func (c *Client) setupCommands() []string {
	var cmds []string
	events := c.o.events
	subs := c.o.subclasses
	all := false
	for _, e := range events {
		all = all || e == "ALL"
	}
	if !all {
		events = appendUnique(append([]string(nil), events...), "BACKGROUND_JOB")
	}
	line := "event json " + strings.Join(events, " ")
	if len(subs) > 0 {
		line += " CUSTOM " + strings.Join(subs, " ")
	}
	cmds = append(cmds, line)
	for _, f := range c.o.filters {
		cmds = append(cmds, "filter "+f.name+" "+f.value)
	}
	if len(c.o.filters) > 0 {
		cmds = append(cmds, "filter Event-Name BACKGROUND_JOB")
	}
	return cmds
}

// heartbeat closes cn when it stays silent: after hbInterval without any
// frame it sends "api status"; if nothing at all arrives within hbTimeout
// the connection is considered dead.
func (c *Client) heartbeat(ctx context.Context, cn *conn) {
	t := time.NewTicker(c.o.hbInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(cn.lastReadTime()) < c.o.hbInterval {
			continue
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, c.o.hbTimeout)
		_, err := cn.api(pctx, "status")
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			continue // answered, shutting down, or the connection already failed
		}
		if cn.lastReadTime().After(start) {
			continue // other frames arrived: alive, just a long command queue
		}
		c.o.logger.Warn("esl: liveness check timed out, reconnecting", "addr", c.addr, "err", err)
		cn.closeWith(fmt.Errorf("%w: no reply to liveness check within %s", ErrClosed, c.o.hbTimeout))
		return
	}
}

func nextBackoff(cur, max time.Duration) time.Duration {
	next := cur * 2
	if next > max || next <= 0 {
		return max
	}
	return next
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

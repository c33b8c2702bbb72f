package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// conn is one ESL connection (inbound or outbound). One reader goroutine
// reads every frame and demultiplexes it by Content-Type:
//
//   - command/reply and api/response go to the oldest waiting caller
//     (FreeSWITCH answers the commands of one connection in order);
//   - events go to onEvent (and BACKGROUND_JOB also to its BGAPI caller);
//   - text/disconnect-notice closes the connection (ErrDisconnected) unless
//     it is the outbound linger notice.
//
// The reader never blocks on a caller or a handler: reply channels have
// room for one reply and onEvent must not block.
type conn struct {
	nc      net.Conn
	log     *slog.Logger
	writeTO time.Duration
	onEvent func(*Event) // runs on the reader goroutine; must not block

	wmu sync.Mutex // held while appending a waiter and writing its command

	mu      sync.Mutex
	waiters []*waiter              // FIFO, oldest first
	jobs    map[string]chan result // BGAPI callers by Job-UUID
	err     error                  // why the connection closed
	done    chan struct{}          // closed with err set
	exiting bool                   // "exit" sent by closeWithExit: replies are not for anyone

	authReq    chan struct{} // closed at the first auth/request
	authOnce   sync.Once
	linger     chan struct{} // closed at the linger disconnect notice
	lingerOnce sync.Once
	lastRead   atomic.Int64 // unix nanos of the last frame read
	readerDone chan struct{}
}

type waiter struct {
	ch chan result // buffered (1): the reader never blocks on a caller
}

type result struct {
	text string   // Reply-Text, api/response body, BACKGROUND_JOB body
	hdrs []header // command/reply headers (the outbound connect reply)
	err  error
}

func newConn(nc net.Conn, o *options, onEvent func(*Event)) *conn {
	if onEvent == nil {
		onEvent = func(*Event) {}
	}
	c := &conn{
		nc:         nc,
		log:        o.logger.With("addr", nc.RemoteAddr().String()),
		writeTO:    o.writeTimeout,
		onEvent:    onEvent,
		jobs:       make(map[string]chan result),
		done:       make(chan struct{}),
		authReq:    make(chan struct{}),
		linger:     make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	c.lastRead.Store(time.Now().UnixNano())
	go c.readLoop()
	return c
}

// dialInbound connects to mod_event_socket and authenticates.
func dialInbound(ctx context.Context, addr, password string, o *options, onEvent func(*Event)) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrClosed, addr, err)
	}
	c := newConn(nc, o, onEvent)
	select {
	case <-c.authReq:
	case <-c.done:
		return nil, c.closeErr()
	case <-ctx.Done():
		c.close()
		return nil, ctx.Err()
	}
	if !validLine(password) {
		c.close()
		return nil, fmt.Errorf("%w: password contains CR or LF", ErrInvalid)
	}
	if _, err := c.roundTrip(ctx, "auth", commandBytes("auth "+password, nil, "")); err != nil {
		c.close()
		if errors.Is(err, ErrCommand) {
			return nil, fmt.Errorf("%w: %w", ErrAuth, err)
		}
		return nil, err
	}
	return c, nil
}

// roundTrip writes one command and waits for its reply. A "-ERR" reply is
// returned as text plus a *CommandError. When ctx ends first the call
// returns ctx.Err(); the waiter stays queued so the reply, when it comes, is
// consumed by it and the next caller still gets its own reply.
func (c *conn) roundTrip(ctx context.Context, label string, wire []byte) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	w := &waiter{ch: make(chan result, 1)}
	c.wmu.Lock()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return result{}, err
	}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	werr := c.write(wire)
	c.wmu.Unlock()
	if werr != nil {
		c.closeWith(fmt.Errorf("%w: write: %w", ErrClosed, werr))
	}
	var r result
	select {
	case r = <-w.ch:
	case <-ctx.Done():
		select {
		case r = <-w.ch: // the reply won the race: a reply beats a cancel
		default:
			return result{}, ctx.Err()
		}
	}
	if r.err != nil {
		return r, r.err
	}
	if isErrReply(r.text) {
		return r, &CommandError{Command: label, Reply: r.text}
	}
	return r, nil
}

func (c *conn) write(b []byte) error {
	if c.writeTO > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTO))
	}
	_, err := c.nc.Write(b)
	return err
}

// api runs "api <cmd>" and returns the api/response body as sent.
func (c *conn) api(ctx context.Context, cmd string) (string, error) {
	if cmd == "" || !validLine(cmd) {
		return "", fmt.Errorf("%w: api command %q", ErrInvalid, cmd)
	}
	r, err := c.roundTrip(ctx, "api "+cmd, commandBytes("api "+cmd, nil, ""))
	return r.text, err
}

// bgapi runs "bgapi <cmd>" with our own Job-UUID and waits for the
// BACKGROUND_JOB event carrying it; returns its body.
func (c *conn) bgapi(ctx context.Context, cmd string) (string, error) {
	if cmd == "" || !validLine(cmd) {
		return "", fmt.Errorf("%w: bgapi command %q", ErrInvalid, cmd)
	}
	id := uuid.NewString()
	ch := make(chan result, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return "", err
	}
	c.jobs[id] = ch
	c.mu.Unlock()
	label := "bgapi " + cmd
	if _, err := c.roundTrip(ctx, label, commandBytes(label, []header{{"Job-UUID", id}}, "")); err != nil {
		c.dropJob(id)
		return "", err
	}
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		c.dropJob(id)
		select {
		case r = <-ch: // the event came first
		default:
			return "", ctx.Err()
		}
	}
	if r.err != nil {
		return "", r.err
	}
	if isErrReply(r.text) {
		return r.text, &CommandError{Command: label, Reply: r.text}
	}
	return r.text, nil
}

func (c *conn) dropJob(id string) {
	c.mu.Lock()
	delete(c.jobs, id)
	c.mu.Unlock()
}

// command sends one command line (e.g. "event json ALL", "filter A b",
// "myevents json", "linger 5") and returns the reply text.
func (c *conn) command(ctx context.Context, line string) (string, error) {
	if line == "" || !validLine(line) {
		return "", fmt.Errorf("%w: command %q", ErrInvalid, line)
	}
	r, err := c.roundTrip(ctx, line, commandBytes(line, nil, ""))
	return r.text, err
}

// sendMsg sends "sendmsg [<uuid>]" with the message headers.
func (c *conn) sendMsg(ctx context.Context, uuid string, m SendMsg) error {
	if !validLine(uuid) || strings.ContainsAny(uuid, " \t") {
		return fmt.Errorf("%w: sendmsg uuid %q", ErrInvalid, uuid)
	}
	hdrs, body, err := m.wire()
	if err != nil {
		return err
	}
	line := "sendmsg"
	if uuid != "" {
		line += " " + uuid
	}
	_, err = c.roundTrip(ctx, line+" "+m.Command, commandBytes(line, hdrs, body))
	return err
}

// exit sends "exit"; FreeSWITCH answers "+OK bye" and then disconnects.
func (c *conn) exit(ctx context.Context) error {
	_, err := c.command(ctx, "exit")
	return err
}

// closeWithExit writes "exit" without waiting for the reply (it would
// queue behind pending commands), then closes; pending callers get
// ErrClosed.
//
// The pending callers are failed before "exit" is written: replies are
// matched in order, so "+OK bye" would otherwise be taken for the reply of
// the oldest pending command. wmu is held to the end, so no command is
// written after the exit.
func (c *conn) closeWithExit() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	open := c.err == nil
	waiters, jobs := c.waiters, c.jobs
	if open {
		c.waiters, c.jobs, c.exiting = nil, map[string]chan result{}, true
	}
	c.mu.Unlock()
	if open {
		for _, w := range waiters {
			w.ch <- result{err: ErrClosed}
		}
		for _, ch := range jobs {
			ch <- result{err: ErrClosed}
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.nc.Write(commandBytes("exit", nil, ""))
	}
	c.close()
}

// close closes the connection; pending callers get ErrClosed.
func (c *conn) close() {
	c.closeWith(ErrClosed)
	<-c.readerDone
}

// closeWith records why the connection ended (first reason wins), closes
// the socket and fails every pending caller with err.
func (c *conn) closeWith(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	waiters, jobs := c.waiters, c.jobs
	c.waiters, c.jobs = nil, map[string]chan result{}
	close(c.done)
	c.mu.Unlock()
	_ = c.nc.Close()
	for _, w := range waiters {
		w.ch <- result{err: err}
	}
	for _, ch := range jobs {
		ch <- result{err: err}
	}
}

func (c *conn) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *conn) lastReadTime() time.Time { return time.Unix(0, c.lastRead.Load()) }

func (c *conn) readLoop() {
	defer close(c.readerDone)
	fr := newFrameReader(c.nc)
	for {
		f, err := fr.readFrame()
		if err != nil {
			switch {
			case c.closeErr() != nil:
				// closed locally (or by a disconnect notice): expected
			case errors.Is(err, ErrProtocol):
				c.log.Warn("esl: bad frame, closing connection", "err", err)
				c.closeWith(fmt.Errorf("%w: %w", ErrClosed, err))
			case err == io.EOF:
				c.closeWith(fmt.Errorf("%w: EOF", ErrClosed))
			default:
				c.closeWith(fmt.Errorf("%w: read: %w", ErrClosed, err))
			}
			c.closeWith(ErrClosed) // no-op when already closed
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		if !c.handleFrame(f) {
			return
		}
	}
}

// handleFrame dispatches one frame; false stops the reader.
func (c *conn) handleFrame(f *frame) bool {
	switch ct := f.get("Content-Type"); ct {
	case ctCommandRepl:
		c.deliver(result{text: f.get("Reply-Text"), hdrs: f.hdrs})
	case ctAPIResponse:
		c.deliver(result{text: string(f.body)})
	case ctEventJSON, ctEventPlain:
		var ev *Event
		var err error
		if ct == ctEventJSON {
			ev, err = decodeEventJSON(f.body)
		} else {
			ev, err = decodeEventPlain(f.body)
		}
		if err != nil {
			// The frame boundary is intact (Content-Length), so one bad
			// event does not break the connection.
			c.log.Warn("esl: undecodable event dropped", "err", err)
			return true
		}
		c.handleEvent(ev)
	case ctDisconnect:
		if strings.EqualFold(f.get("Content-Disposition"), "linger") {
			c.lingerOnce.Do(func() { close(c.linger) })
			return true
		}
		c.closeWith(ErrDisconnected)
		return false
	case ctAuthRequest:
		c.authOnce.Do(func() { close(c.authReq) })
	case ctLogData, ctEventXML:
		// not requested by this package
	default:
		c.log.Debug("esl: frame with unknown content type ignored", "content_type", ct)
	}
	return true
}

func (c *conn) deliver(r result) {
	c.mu.Lock()
	if len(c.waiters) == 0 {
		exiting := c.exiting
		c.mu.Unlock()
		if !exiting {
			c.log.Warn("esl: reply without a waiting command ignored", "reply", r.text)
		}
		return
	}
	w := c.waiters[0]
	c.waiters[0] = nil
	c.waiters = c.waiters[1:]
	c.mu.Unlock()
	w.ch <- r
}

func (c *conn) handleEvent(ev *Event) {
	if ev.Name() == "BACKGROUND_JOB" {
		id := ev.Get("Job-UUID")
		c.mu.Lock()
		ch, ok := c.jobs[id]
		delete(c.jobs, id)
		c.mu.Unlock()
		if ok {
			ch <- result{text: ev.Body}
		}
	}
	c.onEvent(ev)
}

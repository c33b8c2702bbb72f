// Package eslserver is the Event Socket side of the FreeSWITCH simulator
// (freeswitch/fstest), as mod_event_socket does it and as the recordings
// in ../shared/fixtures/freeswitch show it: the auth/request greeting,
// auth, event json|plain (CUSTOM subclasses, ALL), nixevent, noevents,
// filter, api, bgapi with the client's Job-UUID, sendmsg, exit; the wire
// framing of replies and events (text/event-json, text/event-plain); one
// order of events for every connection. What the commands do is the
// Handler's: the switch.
package eslserver

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// Handler runs the commands of api and bgapi.
type Handler interface {
	// API runs an api command and returns its reply body; the server
	// writes it, then calls done (which publishes what the command fired).
	API(cmd string) (reply string, done func())
	// BackgroundAPI runs a bgapi command whose Job-UUID reply is already
	// written; its result is the BACKGROUND_JOB event the handler fires.
	BackgroundAPI(cmd, job string)
}

// MsgHandler is a Handler that also runs `sendmsg <uuid>` call commands
// (headers as sent, the body when there is one); it returns the reply
// text. Without it every sendmsg is answered +OK and does nothing.
type MsgHandler interface {
	SendMsg(uuid string, headers map[string]string, body string) string
}

// Config configures a Server; every field is required.
type Config struct {
	Password string
	Handler  Handler
	Logger   *slog.Logger
	Core     func() string    // the Core-UUID of new events
	Clock    func() time.Time // their dates
	Sites    map[string]Site  // calling sites by subclass or event name
}

// Server accepts ESL connections and delivers events to them.
type Server struct {
	c Config

	emitMu sync.Mutex // serializes event fan-out: every connection sees one order
	seq    uint64     // Event-Sequence, under emitMu

	mu     sync.Mutex
	conns  map[*conn]bool
	closed bool
	wg     sync.WaitGroup // the connections' goroutines
}

// New returns a server; Serve starts it.
func New(c Config) *Server {
	return &Server{c: c, conns: map[*conn]bool{}}
}

// Serve accepts connections on ln until ln is closed.
func (srv *Server) Serve(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := newConn(srv, nc)
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			nc.Close()
			return
		}
		srv.conns[c] = true
		srv.wg.Add(2)
		srv.mu.Unlock()
		go func() { defer srv.wg.Done(); c.writeLoop() }()
		go func() { defer srv.wg.Done(); c.serve() }()
	}
}

// DropConnections closes every socket abruptly (no disconnect notice).
func (srv *Server) DropConnections() {
	srv.mu.Lock()
	conns := make([]*conn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	srv.mu.Unlock()
	for _, c := range conns {
		c.abort()
	}
}

// Connections is the number of open connections.
func (srv *Server) Connections() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// Close drops every connection, refuses new ones and waits for the
// connections' goroutines.
func (srv *Server) Close() {
	srv.mu.Lock()
	srv.closed = true
	srv.mu.Unlock()
	srv.DropConnections()
	srv.wg.Wait()
}

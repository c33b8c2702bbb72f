package esl

import (
	"context"
	"errors"
	"sync/atomic"
)

// Pool spreads commands over several inbound connections. FreeSWITCH runs
// the api commands of one connection one after the other, so with many
// live calls (each sending uuid_broadcast, uuid_break, uuid_setvar …) a
// single connection becomes a queue; a pool of a few keeps each command's
// wait short. A caller that needs order (one call's commands) waits for
// each reply before it sends the next, so order holds across connections.
// Commands go round-robin to the connections that are up.
type Pool struct {
	clients []*Client
	next    atomic.Uint64
}

// NewPool returns n clients (at least 1) of the same server, options and
// OnConnect hook. Start them with Start.
func NewPool(n int, addr, password string, opts ...Option) *Pool {
	if n < 1 {
		n = 1
	}
	p := &Pool{}
	for range n {
		p.clients = append(p.clients, New(addr, password, opts...))
	}
	return p
}

// Start starts every client.
func (p *Pool) Start(ctx context.Context) error {
	for _, c := range p.clients {
		if err := c.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every client.
func (p *Pool) Close() error {
	var errs []error
	for _, c := range p.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Connected reports whether at least one connection is up.
func (p *Pool) Connected() bool {
	for _, c := range p.clients {
		if c.Connected() {
			return true
		}
	}
	return false
}

// LastError returns the first client's LastError that is not nil: why a
// connection is down (nil when every one is up or none has tried yet).
func (p *Pool) LastError() error {
	for _, c := range p.clients {
		if err := c.LastError(); err != nil {
			return err
		}
	}
	return nil
}

// pick returns the next connected client, or the next one when none is
// (its error then says why).
func (p *Pool) pick() *Client {
	n := uint64(len(p.clients))
	start := p.next.Add(1)
	for i := range n {
		if c := p.clients[(start+i)%n]; c.Connected() {
			return c
		}
	}
	return p.clients[start%n]
}

// API runs an api command on one of the connections (see Client.API).
func (p *Pool) API(ctx context.Context, cmd string) (string, error) {
	return p.pick().API(ctx, cmd)
}

// BGAPI runs a bgapi command on one of the connections (see Client.BGAPI).
func (p *Pool) BGAPI(ctx context.Context, cmd string) (string, error) {
	return p.pick().BGAPI(ctx, cmd)
}

// SendMsg sends a call command on one of the connections (see
// Client.SendMsg).
func (p *Pool) SendMsg(ctx context.Context, uuid string, msg SendMsg) error {
	return p.pick().SendMsg(ctx, uuid, msg)
}

package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
)

// tcpProxy stands between sipbridge and FreeSWITCH's Event Socket so that a
// scenario can cut the connections without touching the switch: Sever
// closes every connection and refuses new ones (accepted, then closed at
// once) until Resume.
type tcpProxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu      sync.Mutex
	conns   map[net.Conn]bool
	refuse  bool
	accepts int // connections passed through so far
}

// startProxy listens on a free loopback port and forwards to target; it is
// closed when t ends.
func startProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		p.mu.Lock()
		ln := p.ln
		p.mu.Unlock()
		ln.Close()
		p.Sever()
	})
	return p
}

func (p *tcpProxy) serve() {
	p.mu.Lock()
	ln := p.ln
	p.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.refuse { // severed while dialling
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.accepts++
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Sever closes every connection through the proxy and refuses new ones.
func (p *tcpProxy) Sever() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = true
	for c := range p.conns {
		c.Close()
	}
}

// Down closes every connection and the listening socket: connecting is
// refused, as to a stopped server, until Up.
func (p *tcpProxy) Down() {
	p.ln.Close()
	p.Sever()
}

// Up listens on the same address again and lets connections through.
func (p *tcpProxy) Up(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.refuse = ln, false
	p.mu.Unlock()
	go p.serve()
}

// Resume lets connections through again.
func (p *tcpProxy) Resume() {
	p.mu.Lock()
	p.refuse = false
	p.mu.Unlock()
}

// Accepts is how many connections went through so far.
func (p *tcpProxy) Accepts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

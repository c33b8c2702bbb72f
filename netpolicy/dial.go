package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ConnectError is every failure of DialContext: a refused address, a name
// that does not resolve, a refused connection, a timeout. Its message is
// the same for all of them ("could not connect to host:port"), so nothing
// stored or shown to a tenant tells an open port from a closed or a
// forbidden one. The cause stays reachable with errors.Is / errors.As
// (ErrBlocked, ErrNotResolved, context.DeadlineExceeded, *net.OpError) and
// is what the error logs as (slog.LogValuer) and what Detail returns.
type ConnectError struct {
	// Address is the host:port asked for.
	Address string
	// Err is the cause.
	Err error
}

func (e *ConnectError) Error() string { return "could not connect to " + e.Address }

func (e *ConnectError) Unwrap() error { return e.Err }

// LogValue logs the cause, which the message leaves out.
func (e *ConnectError) LogValue() slog.Value {
	return slog.StringValue(e.Error() + ": " + e.Err.Error())
}

// Detail is err's message with the cause of any ConnectError in its chain
// spelled out: for logs, never for a tenant.
func Detail(err error) string {
	if err == nil {
		return ""
	}
	var ce *ConnectError
	if errors.As(err, &ce) {
		return err.Error() + " (" + ce.Err.Error() + ")"
	}
	return err.Error()
}

// DialContext connects like net.Dialer.DialContext ("tcp", "tcp4" or
// "tcp6"; address host:port) to allowed addresses only: a literal address
// is checked, a name is resolved once and every address it resolves to
// must be allowed, then those checked addresses are dialled in turn (never
// the name, so no second DNS answer is used). The socket's address is
// checked again just before connecting. Every error is a *ConnectError.
// Use it as http.Transport.DialContext or websocket.Dialer.NetDialContext.
func (p Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := p.dial(ctx, network, address)
	if err != nil {
		ce := &ConnectError{Address: address, Err: err}
		if p.Log != nil {
			p.Log.Debug("connection not made", "address", address, "err", ce)
		}
		return nil, ce
	}
	return conn, nil
}

func (p Policy) dial(ctx context.Context, network, address string) (net.Conn, error) {
	lookup := "ip"
	switch network {
	case "tcp":
	case "tcp4":
		lookup = "ip4"
	case "tcp6":
		lookup = "ip6"
	default:
		return nil, fmt.Errorf("network %q is not supported", network)
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := ParsePort(portText)
	if err != nil {
		return nil, err
	}
	addrs, err := p.resolveChecked(ctx, lookup, host)
	if err != nil {
		return nil, err
	}
	timeout := p.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, ControlContext: p.control}
	var firstErr error
	for _, a := range addrs {
		if (lookup == "ip4" && !a.Is4()) || (lookup == "ip6" && !a.Is6()) {
			continue
		}
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%s has no %s address", host, lookup)
	}
	return nil, firstErr
}

// control checks the address the socket is about to connect to: the last
// word, whatever path led there.
func (p Policy) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unexpected socket address %q", ErrBlocked, address)
	}
	return p.CheckAddr(ap.Addr())
}

// MaxRedirects is how many redirects HTTPClient follows.
const MaxRedirects = 5

// HTTPClient returns a client that connects through DialContext (never
// through a proxy from the environment: the proxy's address, not the
// target's, would be checked), with timeout bounding each request (0:
// none). It follows up to MaxRedirects redirects to http(s) URLs without
// credentials; each one is dialled through DialContext, so a redirect to a
// refused address fails like any refused address.
func (p Policy) HTTPClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= MaxRedirects {
			return fmt.Errorf("stopped after %d redirects", MaxRedirects)
		}
		host, err := checkURLSyntax(req.URL.String(), []string{"http", "https"})
		if err != nil {
			return &ConnectError{Address: req.URL.Host, Err: err}
		}
		if c, _ := ClassifyHost(host); !p.Allowed(c) {
			return &ConnectError{Address: req.URL.Host, Err: blocked(host, c)}
		}
		return nil
	}}
}

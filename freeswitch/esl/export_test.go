package esl

import (
	"context"
	"errors"
	"io"
	"strings"
)

// Hooks for the external tests (package esl_test), which replay the shared
// recordings through freeswitch/fstest.

var (
	DecodeEventJSON  = decodeEventJSON
	DecodeEventPlain = decodeEventPlain
)

// TestFrame is a parsed frame with its body copied.
type TestFrame struct {
	Headers [][2]string
	Body    string
}

// ReadFrames parses frames from r until a clean EOF.
func ReadFrames(r io.Reader) ([]TestFrame, error) {
	fr := newFrameReader(r)
	var out []TestFrame
	for {
		f, err := fr.readFrame()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		tf := TestFrame{Body: string(f.body)}
		for _, h := range f.hdrs {
			tf.Headers = append(tf.Headers, [2]string{h.name, h.value})
		}
		out = append(out, tf)
	}
}

// EventFromHeaderBlock decodes a header-only frame (CHANNEL_DATA).
func EventFromHeaderBlock(raw string) (*Event, error) {
	frames, err := ReadFrames(strings.NewReader(raw))
	if err != nil || len(frames) != 1 {
		return nil, errors.Join(ErrProtocol, err)
	}
	hdrs := make([]header, 0, len(frames[0].Headers))
	for _, h := range frames[0].Headers {
		hdrs = append(hdrs, header{h[0], h[1]})
	}
	return eventFromHeaders(hdrs), nil
}

// TestConn exposes one raw inbound connection (no reconnects, no
// dispatcher: onEvent runs on the reader goroutine).
type TestConn struct{ c *conn }

func DialTestConn(ctx context.Context, addr, password string, onEvent func(*Event)) (*TestConn, error) {
	o := defaultOptions()
	c, err := dialInbound(ctx, addr, password, &o, onEvent)
	if err != nil {
		return nil, err
	}
	return &TestConn{c: c}, nil
}

func (t *TestConn) API(ctx context.Context, cmd string) (string, error) { return t.c.api(ctx, cmd) }
func (t *TestConn) BGAPI(ctx context.Context, cmd string) (string, error) {
	return t.c.bgapi(ctx, cmd)
}
func (t *TestConn) Command(ctx context.Context, line string) (string, error) {
	return t.c.command(ctx, line)
}
func (t *TestConn) SendMsg(ctx context.Context, uuid string, m SendMsg) error {
	return t.c.sendMsg(ctx, uuid, m)
}
func (t *TestConn) Exit(ctx context.Context) error { return t.c.exit(ctx) }
func (t *TestConn) Close()                         { t.c.close() }
func (t *TestConn) Done() <-chan struct{}          { return t.c.done }
func (t *TestConn) Err() error                     { return t.c.closeErr() }

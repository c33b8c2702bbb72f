package esl_test

import (
	"bytes"
	"errors"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logSink) count(level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, `"level":"`+level+`"`) && strings.Contains(line, `"msg":"`+msg+`"`) {
			n++
		}
	}
	return n
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Without a switch a client warns on every attempt; with
// WithQuietReconnect its attempts go to debug and LastError says why it
// is down, for its owner to report once.
func TestClientQuietReconnect(t *testing.T) {
	addr := closedAddr(t)
	for _, quiet := range []bool{false, true} {
		logs := &logSink{}
		opts := []esl.Option{esl.WithBackoff(10*time.Millisecond, 10*time.Millisecond),
			esl.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}
		if quiet {
			opts = append(opts, esl.WithQuietReconnect())
		}
		c := startClient(t, addr, "pw", opts...)
		testkit.Eventually(t, 5*time.Second, "three failed attempts", func() bool {
			return logs.count("WARN", "esl: connect failed")+logs.count("DEBUG", "esl: connect failed") >= 3
		})
		warns := logs.count("WARN", "esl: connect failed")
		if quiet && warns != 0 {
			t.Errorf("quiet client logged %d warnings", warns)
		}
		if !quiet && warns < 3 {
			t.Errorf("client logged %d warnings, want one per attempt", warns)
		}
		var opErr *net.OpError
		if err := c.LastError(); !errors.As(err, &opErr) {
			t.Errorf("LastError() = %v, want the dial error", err)
		}
		c.Close()
	}
}

// LastError is nil while connected and names the cause once the
// connection is lost.
func TestClientLastErrorConnected(t *testing.T) {
	fs := newFakeFS(t, "pw")
	c := startClient(t, fs.addr(), "pw", esl.WithQuietReconnect(), esl.WithBackoff(time.Hour, time.Hour))
	s := fs.nextSession(t)
	waitConnected(t, c)
	if err := c.LastError(); err != nil {
		t.Errorf("LastError() = %v while connected", err)
	}
	s.nc.Close() // FreeSWITCH goes away
	testkit.Eventually(t, 5*time.Second, "the loss noticed", func() bool { return !c.Connected() })
	if err := c.LastError(); !errors.Is(err, esl.ErrClosed) {
		t.Errorf("LastError() = %v after the loss, want ErrClosed", err)
	}
}

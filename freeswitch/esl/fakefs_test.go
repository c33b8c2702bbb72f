package esl_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

// fakeFS is a scriptable ESL server speaking the recorded wire format, for
// client behaviour the recordings do not cover (drops, silence, slow
// replies). Replies default to the shapes a real FreeSWITCH sends.
type fakeFS struct {
	t        *testing.T
	ln       net.Listener
	password string
	// handle, if set, sees every command after auth first; it returns
	// false to fall back to the default reply. It runs on the session's
	// reader goroutine, so replies stay in command order.
	handle func(s *fakeSession, cmd string) bool
	// gate, if set, is called before auth/request is sent on session n
	// (1-based) and may block to hold the client "disconnected".
	gate func(n int)

	mu       sync.Mutex
	sessions []*fakeSession
	newSess  chan *fakeSession
}

type fakeSession struct {
	n       int
	nc      net.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	cmds    []string // every command received, raw
	claimed []bool   // per cmds: returned by waitCommand already
}

func newFakeFS(t *testing.T, password string) *fakeFS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFS{t: t, ln: ln, password: password, newSess: make(chan *fakeSession, 64)}
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.sessions {
			s.nc.Close()
		}
	})
	return f
}

func (f *fakeFS) addr() string { return f.ln.Addr().String() }

func (f *fakeFS) accept() {
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		s := &fakeSession{n: len(f.sessions) + 1, nc: nc}
		f.sessions = append(f.sessions, s)
		f.mu.Unlock()
		go f.serve(s)
	}
}

// nextSession waits for the next accepted connection.
func (f *fakeFS) nextSession(t *testing.T) *fakeSession {
	t.Helper()
	select {
	case s := <-f.newSess:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no new ESL session")
		return nil
	}
}

func (f *fakeFS) sessionCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// setHandle and setGate install the hooks (before the client starts).
func (f *fakeFS) setHandle(h func(s *fakeSession, cmd string) bool) {
	f.mu.Lock()
	f.handle = h
	f.mu.Unlock()
}

func (f *fakeFS) setGate(g func(n int)) {
	f.mu.Lock()
	f.gate = g
	f.mu.Unlock()
}

func (f *fakeFS) serve(s *fakeSession) {
	defer s.nc.Close()
	f.mu.Lock()
	gate, handle := f.gate, f.handle
	f.mu.Unlock()
	if gate != nil {
		gate(s.n)
	}
	f.newSess <- s
	br := bufio.NewReader(s.nc)
	s.send("Content-Type: auth/request\n\n")
	for {
		raw, err := readCommand(br)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.cmds = append(s.cmds, raw)
		s.claimed = append(s.claimed, false)
		s.mu.Unlock()
		line, _, _ := strings.Cut(raw, "\n")
		if pw, ok := strings.CutPrefix(line, "auth "); ok {
			if pw != f.password {
				s.reply("-ERR invalid")
				s.disconnect()
				return
			}
			s.reply("+OK accepted")
			continue
		}
		if handle != nil && handle(s, raw) {
			continue
		}
		if !s.defaultReply(raw) {
			return
		}
	}
}

// defaultReply answers like FreeSWITCH; false ends the session.
func (s *fakeSession) defaultReply(raw string) bool {
	line, rest, _ := strings.Cut(raw, "\n")
	verb, arg, _ := strings.Cut(line, " ")
	switch verb {
	case "event":
		s.reply("+OK event listener enabled json")
	case "filter":
		k, v, _ := strings.Cut(arg, " ")
		s.reply(fmt.Sprintf("+OK filter added. [%s]=[%s]", k, v))
	case "api":
		if arg == "status" {
			s.apiResponse("UP 0 years, 0 days\nFreeSWITCH (Version 1.11.1-release  64bit) is ready\n")
		} else {
			s.apiResponse("+OK " + arg + "\n")
		}
	case "bgapi":
		id := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), "Job-UUID:"))
		s.send(fmt.Sprintf("Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n", id, id))
		s.event(map[string]any{"Event-Name": "BACKGROUND_JOB", "Job-UUID": id, "Job-Command": arg, "_body": "+OK " + arg + "\n"})
	case "sendmsg":
		s.reply("+OK")
	case "exit":
		s.reply("+OK bye")
		s.disconnect()
		return false
	default:
		s.reply("-ERR command not found")
	}
	return true
}

func (s *fakeSession) send(raw string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, _ = s.nc.Write([]byte(raw))
}

func (s *fakeSession) reply(text string) {
	s.send("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

func (s *fakeSession) apiResponse(body string) {
	s.send(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

func (s *fakeSession) event(fields map[string]any) {
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	s.send(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-json\n\n%s", len(b), b))
}

func (s *fakeSession) disconnect() {
	body := "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
	s.send(fmt.Sprintf("Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s", len(body), body))
	s.nc.Close()
}

// commands returns the first lines of the commands received so far.
func (s *fakeSession) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, raw := range s.cmds {
		line, _, _ := strings.Cut(raw, "\n")
		out = append(out, line)
	}
	return out
}

// waitCommand waits for a command whose first line starts with prefix and
// that no earlier waitCommand returned; it returns the raw frame.
func (s *fakeSession) waitCommand(t *testing.T, prefix string) string {
	t.Helper()
	var got string
	testkit.Eventually(t, 5*time.Second, fmt.Sprintf("command %q on session %d", prefix, s.n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, raw := range s.cmds {
			if !s.claimed[i] && strings.HasPrefix(raw, prefix) {
				s.claimed[i] = true
				got = raw
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("got %q", s.commands()) })
	return got
}

package esl_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func startClient(t *testing.T, addr, password string, opts ...esl.Option) *esl.Client {
	t.Helper()
	c := esl.New(addr, password, opts...)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitConnected(t *testing.T, c *esl.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestClientResubscribesAfterDrop: after FreeSWITCH drops the connection
// the client reports disconnected, fails calls at once with
// ErrNotConnected, reconnects, sends the same subscription and filters
// again and runs OnConnect again (with the old hook's ctx cancelled).
func TestClientResubscribesAfterDrop(t *testing.T) {
	fs := newFakeFS(t, "ClueCon")
	hold := make(chan struct{})
	fs.setGate(func(n int) {
		if n == 2 {
			<-hold
		}
	})
	hooks := make(chan context.Context, 4)
	c := startClient(t, fs.addr(), "ClueCon",
		esl.WithEvents("CHANNEL_PARK", "CUSTOM sofia::gateway_state sofia::gateway_add"),
		esl.WithFilter("Event-Name", "CHANNEL_PARK"),
		esl.WithBackoff(10*time.Millisecond, 40*time.Millisecond),
		esl.WithOnConnect(func(ctx context.Context) { hooks <- ctx }),
	)
	wantSetup := []string{
		"auth ClueCon",
		"event json CHANNEL_PARK BACKGROUND_JOB CUSTOM sofia::gateway_state sofia::gateway_add",
		"filter Event-Name CHANNEL_PARK",
		"filter Event-Name BACKGROUND_JOB",
	}
	s1 := fs.nextSession(t)
	hook1 := <-hooks
	if !c.Connected() {
		t.Fatal("not Connected() after OnConnect")
	}
	if got := s1.commands(); !slices.Equal(got, wantSetup) {
		t.Fatalf("setup %q, want %q", got, wantSetup)
	}
	if got, err := c.API(context.Background(), "one"); got != "+OK one\n" || err != nil {
		t.Fatalf("API = %q, %v", got, err)
	}

	s1.nc.Close() // FreeSWITCH goes away
	select {
	case <-hook1.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("OnConnect ctx not cancelled on disconnect")
	}
	testkit.Eventually(t, 5*time.Second, "Connected() false", func() bool { return !c.Connected() })
	start := time.Now()
	if _, err := c.API(context.Background(), "two"); !errors.Is(err, esl.ErrNotConnected) {
		t.Fatalf("API while down: %v, want ErrNotConnected", err)
	}
	if _, err := c.BGAPI(context.Background(), "two"); !errors.Is(err, esl.ErrNotConnected) {
		t.Fatalf("BGAPI while down: %v, want ErrNotConnected", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("calls while down took %v, want immediate", d)
	}

	close(hold)
	s2 := fs.nextSession(t)
	select {
	case <-hooks:
	case <-time.After(5 * time.Second):
		t.Fatal("OnConnect not called after reconnect")
	}
	if got := s2.commands(); !slices.Equal(got, wantSetup) {
		t.Fatalf("setup after reconnect %q, want %q", got, wantSetup)
	}
	if got, err := c.API(context.Background(), "three"); got != "+OK three\n" || err != nil {
		t.Fatalf("API after reconnect = %q, %v", got, err)
	}
}

func TestClientSubscriptionCommand(t *testing.T) {
	tests := []struct {
		name string
		opts []esl.Option
		want []string
	}{
		{"nothing: still BACKGROUND_JOB for bgapi", nil, []string{"event json BACKGROUND_JOB"}},
		{"ALL needs no BACKGROUND_JOB", []esl.Option{esl.WithEvents("ALL")}, []string{"event json ALL"}},
		{"subclasses last, CUSTOM once", []esl.Option{esl.WithEvents("sofia::gateway_state", "CHANNEL_CREATE CUSTOM sofia::notify_refer", "ALL")},
			[]string{"event json CHANNEL_CREATE ALL CUSTOM sofia::gateway_state sofia::notify_refer"}},
		{"filters add the BACKGROUND_JOB filter", []esl.Option{esl.WithEvents("ALL"), esl.WithFilter("Unique-ID", "abc")},
			[]string{"event json ALL", "filter Unique-ID abc", "filter Event-Name BACKGROUND_JOB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeFS(t, "pw")
			c := startClient(t, fs.addr(), "pw", tc.opts...)
			waitConnected(t, c)
			s := fs.nextSession(t)
			if got := s.commands()[1:]; !slices.Equal(got, tc.want) {
				t.Errorf("setup %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClientAuthFailure(t *testing.T) {
	fs := newFakeFS(t, "ClueCon")
	c := startClient(t, fs.addr(), "WrongPassword", esl.WithBackoff(20*time.Millisecond, 50*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.WaitConnected(ctx)
	if !errors.Is(err, esl.ErrAuth) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitConnected: %v, want ErrAuth and DeadlineExceeded", err)
	}
	if strings.Contains(err.Error(), "WrongPassword") {
		t.Errorf("error leaks the password: %v", err)
	}
	if c.Connected() {
		t.Error("Connected() after auth failure")
	}
	if _, err := c.API(context.Background(), "status"); !errors.Is(err, esl.ErrNotConnected) {
		t.Errorf("API: %v", err)
	}
	if fs.sessionCount() < 2 {
		t.Errorf("%d attempts, want retries", fs.sessionCount())
	}
}

// TestClientBackoffCapped: reconnect delays double from initial and stop
// growing at max.
func TestClientBackoffCapped(t *testing.T) {
	fs := newFakeFS(t, "pw")
	var mu sync.Mutex
	var accepts []time.Time
	// Close every connection before auth/request: each attempt fails.
	fs.setGate(func(n int) {
		mu.Lock()
		accepts = append(accepts, time.Now())
		mu.Unlock()
		fs.mu.Lock()
		s := fs.sessions[n-1]
		fs.mu.Unlock()
		s.nc.Close()
	})
	const initial, max = 20 * time.Millisecond, 80 * time.Millisecond
	c := startClient(t, fs.addr(), "pw", esl.WithBackoff(initial, max))
	testkit.Eventually(t, 5*time.Second, "8 attempts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(accepts) >= 8
	})
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	var gaps []time.Duration
	for i := 1; i < 8; i++ {
		gaps = append(gaps, accepts[i].Sub(accepts[i-1]))
	}
	// Expected about 20, 40, 80, 80, 80, 80, 80 ms; uncapped the last
	// would be 1.28 s.
	if gaps[0] >= gaps[2] {
		t.Errorf("no growth: gaps %v", gaps)
	}
	for _, g := range gaps[3:] {
		if g < max-10*time.Millisecond || g > 3*max {
			t.Errorf("gap %v outside [%v, %v] once capped: %v", g, max, 3*max, gaps)
		}
	}
}

// TestClientReplies: -ERR replies become *CommandError for that call only;
// +OK replies that describe failures come back as text.
func TestClientReplies(t *testing.T) {
	fs := newFakeFS(t, "pw")
	fs.setHandle(func(s *fakeSession, raw string) bool {
		switch strings.TrimSpace(raw) {
		case "api no_such_command":
			s.apiResponse("-ERR no_such_command Command not found!\n")
		case "api reloadxml":
			s.apiResponse("+OK [[error near line 3152]: unexpected closing tag </gateways>]\n")
		case "api sofia profile external rescan":
			s.apiResponse("Reload XML [[error near line 3152]: unexpected closing tag </gateways>]\n+OK scan complete\n")
		default:
			return false
		}
		return true
	})
	c := startClient(t, fs.addr(), "pw")
	waitConnected(t, c)
	tests := []struct {
		cmd     string
		want    string
		wantErr bool
	}{
		{"no_such_command", "-ERR no_such_command Command not found!\n", true},
		{"status", "UP 0 years, 0 days\nFreeSWITCH (Version 1.11.1-release  64bit) is ready\n", false},
		{"reloadxml", "+OK [[error near line 3152]: unexpected closing tag </gateways>]\n", false},
		{"no_such_command", "-ERR no_such_command Command not found!\n", true},
		{"sofia profile external rescan", "Reload XML [[error near line 3152]: unexpected closing tag </gateways>]\n+OK scan complete\n", false},
		{"uuid_kill abc", "+OK uuid_kill abc\n", false},
	}
	for _, tc := range tests {
		got, err := c.API(context.Background(), tc.cmd)
		if got != tc.want {
			t.Errorf("API(%q) = %q, want %q", tc.cmd, got, tc.want)
		}
		var ce *esl.CommandError
		if tc.wantErr != errors.As(err, &ce) || tc.wantErr != errors.Is(err, esl.ErrCommand) {
			t.Errorf("API(%q) err = %v, want CommandError: %v", tc.cmd, err, tc.wantErr)
		}
		if tc.wantErr && ce.Reply != tc.want {
			t.Errorf("CommandError.Reply = %q", ce.Reply)
		}
		if !tc.wantErr && err != nil {
			t.Errorf("API(%q) err = %v", tc.cmd, err)
		}
	}
	if !c.Connected() {
		t.Error("an -ERR reply disconnected the client")
	}
}

// TestClientCancelKeepsRepliesMatched: a caller that gives up does not
// shift the replies: the next caller gets its own reply.
func TestClientCancelKeepsRepliesMatched(t *testing.T) {
	fs := newFakeFS(t, "pw")
	// FreeSWITCH answers in order: "slow" only once "fast" has been sent.
	fs.setHandle(func(s *fakeSession, raw string) bool {
		switch {
		case strings.HasPrefix(raw, "api slow"):
			return true
		case strings.HasPrefix(raw, "api fast"):
			s.apiResponse("+OK slow\n")
			s.apiResponse("+OK fast\n")
			return true
		}
		return false
	})
	c := startClient(t, fs.addr(), "pw")
	waitConnected(t, c)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.API(ctx, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancelled call returned after %v", d)
	}
	text, err := c.API(context.Background(), "fast")
	if text != "+OK fast\n" || err != nil {
		t.Fatalf("second caller got %q, %v; want its own reply", text, err)
	}
	if text, _ := c.API(context.Background(), "third"); text != "+OK third\n" {
		t.Fatalf("third caller got %q", text)
	}
}

func TestClientBGAPI(t *testing.T) {
	fs := newFakeFS(t, "pw")
	fs.setHandle(func(s *fakeSession, raw string) bool {
		line, rest, _ := strings.Cut(raw, "\n")
		id := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), "Job-UUID:"))
		switch line {
		case "bgapi originate busy":
			s.send(fmt.Sprintf("Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n", id, id))
			// another job's result first: must not be taken for ours
			s.event(map[string]any{"Event-Name": "BACKGROUND_JOB", "Job-UUID": "00000000-0000-0000-0000-000000000000", "_body": "+OK other\n"})
			s.event(map[string]any{"Event-Name": "BACKGROUND_JOB", "Job-UUID": id, "_body": "-ERR USER_BUSY\n"})
		case "bgapi never":
			s.send(fmt.Sprintf("Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n", id, id))
		case "bgapi bogus":
			s.reply("-ERR bogus Command not found!")
		default:
			return false
		}
		if !strings.Contains(raw, "\nJob-UUID: ") {
			panic("bgapi without Job-UUID header")
		}
		return true
	})
	c := startClient(t, fs.addr(), "pw")
	waitConnected(t, c)

	if got, err := c.BGAPI(context.Background(), "status"); got != "+OK status\n" || err != nil {
		t.Errorf("BGAPI status = %q, %v", got, err)
	}
	got, err := c.BGAPI(context.Background(), "originate busy")
	var ce *esl.CommandError
	if got != "-ERR USER_BUSY\n" || !errors.As(err, &ce) || ce.Reply != "-ERR USER_BUSY\n" {
		t.Errorf("BGAPI originate busy = %q, %v", got, err)
	}
	if _, err := c.BGAPI(context.Background(), "bogus"); !errors.Is(err, esl.ErrCommand) {
		t.Errorf("BGAPI bogus: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.BGAPI(ctx, "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("BGAPI never: %v", err)
	}
	if got, err := c.API(context.Background(), "after"); got != "+OK after\n" || err != nil {
		t.Errorf("API after = %q, %v", got, err)
	}
}

// TestClientPendingCallsFailOnDisconnect: callers waiting when the
// connection ends get ErrDisconnected (notice) or ErrClosed (EOF), not a hang.
func TestClientPendingCallsFailOnDisconnect(t *testing.T) {
	tests := []struct {
		name       string
		notice     bool
		wantDiscon bool
	}{
		{"disconnect notice", true, true},
		{"EOF", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeFS(t, "pw")
			fs.setHandle(func(s *fakeSession, raw string) bool {
				switch {
				case strings.HasPrefix(raw, "api hang"), strings.HasPrefix(raw, "bgapi hang"):
					return true // never answered
				case strings.HasPrefix(raw, "api bye"):
					if tc.notice {
						s.disconnect()
					} else {
						s.nc.Close()
					}
					return true
				}
				return false
			})
			c := startClient(t, fs.addr(), "pw", esl.WithBackoff(time.Hour, time.Hour))
			waitConnected(t, c)
			s := fs.nextSession(t)
			errs := make(chan error, 3)
			go func() { _, err := c.API(context.Background(), "hang"); errs <- err }()
			go func() { _, err := c.BGAPI(context.Background(), "hang"); errs <- err }()
			s.waitCommand(t, "api hang")
			s.waitCommand(t, "bgapi hang")
			go func() { _, err := c.API(context.Background(), "bye"); errs <- err }()
			for range 3 {
				select {
				case err := <-errs:
					if !errors.Is(err, esl.ErrClosed) || errors.Is(err, esl.ErrDisconnected) != tc.wantDiscon {
						t.Errorf("pending call: %v (want ErrDisconnected: %v)", err, tc.wantDiscon)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("pending call hangs after disconnect")
				}
			}
			testkit.Eventually(t, 5*time.Second, "disconnected", func() bool { return !c.Connected() })
		})
	}
}

// TestClientHeartbeat: a connection that stops answering is replaced; a
// healthy one is left alone.
func TestClientHeartbeat(t *testing.T) {
	tests := []struct {
		name          string
		answerSession func(n int) bool
		wantReconnect bool
	}{
		{"silent switch is replaced", func(n int) bool { return n > 1 }, true},
		{"healthy switch is kept", func(int) bool { return true }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeFS(t, "pw")
			fs.setHandle(func(s *fakeSession, raw string) bool {
				return strings.HasPrefix(raw, "api status") && !tc.answerSession(s.n) // swallow
			})
			var connects atomic.Int32
			c := startClient(t, fs.addr(), "pw",
				esl.WithHeartbeat(30*time.Millisecond, 60*time.Millisecond),
				esl.WithBackoff(10*time.Millisecond, 10*time.Millisecond),
				esl.WithOnConnect(func(context.Context) { connects.Add(1) }))
			waitConnected(t, c)
			s1 := fs.nextSession(t)
			s1.waitCommand(t, "api status")
			if tc.wantReconnect {
				testkit.Eventually(t, 5*time.Second, "second connect", func() bool { return connects.Load() >= 2 })
				if got, err := c.API(context.Background(), "x"); err != nil || got != "+OK x\n" {
					t.Errorf("API after heartbeat reconnect = %q, %v", got, err)
				}
				return
			}
			time.Sleep(300 * time.Millisecond) // ~10 heartbeat periods
			if n := connects.Load(); n != 1 || fs.sessionCount() != 1 {
				t.Errorf("healthy connection replaced: %d connects, %d sessions", n, fs.sessionCount())
			}
		})
	}
}

// TestClientEventOrderPerChannel: events of one channel reach the handler in
// wire order although channels are handled concurrently.
func TestClientEventOrderPerChannel(t *testing.T) {
	const channels, perChannel = 12, 60
	fs := newFakeFS(t, "pw")
	fs.setHandle(func(s *fakeSession, raw string) bool {
		if !strings.HasPrefix(raw, "api burst") {
			return false
		}
		for i := range perChannel {
			for ch := range channels {
				s.event(map[string]any{"Event-Name": "CHANNEL_STATE", "Unique-ID": fmt.Sprintf("uuid-%d", ch), "Seq": strconv.Itoa(i)})
			}
			s.event(map[string]any{"Event-Name": "HEARTBEAT", "Seq": strconv.Itoa(i)})
		}
		s.apiResponse("+OK\n")
		return true
	})
	var mu sync.Mutex
	last := map[string]int{}
	var inflight, maxInflight atomic.Int32
	var total atomic.Int32
	var bad []string
	c := esl.New(fs.addr(), "pw", esl.WithWorkers(4))
	c.OnEvent(func(ev *esl.Event) {
		n := inflight.Add(1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		key := ev.UUID()
		if key == "" {
			key = ev.Name()
		}
		seq, _ := strconv.Atoi(ev.Get("Seq"))
		mu.Lock()
		if prev, ok := last[key]; ok && seq != prev+1 {
			bad = append(bad, fmt.Sprintf("%s: %d after %d", key, seq, prev))
		}
		last[key] = seq
		mu.Unlock()
		inflight.Add(-1)
		total.Add(1)
	})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitConnected(t, c)
	if _, err := c.API(context.Background(), "burst"); err != nil {
		t.Fatal(err)
	}
	want := int32((channels + 1) * perChannel)
	testkit.Eventually(t, 5*time.Second, "all events handled", func() bool { return total.Load() == want })
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("out of order: %v", bad[:min(5, len(bad))])
	}
	if maxInflight.Load() < 2 {
		t.Errorf("handlers never ran concurrently (max in flight %d)", maxInflight.Load())
	}
}

// TestClientSlowHandlerDoesNotStallAPI: a handler stuck on an event does not
// delay api replies, and no event is lost meanwhile.
func TestClientSlowHandlerDoesNotStallAPI(t *testing.T) {
	fs := newFakeFS(t, "pw")
	fs.setHandle(func(s *fakeSession, raw string) bool {
		if !strings.HasPrefix(raw, "api ping") {
			return false
		}
		for i := range 2000 {
			s.event(map[string]any{"Event-Name": "CHANNEL_STATE", "Unique-ID": "same", "Seq": strconv.Itoa(i)})
		}
		s.apiResponse("+OK pong\n")
		return true
	})
	release := make(chan struct{})
	var handled atomic.Int32
	c := esl.New(fs.addr(), "pw")
	c.OnEvent(func(ev *esl.Event) {
		<-release
		handled.Add(1)
	})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitConnected(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if got, err := c.API(ctx, "ping"); got != "+OK pong\n" || err != nil {
		t.Fatalf("API with a stuck handler = %q, %v", got, err)
	}
	if got, err := c.API(ctx, "again"); got != "+OK again\n" || err != nil {
		t.Fatalf("API with a stuck handler = %q, %v", got, err)
	}
	close(release)
	testkit.Eventually(t, 5*time.Second, "all 2000 events", func() bool { return handled.Load() == 2000 })
}

// TestClientSendMsg checks the sendmsg frames on the wire.
func TestClientSendMsg(t *testing.T) {
	fs := newFakeFS(t, "pw")
	c := startClient(t, fs.addr(), "pw")
	waitConnected(t, c)
	s := fs.nextSession(t)
	const id = "e5e15b7c-36f4-4582-963f-cedac0c319e0"
	tests := []struct {
		name string
		msg  esl.SendMsg
		want string
	}{
		{"answer", esl.Execute("answer", ""),
			"sendmsg " + id + "\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\n\n"},
		{"playback", esl.Execute("playback", "/tmp/a b.wav"),
			"sendmsg " + id + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: /tmp/a b.wav\nevent-lock: true\n\n"},
		{"hangup", esl.Hangup("USER_BUSY"),
			"sendmsg " + id + "\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n"},
		{"multi-line arg as body", esl.SendMsg{Command: "execute", App: "set", Arg: "a=1\nb=2", Loops: 2, EventUUID: "app-1"},
			"sendmsg " + id + "\ncall-command: execute\nexecute-app-name: set\ncontent-type: text/plain\nloops: 2\nEvent-UUID: app-1\ncontent-length: 7\n\na=1\nb=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.SendMsg(context.Background(), id, tc.msg); err != nil {
				t.Fatal(err)
			}
			if got := s.waitCommand(t, "sendmsg"); got != tc.want {
				t.Errorf("wire %q, want %q", got, tc.want)
			}
		})
	}
	invalid := []struct {
		name string
		call func() error
	}{
		{"newline in app", func() error { return c.SendMsg(context.Background(), id, esl.Execute("answer\nexit", "")) }},
		{"no uuid", func() error { return c.SendMsg(context.Background(), "", esl.Hangup("")) }},
		{"uuid with newline", func() error { return c.SendMsg(context.Background(), id+"\n", esl.Hangup("")) }},
		{"execute without app", func() error { return c.SendMsg(context.Background(), id, esl.SendMsg{Command: "execute"}) }},
		{"api injection", func() error { _, err := c.API(context.Background(), "status\n\nexit"); return err }},
		{"empty api", func() error { _, err := c.API(context.Background(), ""); return err }},
		{"bgapi injection", func() error { _, err := c.BGAPI(context.Background(), "status\r\nexit"); return err }},
	}
	for _, tc := range invalid {
		if err := tc.call(); !errors.Is(err, esl.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
	if got, err := c.API(context.Background(), "still"); got != "+OK still\n" || err != nil {
		t.Errorf("after invalid calls: %q, %v", got, err)
	}
	for _, cmd := range s.commands() {
		if cmd == "exit" {
			t.Errorf("an invalid call reached the wire: %q", s.commands())
		}
	}
}

// TestClientCloseStopsEverything: Close fails pending calls, cancels the
// OnConnect ctx, and leaves no goroutine behind.
func TestClientCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	fs := newFakeFS(t, "pw")
	fs.setHandle(func(s *fakeSession, raw string) bool { return strings.HasPrefix(raw, "api hang") })
	hookDone := make(chan struct{})
	// No heartbeat during the test: the fake leaves "api hang" unanswered but
	// would answer a later "api status", and replies are matched in order (as
	// FreeSWITCH sends them), so that reply would go to the hanging caller.
	c := esl.New(fs.addr(), "pw",
		esl.WithHeartbeat(time.Hour, time.Hour),
		esl.WithOnConnect(func(ctx context.Context) { <-ctx.Done(); close(hookDone) }))
	c.OnEvent(func(*esl.Event) {})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, c)
	s := fs.nextSession(t)
	pending := make(chan error, 1)
	go func() { _, err := c.API(context.Background(), "hang"); pending <- err }()
	s.waitCommand(t, "api hang")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-pending:
		if !errors.Is(err, esl.ErrClosed) {
			t.Errorf("pending call: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending call hangs after Close")
	}
	select {
	case <-hookDone:
	default:
		t.Error("Close returned before the OnConnect hook ended")
	}
	s.waitCommand(t, "exit") // said goodbye
	if _, err := c.API(context.Background(), "x"); !errors.Is(err, esl.ErrClosed) {
		t.Errorf("API after Close: %v", err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, esl.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	fs.ln.Close()
	s.nc.Close()
	testkit.Eventually(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestClientReplayInboundCall drives a recorded inbound call through the
// public Client: the subscription line must be exactly the recorded one and
// handlers see the channel's events in recorded order.
func TestClientReplayInboundCall(t *testing.T) {
	frames := loadRecording(t, "inbound-headers-b.jsonl")
	exit := slices.IndexFunc(frames, func(f recording.Frame) bool { return f.Dir == "c2s" && f.Raw == "exit\n\n" })
	if exit > 0 {
		frames = frames[:exit]
	}
	srv := startReplayServer(t, frames)
	sink := newSink()
	c := esl.New(srv.addr, "ClueCon", esl.WithEvents("ALL", "CUSTOM mod_audio_stream::connect mod_audio_stream::disconnect mod_audio_stream::error mod_audio_stream::json mod_audio_stream::play sofia::notify_refer"),
		esl.WithBackoff(time.Hour, time.Hour))
	c.OnEvent(sink.handle)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitConnected(t, c)
	ref := refEvents(t, frames)
	var wantNames []string
	var uuid string
	for _, ev := range ref {
		if u := ev.first("Unique-ID"); u != "" {
			uuid = u
			wantNames = append(wantNames, ev.name())
		}
	}
	before := 0
	for _, f := range frames {
		if f.Dir == "c2s" && strings.HasPrefix(f.Raw, "api uuid_kill") {
			break
		}
		if hdrs, _ := splitRaw(f.Raw); hdrs["Content-Type"] == "text/event-json" {
			before++
		}
	}
	early := sink.take(t, before) // events before our command
	if got, err := c.API(context.Background(), "uuid_kill "+uuid); got != "+OK\n" || err != nil {
		t.Fatalf("uuid_kill = %q, %v", got, err)
	}
	all := append(early, sink.take(t, len(ref)-before)...)
	var gotNames []string
	for _, ev := range all {
		if ev.UUID() == uuid {
			gotNames = append(gotNames, ev.Name())
		}
	}
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("channel events %v, want %v", gotNames, wantNames)
	}
	if err := waitErr(t, srv.done); err != nil {
		t.Fatalf("replay peer: %v", err)
	}
}

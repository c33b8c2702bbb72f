package esl_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

// call is the outcome of one command the driver issued.
type call struct {
	line string // first line as recorded (Job-UUID excluded)
	text string
	err  error
}

type replayResult struct {
	frames  []recording.Frame
	dialErr error
	calls   []call // one per c2s frame after auth, in order
	events  []*esl.Event
	endErr  error // why the connection ended
	subst   map[string]string
}

// replayInbound plays a recording: a replay server plays FreeSWITCH, and
// the driver issues through the package exactly the commands of the c2s
// frames (api → API, bgapi → BGAPI, exit → Exit, others → Command).
func replayInbound(t *testing.T, name string) replayResult {
	t.Helper()
	frames := loadRecording(t, name)
	res := replayResult{frames: frames}
	srv := startReplayServer(t, frames)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var mu sync.Mutex
	collect := func(ev *esl.Event) {
		mu.Lock()
		res.events = append(res.events, ev)
		mu.Unlock()
	}
	authIdx := slices.IndexFunc(frames, func(f recording.Frame) bool { return f.Dir == "c2s" })
	password, ok := strings.CutPrefix(strings.TrimSpace(frames[authIdx].Raw), "auth ")
	if !ok {
		t.Fatalf("first command is %q, want auth", frames[authIdx].Raw)
	}
	conn, err := esl.DialTestConn(ctx, srv.addr, password, collect)
	if err != nil {
		res.dialErr = err
		if perr := waitErr(t, srv.done); perr != nil {
			t.Fatalf("replay peer: %v", perr)
		}
		return res
	}
	defer conn.Close()
	waitConsumed(t, srv.consumed, authIdx)

	var wg sync.WaitGroup
	// Preallocated so slots never move while BGAPI goroutines fill them.
	res.calls = make([]call, 0, len(frames))
	for i, f := range frames {
		if f.Dir != "c2s" || i == authIdx {
			continue
		}
		line, _, _ := strings.Cut(f.Raw, "\n")
		verb, arg, _ := strings.Cut(line, " ")
		res.calls = append(res.calls, call{line: line})
		slot := &res.calls[len(res.calls)-1]
		switch verb {
		case "api":
			slot.text, slot.err = conn.API(ctx, arg)
		case "bgapi":
			wg.Add(1)
			go func() {
				defer wg.Done()
				text, err := conn.BGAPI(ctx, arg)
				mu.Lock()
				slot.text, slot.err = text, err
				mu.Unlock()
			}()
		case "exit":
			slot.err = conn.Exit(ctx)
		default:
			slot.text, slot.err = conn.Command(ctx, line)
		}
		waitConsumed(t, srv.consumed, i)
	}
	wg.Wait()
	if perr := waitErr(t, srv.done); perr != nil {
		t.Fatalf("replay peer: %v", perr)
	}
	res.subst = srv.subst
	select {
	case <-conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after the peer closed")
	}
	res.endErr = conn.Err()
	mu.Lock()
	defer mu.Unlock()
	res.events = slices.Clone(res.events)
	return res
}

// expectedReplies derives, from the recording alone, what each command
// after auth must return: the Reply-Text of its command/reply or the body
// of its api/response, and for bgapi the body of the BACKGROUND_JOB event
// carrying the recorded Job-UUID.
func expectedReplies(t *testing.T, frames []recording.Frame) []string {
	var cmds []string // raw c2s frames awaiting a reply, FIFO
	replies := map[int]string{}
	jobs := map[string]string{} // Job-UUID → body
	n := 0
	order := []int{}
	for _, f := range frames {
		hdrs, body := splitRaw(f.Raw)
		switch {
		case f.Dir == "c2s":
			cmds = append(cmds, f.Raw)
			order = append(order, n)
			n++
		case hdrs["Content-Type"] == "command/reply" || hdrs["Content-Type"] == "api/response":
			k := order[0]
			order = order[1:]
			text := hdrs["Reply-Text"]
			if hdrs["Content-Type"] == "api/response" {
				text = body
			}
			replies[k] = text
		case hdrs["Content-Type"] == "text/event-json" || hdrs["Content-Type"] == "text/event-plain":
			var ev refEvent
			if hdrs["Content-Type"] == "text/event-json" {
				ev = refDecodeJSON(t, body)
			} else {
				ev = refDecodePlain(t, body)
			}
			if ev.name() == "BACKGROUND_JOB" {
				jobs[ev.first("Job-UUID")] = ev.body
			}
		}
	}
	var out []string
	for k, raw := range cmds {
		if k == 0 {
			continue // auth
		}
		if m := jobUUIDRe.FindStringSubmatch(raw); m != nil {
			body, ok := jobs[m[1]]
			if !ok {
				t.Fatalf("no BACKGROUND_JOB for %s", m[1])
			}
			out = append(out, body)
			continue
		}
		out = append(out, replies[k])
	}
	return out
}

func hasDisconnectNotice(frames []recording.Frame) bool {
	for _, f := range frames {
		hdrs, _ := splitRaw(f.Raw)
		if f.Dir == "s2c" && hdrs["Content-Type"] == "text/disconnect-notice" && hdrs["Content-Disposition"] != "linger" {
			return true
		}
	}
	return false
}

// TestReplayRecordings replays every inbound recording and checks what a
// caller sees against the recording itself: every command is sent byte for
// byte as recorded, every reply reaches the right caller (api bodies, -ERR
// as *CommandError, bgapi results from BACKGROUND_JOB), every event arrives
// in order and decodes exactly as encoding/json or net/url decode it, and the
// connection ends as FreeSWITCH ended it.
func TestReplayRecordings(t *testing.T) {
	names, err := recording.ListRecordings()
	if err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for _, name := range names {
		if strings.HasPrefix(name, "outbound-socket-") {
			continue // the other direction: see TestOutboundReplay
		}
		replayed++
		t.Run(name, func(t *testing.T) {
			res := replayInbound(t, name)
			if res.dialErr != nil {
				if name != "esl-auth-fail.jsonl" {
					t.Fatalf("dial: %v", res.dialErr)
				}
				return
			}
			want := expectedReplies(t, res.frames)
			if len(res.calls) != len(want) {
				t.Fatalf("%d calls, recording has %d replies", len(res.calls), len(want))
			}
			for i, c := range res.calls {
				if c.line == "exit" {
					// Exit returns only an error; "+OK bye" is checked by it.
				} else if c.text != want[i] {
					t.Errorf("%s: text %q, want %q", c.line, c.text, want[i])
				}
				if wantErr := strings.HasPrefix(want[i], "-ERR"); wantErr != errors.Is(c.err, esl.ErrCommand) {
					t.Errorf("%s: err %v, want CommandError %v", c.line, c.err, wantErr)
				} else if !wantErr && c.err != nil {
					t.Errorf("%s: unexpected err %v", c.line, c.err)
				}
			}
			ref := refEvents(t, res.frames)
			if len(res.events) != len(ref) {
				t.Fatalf("%d events delivered, recording has %d", len(res.events), len(ref))
			}
			for i := range ref {
				if diff := sameEvent(res.events[i], ref[i].withSubst(res.subst)); diff != "" {
					t.Errorf("event %d (%s): %s", i, ref[i].name(), diff)
				}
			}
			if hasDisconnectNotice(res.frames) {
				if !errors.Is(res.endErr, esl.ErrDisconnected) {
					t.Errorf("end: %v, want ErrDisconnected", res.endErr)
				}
			} else if !errors.Is(res.endErr, esl.ErrClosed) || errors.Is(res.endErr, esl.ErrDisconnected) {
				t.Errorf("end: %v, want ErrClosed (EOF)", res.endErr)
			}
		})
	}
	if replayed < 30 {
		t.Fatalf("only %d recordings replayed", replayed)
	}
}

// TestReplayFacts pins facts from the recordings' README that callers rely
// on, as literal values (not derived from the recordings).
func TestReplayFacts(t *testing.T) {
	eventNamed := func(evs []*esl.Event, name string) *esl.Event {
		for _, ev := range evs {
			if ev.Name() == name || ev.Subclass() == name {
				return ev
			}
		}
		return nil
	}
	callFor := func(res replayResult, prefix string) call {
		for _, c := range res.calls {
			if strings.HasPrefix(c.line, prefix) {
				return c
			}
		}
		t.Fatalf("no call %q", prefix)
		return call{}
	}
	tests := []struct {
		recording string
		check     func(t *testing.T, res replayResult)
	}{
		{"esl-basics.jsonl", func(t *testing.T, res replayResult) {
			if c := callFor(res, "api status"); !strings.HasPrefix(c.text, "UP 0 years, 0 days, 0 hours, 1 minute") || c.err != nil {
				t.Errorf("api status = %q, %v", c.text, c.err)
			}
			c := callFor(res, "api no_such_command")
			var ce *esl.CommandError
			if !errors.As(c.err, &ce) || ce.Reply != "-ERR no_such_command Command not found!\n" || ce.Command != "api no_such_command" {
				t.Errorf("api no_such_command err = %#v", c.err)
			}
			if c := callFor(res, "bgapi status"); !strings.Contains(c.text, "FreeSWITCH (Version 1.11.1-release  64bit) is ready") || c.err != nil {
				t.Errorf("bgapi status = %q, %v (the api error before must not break it)", c.text, c.err)
			}
			if c := callFor(res, "filter Event-Name HEARTBEAT"); c.text != "+OK filter added. [Event-Name]=[HEARTBEAT]" {
				t.Errorf("filter reply %q", c.text)
			}
			if c := callFor(res, "api reloadxml"); c.text != "+OK [Success]\n" {
				t.Errorf("reloadxml %q", c.text)
			}
			if c := callFor(res, "exit"); c.err != nil {
				t.Errorf("exit: %v", c.err)
			}
			if bj := eventNamed(res.events, "BACKGROUND_JOB"); bj == nil || bj.Get("Job-Command") != "status" {
				t.Errorf("BACKGROUND_JOB event not delivered to handlers: %v", bj)
			}
		}},
		{"esl-auth-fail.jsonl", func(t *testing.T, res replayResult) {
			if !errors.Is(res.dialErr, esl.ErrAuth) {
				t.Fatalf("dial err %v, want ErrAuth", res.dialErr)
			}
			if strings.Contains(res.dialErr.Error(), "WrongPassword") {
				t.Errorf("error leaks the password: %v", res.dialErr)
			}
		}},
		{"esl-event-plain.jsonl", func(t *testing.T, res replayResult) {
			var names []string
			for _, ev := range res.events {
				names = append(names, ev.Name())
			}
			want := []string{"API", "BACKGROUND_JOB", "RELOADXML", "API", "HEARTBEAT", "RE_SCHEDULE"}
			if !slices.Equal(names, want) {
				t.Errorf("events %v, want %v", names, want)
			}
			bj := res.events[1]
			if bj.Get("FreeSWITCH-IPv6") != "fd00::2" || bj.Get("Event-Date-GMT") != "Sun, 22 Nov 2026 08:52:05 GMT" {
				t.Errorf("plain values not URL-decoded: %q %q", bj.Get("FreeSWITCH-IPv6"), bj.Get("Event-Date-GMT"))
			}
			if len(bj.Body) != 336 || !strings.HasPrefix(bj.Body, "UP 0 years") || !strings.HasSuffix(bj.Body, "8192K\n") {
				t.Errorf("plain body (%d bytes) %q", len(bj.Body), bj.Body)
			}
			if c := callFor(res, "bgapi status"); c.text != bj.Body {
				t.Errorf("bgapi returned %q", c.text)
			}
			if hb := res.events[4]; hb.Get("Up-Time") != "0 years, 0 days, 0 hours, 1 minute, 20 seconds, 66 milliseconds, 267 microseconds" {
				t.Errorf("HEARTBEAT Up-Time %q", hb.Get("Up-Time"))
			}
		}},
		{"inbound-headers-b.jsonl", func(t *testing.T, res replayResult) {
			ev := eventNamed(res.events, "CHANNEL_CREATE")
			top := "<sip:+16478491001@pbx.example.com>;reason=unconditional;counter=1"
			bottom := "<sip:+16478491000@pbx.example.com>;reason=user-busy;counter=1"
			if got := ev.Values("variable_sip_i_diversion"); !slices.Equal(got, []string{top, bottom}) {
				t.Errorf("sip_i_diversion values %q", got)
			}
			if got := ev.Get("variable_sip_i_diversion"); got != top {
				t.Errorf("Get(sip_i_diversion) = %q, want the top header", got)
			}
			if got := ev.Get("variable_sip_h_Diversion"); got != bottom {
				t.Errorf("sip_h_Diversion = %q", got)
			}
			if ev.UUID() != "98191f89-d468-48ec-8c9d-cd6fa4b0016c" {
				t.Errorf("UUID %q", ev.UUID())
			}
			if park := eventNamed(res.events, "CHANNEL_PARK"); !slices.Equal(park.Values("variable_DP_MATCH"), []string{"9228", "9228"}) {
				t.Errorf("DP_MATCH %q", park.Values("variable_DP_MATCH"))
			}
		}},
		{"refer-deflect-accepted.jsonl", func(t *testing.T, res replayResult) {
			ev := eventNamed(res.events, "sofia::notify_refer")
			if ev == nil || ev.Name() != "CUSTOM" {
				t.Fatalf("notify_refer: %v", ev)
			}
			if ev.UUID() != "72b9b303-7c94-4651-b57e-f1b16fd37eda" || ev.Body != "SIP/2.0 200 OK\r\n" || ev.Get("content-type") != "message/sipfrag" {
				t.Errorf("notify_refer UUID %q body %q", ev.UUID(), ev.Body)
			}
			if c := callFor(res, "bgapi uuid_deflect"); c.text != "+OK:SIP/2.0 200 OK\r\n\n" || c.err != nil {
				t.Errorf("bgapi uuid_deflect = %q, %v", c.text, c.err)
			}
		}},
		{"refer-deflect-declined.jsonl", func(t *testing.T, res replayResult) {
			if c := callFor(res, "bgapi uuid_deflect"); c.text != "+OK:no reply\n" || c.err != nil {
				t.Errorf("bgapi uuid_deflect = %q, %v", c.text, c.err)
			}
		}},
		{"originate-busy.jsonl", func(t *testing.T, res replayResult) {
			c := callFor(res, "bgapi originate")
			var ce *esl.CommandError
			if !errors.As(c.err, &ce) || ce.Reply != "-ERR USER_BUSY\n" || c.text != "-ERR USER_BUSY\n" {
				t.Errorf("bgapi originate = %q, %v", c.text, c.err)
			}
		}},
		{"originate.jsonl", func(t *testing.T, res replayResult) {
			c := callFor(res, "bgapi originate")
			if c.err != nil || c.text != "+OK a24ddb93-e437-4526-bc77-75c35dae7991\n" {
				t.Errorf("bgapi originate = %q, %v", c.text, c.err)
			}
		}},
		{"xml-errors.jsonl", func(t *testing.T, res replayResult) {
			c := callFor(res, "api reloadxml")
			if c.err != nil || c.text != "+OK [[error near line 3152]: unexpected closing tag </gateways>]\n" {
				t.Errorf("reloadxml = %q, %v: a +OK reply must come back as text, not error", c.text, c.err)
			}
			c = callFor(res, "api sofia profile external rescan")
			if c.err != nil || !strings.HasPrefix(c.text, "Reload XML [[error near line 3152]") {
				t.Errorf("rescan = %q, %v", c.text, c.err)
			}
		}},
		{"gateway-update-kill.jsonl", func(t *testing.T, res replayResult) {
			c := callFor(res, "api sofia profile external killgw no_such_gw")
			if !errors.Is(c.err, esl.ErrCommand) || c.text != "-ERR no such gateway.\n" {
				t.Errorf("killgw no_such_gw = %q, %v", c.text, c.err)
			}
			var subs []string
			for _, ev := range res.events {
				if ev.Name() == "CUSTOM" && ev.Get("Gateway") == "org1_good" {
					subs = append(subs, ev.Subclass()+":"+ev.Get("State"))
				}
			}
			if !slices.Contains(subs, "sofia::gateway_state:DOWN") || !slices.Contains(subs, "sofia::gateway_delete:") {
				t.Errorf("org1_good events %v", subs)
			}
			if i, j := slices.Index(subs, "sofia::gateway_state:DOWN"), slices.Index(subs, "sofia::gateway_delete:"); i > j {
				t.Errorf("gateway_delete before DOWN: %v", subs)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.recording, func(t *testing.T) {
			tc.check(t, replayInbound(t, tc.recording))
		})
	}
}

package fstest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

// rawClient speaks ESL by hand, so the simulator is checked independently
// of our client.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func newSwitch(t *testing.T, o Options) *Switch {
	t.Helper()
	if o.GenDir == "" {
		o.GenDir = t.TempDir()
	}
	s := New(o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, s *Switch) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
	if f := c.frame(); f != "Content-Type: auth/request\n\n" {
		t.Fatalf("greeting %q", f)
	}
	return c
}

// login authenticates and subscribes ("" for no subscription).
func login(t *testing.T, s *Switch, events string) *rawClient {
	t.Helper()
	c := dial(t, s)
	c.send("auth ClueCon\n\n")
	if r := c.frame(); r != "Content-Type: command/reply\nReply-Text: +OK accepted\n\n" {
		t.Fatalf("auth: %q", r)
	}
	if events != "" {
		c.send("event " + events + "\n\n")
		if r := c.reply(); !strings.Contains(r, "+OK event listener enabled") {
			t.Fatalf("event: %q", r)
		}
	}
	return c
}

// frame reads one frame: headers, blank line, Content-Length bytes.
func (c *rawClient) frame() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := readFrame(c.r)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

// reply reads frames until one that is not an event.
func (c *rawClient) reply() string {
	c.t.Helper()
	for {
		if f := c.frame(); !isEventFrame(f) {
			return f
		}
	}
}

// event reads frames until an event matching kind (Event-Name or subclass).
func (c *rawClient) event(kind string) ev {
	c.t.Helper()
	for {
		f := c.frame()
		if !isEventFrame(f) {
			continue
		}
		e, err := parseEvent(f)
		if err != nil {
			c.t.Fatal(err)
		}
		if e.kind() == kind {
			return e
		}
	}
}

// events reads the next n events of the given kinds (others skipped).
func (c *rawClient) events(n int, kinds ...string) []ev {
	c.t.Helper()
	var out []ev
	for len(out) < n {
		f := c.frame()
		if !isEventFrame(f) {
			continue
		}
		e, err := parseEvent(f)
		if err != nil {
			c.t.Fatal(err)
		}
		if slices.Contains(kinds, e.kind()) {
			out = append(out, e)
		}
	}
	return out
}

// drain returns the events that arrived before the reply to a command sent
// now: events queued before it (Emit is synchronous) come first.
func (c *rawClient) drain() []ev {
	c.t.Helper()
	c.send("api module_exists fstest_barrier\n\n")
	var out []ev
	for {
		f := c.frame()
		if !isEventFrame(f) {
			return out
		}
		e, err := parseEvent(f)
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, e)
	}
}

// quiet asserts that no frame arrives within d.
func (c *rawClient) quiet(d time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	if f, err := readFrame(c.r); err == nil {
		c.t.Fatalf("unexpected frame %q", f)
	}
}

func (c *rawClient) send(cmd string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(cmd)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) api(cmd string) string {
	c.t.Helper()
	c.send("api " + cmd + "\n\n")
	r := c.reply()
	_, body, _ := strings.Cut(r, "\n\n")
	return body
}

// recordedReply finds a c2s frame in a recording and the reply frame that
// followed it (events skipped), then the frames after that.
func recordedReply(t *testing.T, rec, cmd string) (string, []string) {
	t.Helper()
	frames, err := recording.LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if f.Dir != "c2s" || f.Raw != cmd {
			continue
		}
		var after []string
		for _, g := range frames[i+1:] {
			if g.Dir == "s2c" && !isEventFrame(g.Raw) {
				after = append(after, g.Raw)
			}
		}
		if len(after) == 0 {
			t.Fatalf("%s: no reply after %q", rec, cmd)
		}
		return after[0], after[1:]
	}
	t.Fatalf("%s: command %q not recorded", rec, cmd)
	return "", nil
}

func writeFile(t *testing.T, dir, rel, body string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRepliesMatchRecordingsExactly: replies that hold no time or number
// are byte for byte the recorded frames.
func TestRepliesMatchRecordingsExactly(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/org1_good.xml", gwGood)
	s := newSwitch(t, Options{GenDir: gen})
	c := dial(t, s)
	steps := []struct {
		rec, cmd string
		before   func()
	}{
		{"esl-basics.jsonl", "auth ClueCon\n\n", nil},
		{"esl-basics.jsonl", "event json ALL\n\n", nil},
		{"esl-basics.jsonl", "api no_such_command\n\n", nil},
		{"esl-basics.jsonl", "event json CUSTOM sofia::gateway_state sofia::gateway_add sofia::gateway_delete\n\n", nil},
		{"esl-basics.jsonl", "bgapi status\nJob-UUID: 7f4db8a2-3c55-4c1e-9a0b-5e2f6d1c0a01\n\n", nil},
		{"gateway-lifecycle.jsonl", "api sofia profile external rescan\n\n", nil},
		{"gateway-update-kill.jsonl", "api sofia profile external killgw no_such_gw\n\n", nil},
		{"gateway-update-kill.jsonl", "api sofia profile external killgw org1_good\n\n", nil},
		{"gateway-update-kill.jsonl", "api sofia profile external startgw org1_good\n\n", nil},
		{"acl.jsonl", "api acl 127.0.0.1 trunk_t1\n\n", nil}, // before reloadacl: false
		{"acl.jsonl", "api reloadacl\n\n", func() { writeFile(t, gen, "acl/trunk_t1.xml", aclFile("trunk_t1", "127.0.0.1/32")) }},
		{"acl.jsonl", "api acl 10.9.9.9 trunk_t1\n\n", nil},
		{"acl.jsonl", "api acl 127.0.0.1 no_such_list\n\n", nil},
		{"xml-errors.jsonl", "api sofia xmlstatus gateway org1/slash\n\n", nil},
		{"acl-list-missing.jsonl", "api sofia profile external restart\n\n", nil},
		{"esl-basics.jsonl", "filter Event-Name HEARTBEAT\n\n", nil},
		{"esl-basics.jsonl", "api reloadxml\n\n", nil},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		want, _ := recordedReply(t, st.rec, st.cmd)
		c.send(st.cmd)
		if got := c.reply(); got != want {
			t.Errorf("%s %q:\n got  %q\n want %q", st.rec, strings.TrimSpace(st.cmd), got, want)
		}
	}
	if r := c.api("acl 127.0.0.1 trunk_t1"); r != "true" {
		t.Errorf("after reloadacl the list allows 127.0.0.1: %q", r)
	}
	want, rest := recordedReply(t, "esl-basics.jsonl", "exit\n\n")
	c.send("exit\n\n")
	if got := c.frame(); got != want {
		t.Errorf("exit: %q want %q", got, want)
	}
	if got := c.frame(); got != rest[0] {
		t.Errorf("disconnect notice %q want %q", got, rest[0])
	}
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("socket not closed after exit: %v", err)
	}
}

func TestAuthFailureAsRecorded(t *testing.T) {
	s := newSwitch(t, Options{})
	c := dial(t, s)
	want, rest := recordedReply(t, "esl-auth-fail.jsonl", "auth WrongPassword\n\n")
	c.send("auth WrongPassword\n\n")
	if got := c.frame(); got != want {
		t.Fatalf("%q want %q", got, want)
	}
	if got := c.frame(); got != rest[0] {
		t.Fatalf("%q want %q", got, rest[0])
	}
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("socket not closed: %v", err)
	}
}

func TestBeforeAuth(t *testing.T) {
	s := newSwitch(t, Options{Password: "s3cret"})
	c := dial(t, s)
	for _, cmd := range []string{"api status", "event json ALL", "bgapi status"} {
		c.send(cmd + "\n\n")
		if r := c.frame(); r != "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n" {
			t.Errorf("%s before auth: %q", cmd, r)
		}
	}
	if cmds := s.Commands(); len(cmds) != 0 {
		t.Errorf("commands ran before auth: %q", cmds)
	}
	c.send("auth ClueCon\n\n") // not the configured password
	if r := c.frame(); !strings.Contains(r, "-ERR invalid") {
		t.Fatalf("default password accepted: %q", r)
	}
	c2 := dial(t, s)
	c2.send("auth s3cret\n\n")
	if r := c2.frame(); !strings.Contains(r, "+OK accepted") {
		t.Fatalf("configured password refused: %q", r)
	}
}

// TestBgapiJob: the reply carries the client's Job-UUID, then the job's
// API event and BACKGROUND_JOB with the recorded keys.
func TestBgapiJob(t *testing.T) {
	s := newSwitch(t, Options{})
	c := login(t, s, "json ALL")
	c.send("bgapi acl 127.0.0.1 loopback.auto\nJob-UUID: 11111111-2222-4333-8444-555555555555\n\n")
	if r := c.reply(); r != "Content-Type: command/reply\nReply-Text: +OK Job-UUID: 11111111-2222-4333-8444-555555555555\nJob-UUID: 11111111-2222-4333-8444-555555555555\n\n" {
		t.Fatalf("bgapi reply %q", r)
	}
	evs := c.events(2, "API", "BACKGROUND_JOB")
	api, job := evs[0], evs[1]
	if api.kind() != "API" || api.h["API-Command"] != "acl" || api.h["API-Command-Argument"] != "127.0.0.1 loopback.auto" {
		t.Errorf("API event %v", api.h)
	}
	if job.kind() != "BACKGROUND_JOB" || job.h["Job-UUID"] != "11111111-2222-4333-8444-555555555555" || job.h["Job-Command"] != "acl" ||
		job.h["Job-Command-Arg"] != "127.0.0.1 loopback.auto" || job.h["_body"] != "true" {
		t.Errorf("BACKGROUND_JOB %v", job.h)
	}
	wantKeys := slices.Concat(standardHeaders, []string{"Job-UUID", "Job-Command", "Job-Command-Arg", "Content-Length", "_body"})
	if !slices.Equal(job.keys, wantKeys) {
		t.Errorf("BACKGROUND_JOB keys %v", job.keys)
	}
	// Without a Job-UUID header the switch makes one up and uses it.
	c.send("bgapi status\n\n")
	r := c.reply()
	id := uuidRE.FindString(r)
	if id == "" || !strings.Contains(r, "Job-UUID: "+id+"\n") {
		t.Fatalf("generated Job-UUID: %q", r)
	}
	if job := c.event("BACKGROUND_JOB"); job.h["Job-UUID"] != id || !strings.HasPrefix(job.h["_body"], "UP ") {
		t.Fatalf("job %v", job.h)
	}
	if got := s.Commands(); !slices.Equal(got, []string{"acl 127.0.0.1 loopback.auto", "status"}) {
		t.Errorf("Commands %q", got)
	}
}

func TestAPIEventAfterReply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		noAPI bool
	}{{"emitted", false}, {"omitted", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSwitch(t, Options{NoAPIEvents: tc.noAPI})
			c := login(t, s, "json API RELOADXML")
			c.send("api reloadxml\n\napi module_exists mod_sofia\n\n")
			var kinds []string
			for len(kinds) < 5-2*boolInt(tc.noAPI) {
				f := c.frame()
				if !isEventFrame(f) {
					_, body, _ := strings.Cut(f, "\n\n")
					kinds = append(kinds, "reply:"+body)
					continue
				}
				e, _ := parseEvent(f)
				kinds = append(kinds, e.kind()+":"+e.h["API-Command"])
			}
			want := []string{"reply:+OK [Success]\n", "RELOADXML:", "API:reloadxml", "reply:true", "API:module_exists"}
			if tc.noAPI {
				want = []string{"reply:+OK [Success]\n", "RELOADXML:", "reply:true"}
			}
			if !slices.Equal(kinds, want) {
				t.Fatalf("order %q, want %q", kinds, want)
			}
			c.quiet(50 * time.Millisecond)
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSubscriptions: each connection gets what it asked for, in its format.
func TestSubscriptions(t *testing.T) {
	s := newSwitch(t, Options{})
	for _, tc := range []struct {
		sub  string
		want []string // kinds received among the injected events
	}{
		{"json ALL", []string{"HEARTBEAT", "sofia::gateway_add", "sofia::gateway_state", "RELOADXML"}},
		{"json HEARTBEAT", []string{"HEARTBEAT"}},
		{"json CUSTOM sofia::gateway_state", []string{"sofia::gateway_state"}},
		{"plain RELOADXML CUSTOM sofia::gateway_add", []string{"sofia::gateway_add", "RELOADXML"}},
		{"json CUSTOM", nil}, // CUSTOM without subclasses: none of them
		{"json heartbeat", []string{"HEARTBEAT"}},
	} {
		t.Run(tc.sub, func(t *testing.T) {
			c := login(t, s, tc.sub)
			for _, h := range []map[string]any{
				{"Event-Name": "HEARTBEAT"},
				{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_add", "Gateway": "x"},
				{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_state", "Gateway": "x"},
				{"Event-Name": "RELOADXML"},
			} {
				s.Emit(h, "")
			}
			var got []string
			for _, e := range c.drain() {
				got = append(got, e.kind())
				if e.plain != strings.HasPrefix(tc.sub, "plain") {
					t.Errorf("%s arrived in the other format", e.kind())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFilters: a filter lets through only matching events (BACKGROUND_JOB
// too, esl-basics README), case-insensitive; "-" vetoes; delete removes.
func TestFilters(t *testing.T) {
	s := newSwitch(t, Options{})
	for _, tc := range []struct {
		name    string
		filters []string
		want    []string // Gateway values received
	}{
		{"none", nil, []string{"a", "b", "c"}},
		{"one value", []string{"Gateway a"}, []string{"a"}},
		{"two values", []string{"Gateway a", "Gateway c"}, []string{"a", "c"}},
		{"case", []string{"Gateway B"}, []string{"b"}},
		{"regex", []string{"Gateway /^[bc]$/"}, []string{"b", "c"}},
		{"other header", []string{"State UP"}, []string{"b"}},
		{"veto", []string{"Event-Name CUSTOM", "Gateway -c"}, []string{"a", "b"}},
		{"deleted", []string{"Gateway a", "delete Gateway a"}, []string{"a", "b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := login(t, s, "json CUSTOM t::gw")
			for _, f := range tc.filters {
				c.send("filter " + f + "\n\n")
				if r := c.reply(); !strings.Contains(r, "+OK filter") {
					t.Fatalf("filter %s: %q", f, r)
				}
			}
			for _, g := range []map[string]any{{"Gateway": "a"}, {"Gateway": "b", "State": "up"}, {"Gateway": "c"}} {
				g["Event-Name"], g["Event-Subclass"] = "CUSTOM", "t::gw"
				s.Emit(g, "")
			}
			var got []string
			for _, e := range c.drain() {
				got = append(got, e.h["Gateway"])
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The recorded case: filter Event-Name HEARTBEAT hides the job's event.
	c := login(t, s, "json ALL")
	c.send("filter Event-Name HEARTBEAT\n\n")
	c.reply()
	c.send("bgapi status\nJob-UUID: 7f4db8a2-3c55-4c1e-9a0b-5e2f6d1c0a01\n\n")
	c.reply()
	c.quiet(100 * time.Millisecond)
}

// TestESLCommandReplies: mod_event_socket's replies to the connection
// commands, as a real switch gave them in TestConformance (e2e).
func TestESLCommandReplies(t *testing.T) {
	s := newSwitch(t, Options{})
	c := login(t, s, "")
	for _, tc := range [][2]string{
		{"filter", "-ERR command not found"}, // only "filter " with its blank is the command
		{"filter Event-Name", "-ERR invalid syntax"},
		{"filter Event-Name CHANNEL_CREATE", "+OK filter added. [Event-Name]=[CHANNEL_CREATE]"},
		{"filter add Unique-ID x", "+OK filter added. [Unique-ID]=[x]"},
		{"filter delete Event-Name CHANNEL_CREATE", "+OK filter deleted. [Event-Name][CHANNEL_CREATE]"},
		{"filter delete Unique-ID", "+OK filter deleted. [Unique-ID][]"},
		{"filter delete", "-ERR invalid syntax"},
		{"filter delete all", "+OK filter deleted. [all][]"},
		{"nixevent", "-ERR no keywords supplied"},
		{"nixevent CHANNEL_CREATE", "+OK events nixed"},
		{"noevents", "+OK no longer listening for events"},
		{"linger", "-ERR not controlling a session"},
		{"nolinger", "-ERR not controlling a session"},
	} {
		c.send(tc[0] + "\n\n")
		if r := c.reply(); r != "Content-Type: command/reply\nReply-Text: "+tc[1]+"\n\n" {
			t.Errorf("%s: %q, want %q", tc[0], r, tc[1])
		}
	}
}

// TestConcurrentConnections: each connection has its own subscriptions and
// every one sees the events in the same order.
func TestConcurrentConnections(t *testing.T) {
	s := newSwitch(t, Options{})
	const n = 6
	clients := make([]*rawClient, n)
	for i := range clients {
		sub := "json CUSTOM t::x"
		if i%2 == 1 {
			sub = "plain ALL"
		}
		clients[i] = login(t, s, sub)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				s.Emit(map[string]any{"Event-Name": "CUSTOM", "Event-Subclass": "t::x", "N": fmt.Sprint(w*100 + i)}, "")
			}
		}()
	}
	wg.Wait()
	var first []string
	for i, c := range clients {
		var seqs []string
		for _, e := range c.events(100, "t::x") {
			seqs = append(seqs, e.h["N"])
		}
		if i == 0 {
			first = seqs
		} else if !slices.Equal(seqs, first) {
			t.Fatalf("client %d saw another order", i)
		}
	}
}

func TestUnknownAndUnsupported(t *testing.T) {
	s := newSwitch(t, Options{})
	c := login(t, s, "")
	for cmd, want := range map[string]string{
		"no_such_command":                "-ERR no_such_command Command not found!\n",
		"no_such_command with args":      "-ERR no_such_command Command not found!\n",
		"sofia profile internal rescan":  "Invalid Profile [internal]",
		"sofia profile external frobble": "-ERR fstest: not simulated: sofia profile external frobble\n",
		"acl 127.0.0.1":                  "false", // a real switch: no usage text (TestConformance)
		"acl":                            "false",
		"module_exists":                  "-ERR no reply\n",
		"uuid_kill":                      "-USAGE: <uuid> [cause]\n",
		"uuid_answer":                    "-ERROR\n",
		"uuid_answer 5b0f1c2e-0d1a-4e55-8c3b-00000000c0f1": "-ERROR\n",
	} {
		if got := c.api(cmd); got != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	c.send("frobnicate\n\n")
	if r := c.reply(); r != "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n" {
		t.Errorf("unknown ESL command: %q", r)
	}
	c.send("sendmsg 11111111-2222-4333-8444-555555555555\ncall-command: execute\nexecute-app-name: park\n\n")
	// mod_event_socket: a sendmsg for no channel is refused.
	if r := c.reply(); r != "Content-Type: command/reply\nReply-Text: -ERR invalid session id [11111111-2222-4333-8444-555555555555]\n\n" {
		t.Errorf("sendmsg: %q", r)
	}
}

func TestStatusAndModules(t *testing.T) {
	s := newSwitch(t, Options{Modules: []string{"mod_sofia", "mod_event_socket"}})
	c := login(t, s, "")
	st := c.api("status")
	want, _ := recordedReply(t, "esl-basics.jsonl", "api status\n\n")
	_, wantBody, _ := strings.Cut(want, "\n\n")
	if shape(st) != shape(wantBody) {
		t.Errorf("status:\n%s\nwant the shape of\n%s", st, wantBody)
	}
	for _, tc := range []struct {
		mod  string
		set  *bool
		want string
	}{
		{"mod_sofia", nil, "true"},
		{"mod_audio_stream", nil, "false"}, // not in Options.Modules
		{"mod_audio_stream", ptr(true), "true"},
		{"mod_sofia", ptr(false), "false"},
		{"", nil, "-ERR no reply\n"}, // writes nothing (TestConformance)
	} {
		if tc.set != nil {
			s.SetModule(tc.mod, *tc.set)
		}
		if got := c.api("module_exists " + tc.mod); got != tc.want {
			t.Errorf("module_exists %s: %q, want %q", tc.mod, got, tc.want)
		}
	}
	if def := newSwitch(t, Options{}); def.exec("module_exists mod_audio_stream") != "true" {
		t.Error("mod_audio_stream is not loaded by default")
	}
}

func ptr[T any](v T) *T { return &v }

func TestUptimeText(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 years, 0 days, 0 hours, 0 minutes, 0 seconds, 0 milliseconds, 0 microseconds"},
		{68*time.Second + 972*time.Millisecond + 794*time.Microsecond, "0 years, 0 days, 0 hours, 1 minute, 8 seconds, 972 milliseconds, 794 microseconds"},
		{366*24*time.Hour + 25*time.Hour + time.Millisecond + time.Microsecond, "1 year, 2 days, 1 hour, 0 minutes, 0 seconds, 1 millisecond, 1 microsecond"},
	} {
		if got := uptimeText(tc.d); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestEmit: an injected event has the standard headers in the recorded
// order, arrays stay arrays in JSON and become ARRAY:: in plain.
func TestEmit(t *testing.T) {
	s := newSwitch(t, Options{})
	j := login(t, s, "json CHANNEL_PARK")
	p := login(t, s, "plain CHANNEL_PARK")
	s.Emit(map[string]any{"Event-Name": "CHANNEL_PARK", "Unique-ID": "u1", "Event-Calling-Line-Number": "7",
		"variable_sip_i_diversion": []string{"<sip:a@x>;reason=unconditional", "<sip:b@x>"}}, "body ü")
	f := j.frame()
	if !strings.Contains(f, `"variable_sip_i_diversion":["<sip:a@x>;reason=unconditional","<sip:b@x>"]`) ||
		!strings.Contains(f, `"Event-Calling-Line-Number":"7"`) || !strings.Contains(f, `"Content-Length":"7","_body":"body ü"`) {
		t.Errorf("json %s", f)
	}
	e, err := parseEvent(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Concat(standardHeaders, []string{"Unique-ID", "variable_sip_i_diversion", "Content-Length", "_body"}); !slices.Equal(e.keys, want) {
		t.Errorf("keys %v", e.keys)
	}
	pf := p.frame()
	if !strings.Contains(pf, "variable_sip_i_diversion: ARRAY%3A%3A%3Csip%3Aa%40x%3E%3Breason%3Dunconditional%7C%3A%3Csip%3Ab%40x%3E\n") ||
		!strings.HasSuffix(pf, "Content-Length: 7\n\nbody ü") {
		t.Errorf("plain %q", pf)
	}
	if _, err := parseEvent(pf); err != nil {
		t.Error(err)
	}
}

// TestHeartbeatAsRecorded: HEARTBEAT then RE_SCHEDULE, keys as recorded.
func TestHeartbeatAsRecorded(t *testing.T) {
	s := newSwitch(t, Options{Heartbeat: 20 * time.Millisecond})
	c := login(t, s, "json ALL")
	got := c.events(2, "HEARTBEAT", "RE_SCHEDULE")
	frames, _ := recording.LoadRecording("gateway-update-kill.jsonl")
	var want []ev
	for _, f := range frames {
		if e, err := parseEvent(f.Raw); err == nil && isEventFrame(f.Raw) && (e.kind() == "HEARTBEAT" || e.kind() == "RE_SCHEDULE") && len(want) < 2 {
			want = append(want, e)
		}
	}
	for i := range want {
		if got[i].kind() != want[i].kind() || !slices.Equal(got[i].keys, want[i].keys) {
			t.Errorf("%s keys\n got  %v\n want %v", want[i].kind(), got[i].keys, want[i].keys)
		}
	}
}

func TestFailNext(t *testing.T) {
	s := newSwitch(t, Options{})
	c := login(t, s, "json BACKGROUND_JOB")
	s.FailNext("sofia profile external rescan", "-ERR boom\n")
	s.FailNext("reloadacl", "-ERR acl\n")
	for _, tc := range []struct{ cmd, want string }{
		{"reloadxml", "+OK [Success]\n"}, // no rule
		{"sofia profile external rescan", "-ERR boom\n"},
		{"sofia profile external rescan", "Reload XML [Success]\n+OK scan complete\n"}, // used once
	} {
		if got := c.api(tc.cmd); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
	c.send("bgapi reloadacl\n\n")
	c.reply()
	if job := c.event("BACKGROUND_JOB"); job.h["_body"] != "-ERR acl\n" {
		t.Errorf("bgapi FailNext body %q", job.h["_body"])
	}
	want := []string{"reloadxml", "sofia profile external rescan", "sofia profile external rescan", "reloadacl"}
	if got := s.Commands(); !slices.Equal(got, want) {
		t.Errorf("Commands %q", got)
	}
	s.ResetCommands()
	if got := s.Commands(); len(got) != 0 {
		t.Errorf("after ResetCommands %q", got)
	}
}

// TestDropConnections: every socket closes without a notice; the switch
// keeps its state and accepts again.
func TestDropConnections(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/org1_ipauth.xml", gwIPAuth)
	s := newSwitch(t, Options{GenDir: gen})
	s.exec("sofia profile external rescan")
	a, b := login(t, s, "json ALL"), login(t, s, "")
	if !s.WaitFor(func() bool { return s.Connections() == 2 }, 2*time.Second) {
		t.Fatalf("%d connections", s.Connections())
	}
	s.DropConnections()
	for _, c := range []*rawClient{a, b} {
		c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		if rest, err := io.ReadAll(c.r); err != nil || len(rest) != 0 {
			t.Fatalf("after drop: %q, %v (want EOF, no notice)", rest, err)
		}
	}
	if !s.WaitFor(func() bool { return s.Connections() == 0 }, 2*time.Second) {
		t.Fatalf("%d connections after drop", s.Connections())
	}
	c := login(t, s, "")
	if got := c.api("sofia xmlstatus gateway org1_ipauth"); !strings.Contains(got, "<state>NOREG</state>") {
		t.Fatalf("state lost with the connections: %s", got)
	}
}

// TestRestartEmpty: same address, no gateways, no lists, new Core-UUID,
// connections dropped; rescan and reloadacl bring everything back.
func TestRestartEmpty(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/org1_good.xml", gwGood)
	writeFile(t, gen, "acl/sb_t1.xml", aclFile("sb_t1", "127.0.0.1/32"))
	writeFile(t, gen, "profile/inbound.xml", profileFile("sb_t1"))
	s := newSwitch(t, Options{GenDir: gen})
	c := login(t, s, "json ALL")
	c.api("reloadacl")
	c.api("sofia profile external rescan")
	core := c.event("RELOADXML").h["Core-UUID"]
	addr := s.Addr()
	s.Restart()
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.ReadAll(c.r)
	if s.Addr() != addr || len(s.Gateways()) != 0 || len(s.InboundACLs()) != 0 || len(s.ACL("sb_t1")) != 0 {
		t.Fatalf("after restart: addr %s, %+v, %v, %v", s.Addr(), s.Gateways(), s.InboundACLs(), s.ACL("sb_t1"))
	}
	c = login(t, s, "json ALL")
	for cmd, want := range map[string]string{
		"sofia xmlstatus gateway org1_good": "Invalid Gateway!\n",
		"acl 127.0.0.1 sb_t1":               "false",
	} {
		if got := c.api(cmd); got != want {
			t.Errorf("%s after restart: %q, want %q", cmd, got, want)
		}
	}
	c.api("reloadacl")
	if e := c.event("RELOADXML"); e.h["Core-UUID"] == core {
		t.Error("Core-UUID survived the restart")
	}
	c.api("sofia profile external rescan")
	if c.api("acl 127.0.0.1 sb_t1") != "true" || !s.WaitFor(func() bool { return gatewayByName(s, "org1_good").State == "REGED" }, 5*time.Second) {
		t.Fatalf("not back after rescan/reloadacl: %+v", s.Gateways())
	}
}

// TestCommandFraming: commands split across writes, several in one write,
// blank lines before a command and CRLF line ends all parse.
func TestCommandFraming(t *testing.T) {
	s := newSwitch(t, Options{})
	c := dial(t, s)
	c.send("\n\nauth Clue")
	time.Sleep(10 * time.Millisecond)
	c.send("Con\r\n\r\napi acl 127.0.0.1 loopback.auto\n\napi acl ::1 loopback.auto\n\n")
	if r := c.frame(); !strings.Contains(r, "+OK accepted") {
		t.Fatalf("auth: %q", r)
	}
	for range 2 {
		if r := c.reply(); !strings.HasSuffix(r, "\n\ntrue") {
			t.Fatalf("api: %q", r)
		}
	}
}

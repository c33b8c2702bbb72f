package fstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawClient speaks ESL by hand so the simulator is checked independently of our client.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dial(t *testing.T, s *Switch) *rawClient {
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

// frame reads one frame: headers, blank line, Content-Length bytes.
func (c *rawClient) frame() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	n := 0
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\n" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatal(err)
	}
	return b.String() + string(body)
}

// reply reads frames until a reply (skipping events).
func (c *rawClient) reply() string {
	for {
		f := c.frame()
		if !strings.Contains(f, "Content-Type: text/event-json") {
			return f
		}
	}
}

func (c *rawClient) send(cmd string) { c.nc.Write([]byte(cmd)) }

// recordedReply finds a c2s frame in a recording and the reply frame that followed it.
func recordedReply(t *testing.T, rec, cmd string) (string, []string) {
	frames, err := LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if f.Dir != "c2s" || f.Raw != cmd {
			continue
		}
		var after []string
		for _, g := range frames[i+1:] {
			if g.Dir != "s2c" {
				break
			}
			if strings.Contains(g.Raw, "Content-Type: text/event-json") && !strings.HasPrefix(g.Raw, "Content-Type") {
				continue
			}
			after = append(after, g.Raw)
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
	p := filepath.Join(dir, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

const goodGW = `<include><gateway name="org1_good"><param name="username" value="org1user"/><param name="password" value="pw"/>
<param name="realm" value="127.0.0.1:5070"/><param name="proxy" value="127.0.0.1:5070"/><param name="register" value="true"/>
<param name="expire-seconds" value="60"/></gateway></include>`

// TestRepliesMatchRecordings sends recorded commands and requires the exact
// recorded reply frames.
func TestRepliesMatchRecordings(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/org1_good.xml", goodGW)
	writeFile(t, gen, "acl/trunk_t1.xml", `<include><list name="trunk_t1" default="deny"><node type="allow" cidr="127.0.0.1/32"/></list></include>`)
	s := New(Options{GenDir: gen})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := dial(t, s)
	steps := []struct{ rec, cmd string }{
		{"esl-basics.jsonl", "auth ClueCon\n\n"},
		{"esl-basics.jsonl", "api no_such_command\n\n"},
		{"esl-basics.jsonl", "event json CUSTOM sofia::gateway_state sofia::gateway_add sofia::gateway_delete\n\n"},
		{"gateway-update-kill.jsonl", "api sofia profile external rescan\n\n"},
		{"gateway-update-kill.jsonl", "api sofia profile external killgw no_such_gw\n\n"},
		{"gateway-update-kill.jsonl", "api sofia profile external killgw org1_good\n\n"},
		{"acl.jsonl", "api acl 127.0.0.1 trunk_t1\n\n"}, // before reloadacl: false, as recorded
		{"acl.jsonl", "api reloadacl\n\n"},
		{"acl.jsonl", "api acl 10.9.9.9 trunk_t1\n\n"},
		{"acl.jsonl", "api acl 127.0.0.1 no_such_list\n\n"},
		{"xml-errors.jsonl", "api sofia xmlstatus gateway org1/slash\n\n"},
		{"esl-basics.jsonl", "filter Event-Name HEARTBEAT\n\n"},
		{"esl-basics.jsonl", "api reloadxml\n\n"},
	}
	for _, st := range steps {
		want, _ := recordedReply(t, st.rec, st.cmd)
		c.send(st.cmd)
		if got := c.reply(); got != want {
			t.Errorf("%s %q:\n got  %q\n want %q", st.rec, strings.TrimSpace(st.cmd), got, want)
		}
	}
	if s.api("acl 127.0.0.1 trunk_t1") != "true" {
		t.Error("after reloadacl the list allows 127.0.0.1")
	}
	want, rest := recordedReply(t, "esl-basics.jsonl", "exit\n\n")
	c.send("exit\n\n")
	if got := c.reply(); got != want {
		t.Errorf("exit: %q want %q", got, want)
	}
	if got := c.frame(); got != rest[0] {
		t.Errorf("disconnect notice %q want %q", got, rest[0])
	}
}

func TestAuthFailureAsRecorded(t *testing.T) {
	s := New(Options{GenDir: t.TempDir()})
	s.Start()
	defer s.Close()
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

func eventKeys(raw string) (map[string]any, []string) {
	_, body, _ := strings.Cut(raw, "\n\n")
	var m map[string]any
	json.Unmarshal([]byte(body), &m)
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return m, keys
}

// TestGatewayLifecycleEvents: rescan adds only new gateways, the registration
// state machine and killgw's DOWN + gateway_delete, with the recorded event keys.
func TestGatewayLifecycleEvents(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/org1_good.xml", goodGW)
	writeFile(t, gen, "gateways/bad.xml", `<include><gateway name="org1 space"><param name="register" value="false"/></gateway></include>`)
	s := New(Options{GenDir: gen, Step: 5 * time.Millisecond})
	s.Start()
	defer s.Close()
	c := dial(t, s)
	c.send("auth ClueCon\n\n")
	c.reply()
	c.send("event json CUSTOM sofia::gateway_state sofia::gateway_add sofia::gateway_delete\n\n")
	c.reply()
	c.send("api sofia profile external rescan\n\n")
	var states []string
	var add string
	for len(states) < 3 {
		f := c.frame()
		m, _ := eventKeys(f)
		switch m["Event-Subclass"] {
		case "sofia::gateway_add":
			add = f
		case "sofia::gateway_state":
			states = append(states, fmt.Sprint(m["State"]))
		}
	}
	if strings.Join(states, ",") != "TRYING,REGISTER,REGED" {
		t.Fatalf("states %v", states)
	}
	if gws := s.Gateways(); len(gws) != 1 || gws[0].Name != "org1_good" {
		t.Fatalf("invalid name not dropped: %+v", gws)
	}
	// Event keys as recorded.
	frames, _ := LoadRecording("gateway-lifecycle.jsonl")
	for _, f := range frames {
		if strings.Contains(f.Raw, `"Event-Subclass":"sofia::gateway_add"`) {
			_, want := eventKeys(f.Raw)
			_, got := eventKeys(add)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("gateway_add keys\n got  %v\n want %v", got, want)
			}
			break
		}
	}
	// An existing name is ignored by rescan: params are not updated.
	writeFile(t, gen, "gateways/org1_good.xml", strings.Replace(goodGW, `"60"`, `"120"`, 1))
	s.api("sofia profile external rescan")
	if s.Gateways()[0].Params["expire-seconds"] != "60" {
		t.Fatal("rescan updated an existing gateway")
	}
	// A malformed file: error text, nothing changes.
	writeFile(t, gen, "gateways/broken.xml", `<include><gateway name="x">`)
	if r := s.api("sofia profile external rescan"); !strings.HasPrefix(r, "Reload XML [[error") || !strings.HasSuffix(r, "+OK scan complete\n") {
		t.Fatalf("malformed reply %q", r)
	}
	os.Remove(filepath.Join(gen, "gateways", "broken.xml"))
	s.api("sofia profile external killgw org1_good")
	var seen []string
	for len(seen) < 2 {
		m, _ := eventKeys(c.frame())
		seen = append(seen, fmt.Sprint(m["Event-Subclass"], "/", m["State"]))
	}
	if seen[0] != "sofia::gateway_state/DOWN" || !strings.HasPrefix(seen[1], "sofia::gateway_delete") {
		t.Fatalf("killgw events %v", seen)
	}
	if len(s.Gateways()) != 0 {
		t.Fatal("gateway not deleted")
	}
	s.SetRegistrar("org1_good", RegistrarForbidden)
	s.api("sofia profile external rescan")
	states = nil
	for len(states) < 3 {
		m, _ := eventKeys(c.frame())
		if m["Event-Subclass"] == "sofia::gateway_state" {
			states = append(states, fmt.Sprint(m["State"], m["Status"]))
		}
	}
	if strings.Join(states, ",") != "TRYING<nil>,FAILED403,FAIL_WAIT<nil>" {
		t.Fatalf("forbidden states %v", states)
	}
}

func TestRestartEmptyAndFailNext(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/org1_good.xml", goodGW)
	s := New(Options{GenDir: gen})
	s.Start()
	defer s.Close()
	s.api("sofia profile external rescan")
	s.api("reloadacl")
	s.FailNext("sofia profile external rescan", "-ERR boom\n")
	if r := s.api("sofia profile external rescan"); r != "-ERR boom\n" {
		t.Fatalf("FailNext: %q", r)
	}
	c := dial(t, s)
	s.Restart()
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadAll(c.r); err != nil {
		t.Fatalf("connection not dropped cleanly: %v", err)
	}
	if len(s.Gateways()) != 0 || s.xmlstatus("org1_good") != "Invalid Gateway!\n" {
		t.Fatal("restart kept gateways")
	}
	dial(t, s) // same address still serves
}

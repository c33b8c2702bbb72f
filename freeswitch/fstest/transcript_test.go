package fstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

// The transcript replay: each scenario sets GenDir up as the fixtures README
// describes the recording, sends the recorded client frames over raw TCP at
// the recorded times (scaled like the simulator's delays) and compares what
// comes back with what the real switch sent:
//
//   - every reply frame (auth/request, command/reply, api/response,
//     text/disconnect-notice) with the recorded one, UUIDs and numbers
//     normalized (uptimes, lengths, line numbers in XML errors, dates);
//   - the events that follow each command synchronously (RELOADXML,
//     sofia::gateway_add), in order, command by command;
//   - per stream (each gateway, API, BACKGROUND_JOB, RELOADXML, profile),
//     the sequence of events with their state/status, and for each pair the
//     header names in order (JSON keys or plain lines).
//
// Known gaps, listed here and nowhere else:
//   - the vanilla `example.com` gateway, `internal` profile and `127.0.0.1`
//     alias of the recording switch do not exist in the simulator: their
//     rows, <gateway> block and events are cut from the recordings;
//   - calls placed by sipp are not replayed: channel events (CHANNEL_*,
//     CODEC, CALL_UPDATE, sofia::pre_register, …) are ignored and the
//     commands on those calls (uuid_kill) are not sent;
//   - `sofia status profile <p>` is not emulated (not sent);
//   - HEARTBEAT/RE_SCHEDULE follow a 20 s timer (Options.Heartbeat; checked
//     by TestHeartbeatAsRecorded, not here);
//   - gateways running before the recording started (backgroundGW) have a
//     timer phase the replay cannot know: their events are not compared.

// replayStep: a real switch's 0.5 s takes 150 ms here, so the recordings
// play at 0.3× their length and the narrowest recorded margin (0.5 s
// between a timer and the next command) is 150 ms of wall time.
const replayStep = 150 * time.Millisecond

const (
	gwGood = `<include>
  <gateway name="org1_good">
    <param name="username" value="org1user"/>
    <param name="password" value="pw-good"/>
    <param name="realm" value="127.0.0.1:5070"/>
    <param name="proxy" value="127.0.0.1:5070"/>
    <param name="register" value="true"/>
    <param name="expire-seconds" value="60"/>
    <param name="retry-seconds" value="5"/>
    <param name="ping" value="10"/>
  </gateway>
</include>
`
	gwBad = `<include>
  <gateway name="org1_bad">
    <param name="username" value="org1bad"/>
    <param name="password" value="pw-bad"/>
    <param name="realm" value="127.0.0.1:5071"/>
    <param name="proxy" value="127.0.0.1:5071"/>
    <param name="register" value="true"/>
    <param name="expire-seconds" value="60"/>
    <param name="retry-seconds" value="5"/>
  </gateway>
</include>
`
	gwIPAuth = `<include>
  <gateway name="org1_ipauth">
    <param name="proxy" value="127.0.0.1:5072"/>
    <param name="register" value="false"/>
  </gateway>
</include>
`
	gwDollar = `<include>
  <gateway name="org1_dollar_pp">
    <param name="username" value="org1dollar"/>
    <param name="password" value="pa$${domain}ss"/>
    <param name="extension" value="ex$${domain}t"/>
    <param name="proxy" value="127.0.0.1:5078"/>
    <param name="register" value="false"/>
  </gateway>
  <gateway name="org1_dollar_ent">
    <param name="username" value="org1dollar"/>
    <param name="password" value="pa&#36;{domain}ss"/>
    <param name="extension" value="ex&#36;{domain}t"/>
    <param name="proxy" value="127.0.0.1:5078"/>
    <param name="register" value="false"/>
  </gateway>
</include>
`
	gwBroken = `<include>
  <gateway name="org1_broken">
    <param name="proxy" value="127.0.0.1:5076"/>
    <param name="register" value="false"/>
</include>
`
	gwInvalidNames = `<include>
  <gateway name="org1 space">
    <param name="proxy" value="127.0.0.1:5077"/>
    <param name="register" value="false"/>
  </gateway>
  <gateway name="org1/slash">
    <param name="proxy" value="127.0.0.1:5077"/>
    <param name="register" value="false"/>
  </gateway>
</include>
`
)

func aclFile(name string, cidrs ...string) string {
	var b strings.Builder
	b.WriteString(`<include><list name="` + name + `" default="deny">`)
	for _, c := range cidrs {
		b.WriteString(`<node type="allow" cidr="` + c + `"/>`)
	}
	b.WriteString("</list></include>\n")
	return b.String()
}

func profileFile(lists ...string) string {
	var b strings.Builder
	b.WriteString("<include>\n")
	for _, l := range lists {
		b.WriteString(`  <param name="apply-inbound-acl" value="` + l + `"/>` + "\n")
	}
	b.WriteString("</include>\n")
	return b.String()
}

type hook struct {
	cmd string // the c2s frame, e.g. "api reloadxml\n\n"
	nth int    // its occurrence, from 1
	do  func(t *testing.T, gen string)
}

type scenario struct {
	rec          string
	files        map[string]string
	pre          func(t *testing.T, s *Switch)
	hooks        []hook
	skip         []string // c2s prefixes not sent
	backgroundGW []string
	check        func(t *testing.T, s *Switch)
}

// loadGateways rescans in steps (each step's files are added, then rescan)
// and waits until every named gateway reached its state.
func loadGateways(t *testing.T, s *Switch, steps [][2]string, want map[string]string) {
	t.Helper()
	gen := s.Options().GenDir
	for _, st := range steps {
		writeFile(t, gen, st[0], st[1])
		if r := s.exec("sofia profile external rescan"); r != "Reload XML [Success]\n+OK scan complete\n" {
			t.Fatalf("setup rescan: %q", r)
		}
	}
	ok := s.WaitFor(func() bool {
		for _, g := range s.Gateways() {
			if w, in := want[g.Name]; in && g.State != w {
				return false
			}
		}
		return len(s.Gateways()) == len(want)
	}, 20*time.Second)
	if !ok {
		t.Fatalf("setup: gateways %+v, want states %v", s.Gateways(), want)
	}
}

var scenarios = []scenario{
	{rec: "esl-basics.jsonl"},
	{rec: "esl-auth-fail.jsonl"},
	{rec: "esl-event-plain.jsonl"},
	{
		rec:   "gateway-lifecycle.jsonl",
		files: map[string]string{"gateways/org1_good.xml": gwGood, "gateways/org1_bad.xml": gwBad, "gateways/org1_ipauth.xml": gwIPAuth},
		pre:   func(t *testing.T, s *Switch) { s.SetRegistrar("127.0.0.1:5071", RegistrarForbidden) }, // the 403 registrar by proxy
	},
	{
		rec: "gateway-update-kill.jsonl",
		pre: func(t *testing.T, s *Switch) {
			s.SetRegistrar("org1_bad", RegistrarForbidden)
			loadGateways(t, s, [][2]string{{"gateways/org1_bad.xml", gwBad}, {"gateways/org1_ipauth.xml", gwIPAuth},
				{"gateways/org1_good.xml", gwGood}}, map[string]string{"org1_good": "REGED", "org1_ipauth": "NOREG", "org1_bad": "FAIL_WAIT"})
		},
		hooks: []hook{{"api sofia profile external rescan\n\n", 1, func(t *testing.T, gen string) {
			writeFile(t, gen, "gateways/org1_good.xml", strings.Replace(gwGood, `"60"`, `"120"`, 1))
		}}},
		backgroundGW: []string{"org1_bad"},
		check: func(t *testing.T, s *Switch) {
			g := gatewayByName(s, "org1_good")
			if g.Params["expire-seconds"] != "120" || g.State != "REGED" {
				t.Errorf("org1_good after kill and rescan: %+v", g)
			}
		},
	},
	{
		rec: "xml-errors.jsonl",
		pre: func(t *testing.T, s *Switch) {
			s.SetRegistrar("org1_bad", RegistrarForbidden)
			// A long retry keeps org1_bad in FAIL_WAIT while the status rows are read.
			loadGateways(t, s, [][2]string{{"gateways/org1_bad.xml", strings.Replace(gwBad, `"5"`, `"600"`, 1)},
				{"gateways/org1_ipauth.xml", gwIPAuth}, {"gateways/org1_good.xml", gwGood}},
				map[string]string{"org1_good": "REGED", "org1_ipauth": "NOREG", "org1_bad": "FAIL_WAIT"})
		},
		hooks: []hook{
			{"api reloadxml\n\n", 1, func(t *testing.T, gen string) { writeFile(t, gen, "gateways/org1_broken.xml", gwBroken) }},
			{"api reloadxml\n\n", 2, func(t *testing.T, gen string) { os.Remove(filepath.Join(gen, "gateways/org1_broken.xml")) }},
			{"api sofia profile external rescan\n\n", 2, func(t *testing.T, gen string) {
				writeFile(t, gen, "gateways/org1_names.xml", gwInvalidNames)
			}},
		},
		backgroundGW: []string{"org1_bad"},
		check: func(t *testing.T, s *Switch) {
			if n := len(s.Gateways()); n != 3 {
				t.Errorf("%d gateways after the broken file and the invalid names, want the 3 loaded before", n)
			}
		},
	},
	{
		rec:   "dollar-expansion.jsonl",
		files: map[string]string{"gateways/org1_dollar.xml": gwDollar},
		check: func(t *testing.T, s *Switch) {
			for name, pw := range map[string]string{"org1_dollar_pp": "pa127.0.0.1ss", "org1_dollar_ent": "pa${domain}ss"} {
				if g := gatewayByName(s, name); g.Params["password"] != pw {
					t.Errorf("%s password %q, want %q (the preprocessed config)", name, g.Params["password"], pw)
				}
			}
		},
	},
	{
		rec: "acl.jsonl",
		hooks: []hook{{"api reloadacl\n\n", 1, func(t *testing.T, gen string) {
			writeFile(t, gen, "acl/trunk_t1.xml", aclFile("trunk_t1", "127.0.0.1/32"))
		}}},
	},
	{
		rec: "acl-list-missing.jsonl",
		hooks: []hook{{"api sofia profile external rescan\n\n", 1, func(t *testing.T, gen string) {
			writeFile(t, gen, "profile/inbound.xml", profileFile("sb_missing"))
		}}},
		skip: []string{"api sofia status profile "},
		check: func(t *testing.T, s *Switch) {
			if got := s.InboundACLs(); !slices.Equal(got, []string{"sb_missing"}) || s.sofia.ACLAllows("127.0.0.1", "sb_missing") {
				t.Errorf("profile lists %v; a missing list must deny", got)
			}
			if s.ProfileRestarts() != 1 {
				t.Errorf("%d profile restarts counted, want 1", s.ProfileRestarts())
			}
		},
	},
	{
		rec: "acl-rescan-params.jsonl",
		files: map[string]string{"acl/sb_t1.xml": aclFile("sb_t1", "127.0.0.1/32"), "acl/sb_t2.xml": aclFile("sb_t2", "127.0.0.2/32", "127.0.0.4/32"),
			"profile/inbound.xml": profileFile("sb_t1")},
		pre: func(t *testing.T, s *Switch) { s.exec("sofia profile external rescan") },
		hooks: []hook{
			{"api sofia profile external rescan\n\n", 1, func(t *testing.T, gen string) {
				writeFile(t, gen, "profile/inbound.xml", profileFile("sb_t1", "sb_t2"))
			}},
			{"api reloadacl\n\n", 2, func(t *testing.T, gen string) { writeFile(t, gen, "acl/sb_t2.xml", aclFile("sb_t2", "127.0.0.4/32")) }},
		},
		skip: []string{"api uuid_kill "},
		check: func(t *testing.T, s *Switch) {
			if got := s.InboundACLs(); !slices.Equal(got, []string{"sb_t1", "sb_t2"}) {
				t.Errorf("rescan did not replace the profile's lists: %v", got)
			}
			if got := s.ACL("sb_t2"); !slices.Equal(got, []string{"127.0.0.4/32"}) {
				t.Errorf("sb_t2 after reloadacl: %v", got)
			}
		},
	},
}

func gatewayByName(s *Switch, name string) GatewayInfo {
	for _, g := range s.Gateways() {
		if g.Name == name {
			return g
		}
	}
	return GatewayInfo{}
}

func TestTranscriptReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("replays last several seconds")
	}
	for _, sc := range scenarios {
		t.Run(strings.TrimSuffix(sc.rec, ".jsonl"), func(t *testing.T) {
			t.Parallel()
			replay(t, sc)
		})
	}
}

func readFrame(r *bufio.Reader) (string, error) {
	var b strings.Builder
	n := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if b.Len() > 0 || line != "" {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		b.WriteString(line)
		if line == "\n" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return "", err
			}
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	return b.String() + string(body), nil
}

func replay(t *testing.T, sc scenario) {
	frames, err := recording.LoadRecording(sc.rec)
	if err != nil {
		t.Fatal(err)
	}
	gen := t.TempDir()
	for p, body := range sc.files {
		writeFile(t, gen, p, body)
	}
	s := New(Options{GenDir: gen, Step: replayStep})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sc.pre != nil {
		sc.pre(t, s)
	}
	scale := float64(replayStep) / float64(500*time.Millisecond)
	at := func(ms int64) time.Duration { return time.Duration(float64(ms) * scale * float64(time.Millisecond)) }

	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	got := make(chan []string, 1)
	var replies atomic.Int64 // frames received that answer a command
	go func() {
		r := bufio.NewReader(nc)
		var out []string
		for {
			raw, err := readFrame(r)
			if err != nil {
				got <- out
				return
			}
			out = append(out, raw)
			if !isEventFrame(raw) && !strings.HasPrefix(raw, "Content-Type: auth/request") {
				replies.Add(1)
			}
		}
	}()
	seen := map[string]int{}
	var sent []int // indices (among c2s) of the commands sent
	// A hook changes the files the next command reads: it runs once every
	// command sent so far has been answered, or a loaded machine (-race,
	// packages in parallel) lets a hook undo a file before the command
	// meant to read it is handled.
	answered := func() {
		for deadline := time.Now().Add(5 * time.Second); replies.Load() < int64(len(sent)) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	i := -1
	for _, f := range frames {
		if f.Dir != "c2s" {
			continue
		}
		i++
		time.Sleep(time.Until(start.Add(at(f.TMs))))
		seen[f.Raw]++
		for _, h := range sc.hooks {
			if h.cmd == f.Raw && h.nth == seen[f.Raw] {
				answered()
				h.do(t, gen)
			}
		}
		if skipped(sc, f.Raw) {
			continue
		}
		sent = append(sent, i)
		if _, err := nc.Write([]byte(f.Raw)); err != nil {
			t.Fatalf("send %q: %v", f.Raw, err)
		}
	}
	// Sessions that end with exit end with EOF; the others at the recording's
	// end, with a second of slack: on a loaded machine (-race, packages in
	// parallel) the last job's events came after a tighter deadline.
	nc.SetReadDeadline(start.Add(at(frames[len(frames)-1].TMs) + 4*replayStep + time.Second))
	ours := <-got
	for _, d := range compareTranscript(sc, frames, ours, sent) {
		t.Error(d)
	}
	if sc.check != nil {
		sc.check(t, s)
	}
}

func skipped(sc scenario, raw string) bool {
	for _, p := range sc.skip {
		if strings.HasPrefix(raw, p) {
			return true
		}
	}
	return false
}

func isEventFrame(raw string) bool {
	return strings.Contains(raw, "Content-Type: text/event-json\n") || strings.Contains(raw, "Content-Type: text/event-plain\n")
}

func isReplyFrame(raw string) bool {
	return !isEventFrame(raw) && !strings.HasPrefix(raw, "Content-Type: auth/request") &&
		!strings.HasPrefix(raw, "Content-Type: text/disconnect-notice")
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	// The recording switch's vanilla config (known gap, see above).
	vanillaRowRE = regexp.MustCompile(`(?m)^ +(127\.0\.0\.1\t  alias|internal\tprofile|external::example\.com\tgateway)\t.*\n`)
	vanillaGWRE  = regexp.MustCompile(`(?s)  <gateway>\n    <name>example\.com</name>.*?  </gateway>\n`)
)

// shape hides what legitimately differs between runs (recording.Normalize), after
// cutting the recording switch's vanilla configuration.
func shape(s string) string {
	s = vanillaRowRE.ReplaceAllString(s, "")
	s = vanillaGWRE.ReplaceAllString(s, "")
	s = strings.Replace(s, "2 profiles 1 alias\n", "1 profile 0 aliases\n", 1)
	return recording.Normalize(s)
}

// ev is a parsed event frame.
type ev struct {
	keys  []string
	h     map[string]string
	after int  // index (among c2s) of the command whose reply it follows
	plain bool // text/event-plain
}

func (e ev) kind() string {
	if e.h["Event-Name"] == "CUSTOM" {
		return e.h["Event-Subclass"]
	}
	return e.h["Event-Name"]
}

func parseEvent(raw string) (ev, error) {
	head, body, _ := strings.Cut(raw, "\n\n")
	e := ev{h: map[string]string{}, after: -1}
	if strings.Contains(head, "text/event-plain") {
		e.plain = true
		lines, pbody, _ := strings.Cut(body, "\n\n")
		for _, l := range strings.Split(lines, "\n") {
			k, v, ok := strings.Cut(l, ": ")
			if !ok {
				return e, fmt.Errorf("plain line %q", l)
			}
			dv, err := url.PathUnescape(v)
			if err != nil {
				return e, err
			}
			e.keys = append(e.keys, k)
			e.h[k] = dv
		}
		if cl, ok := e.h["Content-Length"]; ok {
			if n, _ := strconv.Atoi(cl); n != len(pbody) {
				return e, fmt.Errorf("inner Content-Length %s for %d bytes", cl, len(pbody))
			}
		}
		return e, nil
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return e, err
	}
	for dec.More() {
		tk, err := dec.Token()
		if err != nil {
			return e, err
		}
		k, _ := tk.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return e, err
		}
		e.keys = append(e.keys, k)
		e.h[k] = fmt.Sprint(v)
	}
	if b, ok := e.h["_body"]; ok && e.h["Content-Length"] != strconv.Itoa(len(b)) {
		return e, fmt.Errorf("Content-Length %s for a %d-byte _body", e.h["Content-Length"], len(b))
	}
	return e, nil
}

// emulated are the event kinds the simulator produces in these recordings,
// by the stream they belong to.
var emulated = map[string]string{
	"API": "api", "BACKGROUND_JOB": "job", "RELOADXML": "reloadxml",
	"PUBLISH": "profile", "UNPUBLISH": "profile", "sofia::profile_start": "profile",
	"sofia::gateway_add": "gw", "sofia::gateway_state": "gw", "sofia::gateway_delete": "gw",
}

func (e ev) stream() string {
	s := emulated[e.kind()]
	if s == "gw" {
		s += "/" + e.h["Gateway"]
	}
	return s
}

// item is what must match between paired events of a stream.
func (e ev) item() string {
	return strings.Join([]string{e.kind(), e.h["State"], e.h["Status"], e.h["Phrase"], e.h["API-Command"],
		e.h["API-Command-Argument"], e.h["Job-Command"], e.h["Job-Command-Arg"]}, "|")
}

func (sc scenario) relevant(e ev) bool {
	if _, ok := emulated[e.kind()]; !ok {
		return false
	}
	gw := e.h["Gateway"]
	if gw == "example.com" || slices.Contains(sc.backgroundGW, gw) {
		return false
	}
	if e.kind() == "API" {
		line := "api " + strings.TrimSpace(e.h["API-Command"]+" "+e.h["API-Command-Argument"]) + "\n\n"
		if skipped(sc, line) {
			return false
		}
	}
	return true
}

// splitSession turns a frame list into replies and relevant events, each
// event tagged with the command whose reply it follows; cmds maps the n-th
// reply to its command index.
func (sc scenario) splitSession(raws []string, cmds []int) (replies []string, events []ev, errs []string) {
	after := -1
	n := 0
	for _, raw := range raws {
		if !isEventFrame(raw) {
			if isReplyFrame(raw) {
				if n < len(cmds) {
					after = cmds[n]
				}
				n++
			}
			replies = append(replies, raw)
			continue
		}
		e, err := parseEvent(raw)
		if err != nil {
			errs = append(errs, fmt.Sprintf("event %q: %v", raw, err))
			continue
		}
		e.after = after
		if sc.relevant(e) {
			events = append(events, e)
		}
	}
	return replies, events, errs
}

// compareTranscript lists every difference between the recorded session
// and ours (sent: the indices of the commands we sent).
func compareTranscript(sc scenario, frames []recording.Frame, ours []string, sent []int) []string {
	var recorded []string
	var all []int
	i := -1
	for _, f := range frames {
		if f.Dir == "c2s" {
			i++
			all = append(all, i)
			continue
		}
		recorded = append(recorded, f.Raw)
	}
	wantAll, want, diffs := sc.splitSession(recorded, all)
	got1, got, errs := sc.splitSession(ours, sent)
	diffs = append(diffs, errs...)

	// Replies: the recorded ones minus those of the commands not sent.
	var wantReplies []string
	n := 0
	for _, r := range wantAll {
		if isReplyFrame(r) {
			n++
			if n <= len(all) && !slices.Contains(sent, all[n-1]) {
				continue
			}
		}
		wantReplies = append(wantReplies, r)
	}
	if n != len(all) {
		diffs = append(diffs, fmt.Sprintf("%s: %d replies for %d commands", sc.rec, n, len(all)))
	}
	for k := 0; k < max(len(wantReplies), len(got1)); k++ {
		var w, g string
		if k < len(wantReplies) {
			w = wantReplies[k]
		}
		if k < len(got1) {
			g = got1[k]
		}
		if shape(w) != shape(g) {
			diffs = append(diffs, fmt.Sprintf("reply %d:\n got  %q\n want %q", k, g, w))
		}
	}

	// The synchronous events after each command, in order.
	window := func(evs []ev) map[int][]string {
		m := map[int][]string{}
		for _, e := range evs {
			if k := e.kind(); k == "RELOADXML" || k == "sofia::gateway_add" {
				m[e.after] = append(m[e.after], k+"/"+e.h["Gateway"])
			}
		}
		return m
	}
	ww, gw := window(want), window(got)
	for c := -1; c < len(all); c++ {
		if !slices.Equal(ww[c], gw[c]) {
			diffs = append(diffs, fmt.Sprintf("events after command %d: got %v, want %v", c, gw[c], ww[c]))
		}
	}

	// Each stream in order, with the header names of each event.
	byStream := func(evs []ev) map[string][]ev {
		m := map[string][]ev{}
		for _, e := range evs {
			m[e.stream()] = append(m[e.stream()], e)
		}
		return m
	}
	ws, gs := byStream(want), byStream(got)
	names := map[string]bool{}
	for k := range ws {
		names[k] = true
	}
	for k := range gs {
		names[k] = true
	}
	for _, name := range sortedKeys(names) {
		w, g := ws[name], gs[name]
		if len(w) != len(g) {
			diffs = append(diffs, fmt.Sprintf("stream %s: got %d events %v, want %d %v", name, len(g), items(g), len(w), items(w)))
			continue
		}
		for k := range w {
			if w[k].item() != g[k].item() {
				diffs = append(diffs, fmt.Sprintf("stream %s event %d: got %s, want %s", name, k, g[k].item(), w[k].item()))
			}
			if !slices.Equal(w[k].keys, g[k].keys) {
				diffs = append(diffs, fmt.Sprintf("stream %s event %d (%s) keys:\n got  %v\n want %v", name, k, w[k].item(), g[k].keys, w[k].keys))
			}
		}
	}
	return diffs
}

func items(evs []ev) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.item()
	}
	return out
}

// TestReplayComparisonCatchesDifferences: the comparison reports a changed
// reply, a missing event, a changed key order and a misplaced event, and
// the recording matches itself (the replay cannot pass vacuously).
func TestReplayComparisonCatchesDifferences(t *testing.T) {
	frames, err := recording.LoadRecording("gateway-update-kill.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	sc := scenario{rec: "gateway-update-kill.jsonl", backgroundGW: []string{"org1_bad"}}
	var raws []string
	var sent []int
	i := -1
	for _, f := range frames {
		if f.Dir == "c2s" {
			i++
			sent = append(sent, i)
			continue
		}
		raws = append(raws, f.Raw)
	}
	if d := compareTranscript(sc, frames, raws, sent); len(d) != 0 {
		t.Fatalf("the recording does not match itself: %v", d)
	}
	replace := func(old, new string) func([]string) []string {
		return func(w []string) []string {
			for i := range w {
				w[i] = strings.Replace(w[i], old, new, 1)
			}
			return w
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func([]string) []string
	}{
		{"reply text", replace("+OK gateway marked for deletion.", "+OK gateway deleted.      ")},
		{"event dropped", func(w []string) []string {
			return slices.DeleteFunc(w, func(f string) bool { return strings.Contains(f, `"sofia::gateway_delete"`) })
		}},
		{"key order", replace(`"Gateway":"org1_good","profile-name":"external"`, `"profile-name":"external","Gateway":"org1_good"`)},
		{"state", replace(`"State":"REGED"`, `"State":"FAILED"`)},
		{"reloadxml missing", func(w []string) []string {
			return slices.DeleteFunc(w, func(f string) bool { return strings.Contains(f, `"Event-Name":"RELOADXML"`) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := compareTranscript(sc, frames, tc.mutate(slices.Clone(raws)), sent); len(d) == 0 {
				t.Fatal("the difference went unnoticed")
			}
		})
	}
}

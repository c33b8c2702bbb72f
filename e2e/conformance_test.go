package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// TestConformance runs the same scripted scenarios against the run's real
// FreeSWITCH and against a fresh freeswitch/fstest simulator, both over
// our ESL client (the ESL basics over a raw socket, to see every frame),
// with the same commands, and compares what came back: the replies, and
// per stream (each call, each gateway, the API and BACKGROUND_JOB events
// of our commands, RELOADXML) the sequence of events with the headers that
// matter, normalised as the fixture tests do (recording.Normalize). A
// divergence fails the test and names the event: the simulator earns its
// place by agreeing with the real switch, and where they differ the real
// switch wins (fix freeswitch/fstest). What the simulator does not claim
// to model (RTCP, presence, CALL_UPDATE of inbound calls…) is
// left out of the comparison and listed with t.Log; a difference that
// cannot be fixed yet goes into knownDivergences, printed, never hidden.
//
// The real side works on the shared switch without restarting it, with
// gateway, ACL and profile files named conf_* (sipbridge's takeover only
// deletes gateways starting with "o"), and removes them again.
func TestConformance(t *testing.T) {
	sw := sharedSwitch(t)
	began := time.Now()
	t.Cleanup(func() { cleanConformance(t, sw) })
	for _, sc := range conformanceScenarios {
		t.Run(sc.name, func(t *testing.T) { runConformance(t, sw, sc) })
	}
	for _, k := range knownDivergences {
		t.Logf("known divergence %q:\n real: %s\n sim:  %s\n why:  %s", k.name, k.real, k.sim, k.why)
	}
	t.Logf("conformance: %d scenarios in %v", len(conformanceScenarios), time.Since(began).Round(time.Millisecond))
}

// confScenario is one script, run on both sides.
type confScenario struct {
	name string
	run  func(d *side)
}

var conformanceScenarios = []confScenario{
	{"esl_basics", scESLBasics},
	{"gateway_lifecycle", scGatewayLifecycle},
	{"inbound_acl", scInboundACL},
	{"inbound_call", scInboundCall},
	{"pipe_playback", scPipePlayback},
	{"originate_busy", scOriginateBusy},
	{"originate_answer", scOriginateAnswer},
}

// divergence is a known difference between the real switch and the
// simulator that the comparison tolerates, and prints: ignore removes the
// items it concerns from a stream, on both sides.
type divergence struct {
	name, real, sim, why string
	ignore               func(items []string) []string
}

var knownDivergences = []divergence{{
	name: "CHANNEL_HANGUP of a call refused before the answer",
	real: "for a call the ACL refuses (CALL_REJECTED), CHANNEL_HANGUP comes right after the first CHANNEL_STATE (its state " +
		"CS_NEW) in most runs, and in some after CHANNEL_HANGUP_COMPLETE (its state CS_REPORTING)",
	sim: "always right after the first CHANNEL_STATE",
	why: "two threads fire these events (the one that refuses the call, and the session's state machine), so their " +
		"order is not fixed; sipbridge does not act on a call that never reached its park",
	ignore: func(items []string) []string {
		var out []string
		for _, it := range items {
			if !strings.HasPrefix(it, "CHANNEL_HANGUP ") || !strings.Contains(it, " Hangup-Cause=CALL_REJECTED") {
				out = append(out, it)
			}
		}
		return out
	},
}, {
	name: "PRIVATE_COMMAND after a playback that played out",
	real: "after PLAYBACK_STOP (done) and CHANNEL_EXECUTE_COMPLETE of a uuid_broadcast, the PRIVATE_COMMAND comes at once " +
		"or never (not within 8 s, and no Event-Sequence number is missing for it): never after a named pipe's playback " +
		"in any run, about one run in three after a WAV's; after a break or a missing file it always came",
	sim: "fires it every time, as the recordings show it (audio-stream-*)",
	why: "not understood from the FreeSWITCH source (switch_ivr_parse_next_event fires it unconditionally); sipbridge " +
		"never reads PRIVATE_COMMAND",
	ignore: func(items []string) []string {
		var out []string
		done := false
		for _, it := range items {
			switch {
			case strings.HasPrefix(it, "PLAYBACK_STOP "):
				done = strings.Contains(it, " Playback-Status=done")
			case strings.HasPrefix(it, "PRIVATE_COMMAND ") && done:
				done = false
				continue
			case strings.HasPrefix(it, "PRIVATE_COMMAND "):
			case strings.HasPrefix(it, "CHANNEL_EXECUTE_COMPLETE "):
			default:
				done = false
			}
			out = append(out, it)
		}
		return out
	},
}}

// simStep: the simulator runs its gateway timers 5× faster than a real
// switch (the order of events is what is compared, not their times).
const simStep = 100 * time.Millisecond

// runConformance runs the scenario on both sides at once (parallel
// subtests), then compares them.
func runConformance(t *testing.T, sw *Switch, sc confScenario) {
	var sides [2]*side
	t.Run("run", func(t *testing.T) {
		for i, name := range []string{"real", "sim"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				d := newSide(t, name, sw)
				sides[i] = d
				sc.run(d)
				d.settle()
			})
		}
	})
	if t.Failed() {
		return // a side could not finish the script: nothing to compare
	}
	compareSides(t, sc.name, sides[0], sides[1])
}

// side is one switch running a script: the real one or the simulator.
type side struct {
	t    *testing.T
	name string         // real | sim
	sw   *Switch        // the real switch (real side)
	sim  *fstest.Switch // the simulator (sim side)
	addr string         // ESL address
	pass string
	cl   *esl.Client
	gen  string // the generated-files folder this switch reads
	tmp  string // this side's own files (audio, pipes)
	uacs []*Sipp

	mu      sync.Mutex
	evs     []*esl.Event
	replies []confReply
	sent    map[string]bool // command lines sent (their API and BACKGROUND_JOB events are compared)
	raw     []string        // raw-socket items (esl_basics): replies and events as read
}

type confReply struct{ cmd, text string }

func newSide(t *testing.T, name string, sw *Switch) *side {
	d := &side{t: t, name: name, tmp: t.TempDir(), sent: map[string]bool{}}
	if name == "sim" {
		d.gen = t.TempDir()
		d.sim = fstest.New(fstest.Options{GenDir: d.gen, Step: simStep, TempDir: t.TempDir()})
		if err := d.sim.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.sim.Close() })
		d.addr, d.pass = d.sim.Addr(), d.sim.Options().Password
	} else {
		d.sw, d.gen = sw, sw.GenDir
		d.addr, d.pass = sw.ESLAddr, sw.ESLPassword
		t.Cleanup(func() { cleanConformance(t, sw) })
	}
	// One worker: every event in the order the switch sent it.
	d.cl = esl.New(d.addr, d.pass, esl.WithEvents("ALL"), esl.WithWorkers(1), esl.WithBackoff(50*time.Millisecond, 200*time.Millisecond))
	d.cl.OnEvent(func(e *esl.Event) {
		d.mu.Lock()
		d.evs = append(d.evs, e)
		d.mu.Unlock()
	})
	if err := d.cl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.cl.WaitConnected(ctx); err != nil {
		t.Fatalf("%s: ESL: %v", name, err)
	}
	return d
}

// api runs an api command; its reply is compared (a -ERR reply too).
func (d *side) api(cmd string) string {
	d.t.Helper()
	return d.command("api", cmd, d.cl.API)
}

// bgapi runs a bgapi command; the BACKGROUND_JOB body is compared.
func (d *side) bgapi(cmd string) string {
	d.t.Helper()
	return d.command("bgapi", cmd, d.cl.BGAPI)
}

func (d *side) command(verb, cmd string, f func(context.Context, string) (string, error)) string {
	d.t.Helper()
	d.mu.Lock()
	d.sent[cmd] = true
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := f(ctx, cmd)
	if err != nil && !errors.Is(err, esl.ErrCommand) {
		d.t.Fatalf("%s: %s %s: %v", d.name, verb, cmd, err)
	}
	d.mu.Lock()
	d.replies = append(d.replies, confReply{verb + " " + d.norm(cmd), d.norm(r)})
	d.mu.Unlock()
	return r
}

// showChannel compares the call's row of `show channels as json` (what
// sipbridge's adoption reads): its columns, direction, callstate and
// application; the rest (times, addresses, the host) differs by nature.
// The real switch lists a channel, and its answer, only once its core
// database has them (written behind the channel's events, 20-250 ms
// here): the answered row is waited for, and the wait logged.
func (d *side) showChannel(id string) {
	d.t.Helper()
	began := time.Now()
	row := "no row within 5 s"
	for !strings.Contains(row, "callstate ACTIVE") && time.Since(began) < 5*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		r, err := d.cl.API(ctx, "show channels as json")
		cancel()
		if err != nil {
			d.t.Fatalf("%s: show channels as json: %v", d.name, err)
		}
		var out struct {
			Rows []map[string]string `json:"rows"`
		}
		if err := json.Unmarshal([]byte(r), &out); err != nil {
			d.t.Fatalf("%s: show channels as json: %v in %q", d.name, err, r)
		}
		for _, c := range out.Rows {
			if c["uuid"] == id {
				row = fmt.Sprintf("columns %s; direction %s callstate %s application %s", strings.Join(slices.Sorted(maps.Keys(c)), ","),
					c["direction"], c["callstate"], c["application"])
			}
		}
		if !strings.Contains(row, "callstate ACTIVE") {
			time.Sleep(20 * time.Millisecond)
		}
	}
	d.t.Logf("%s: the answered call listed by show channels %v after the answer", d.name, time.Since(began).Round(time.Millisecond))
	d.mu.Lock()
	d.replies = append(d.replies, confReply{"api show channels as json (the call's row)", row})
	d.mu.Unlock()
}

// norm is the fixture tests' normalisation after this side's own paths.
func (d *side) norm(s string) string { return recording.Normalize(d.paths(s)) }

// paths replaces this side's folders with placeholders.
func (d *side) paths(s string) string {
	return strings.NewReplacer(d.tmp, "<tmp>", d.gen, "<gen>").Replace(s)
}

// mark is the number of events seen so far (for waitFor).
func (d *side) mark() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.evs)
}

// waitFor waits for an event matching pred among those since mark.
func (d *side) waitFor(mark int, what string, within time.Duration, pred func(*esl.Event) bool) *esl.Event {
	d.t.Helper()
	var found *esl.Event
	testkit.Eventually(d.t, within, d.name+": "+what, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, e := range d.evs[min(mark, len(d.evs)):] {
			if pred(e) {
				found = e
				return true
			}
		}
		return false
	}, func() string { return "events since the mark:\n" + strings.Join(d.items(mark), "\n") })
	return found
}

// settle waits until no event has come for 300 ms (at most 3 s), so the
// trailing events of the script (CS_DESTROY after DESTROY) are in.
func (d *side) settle() {
	deadline := time.Now().Add(3 * time.Second)
	n, quiet := d.mark(), time.Now()
	for time.Now().Before(deadline) && time.Since(quiet) < 300*time.Millisecond {
		time.Sleep(20 * time.Millisecond)
		if m := d.mark(); m != n {
			n, quiet = m, time.Now()
		}
	}
}

// is matches an event by Event-Name or Event-Subclass and header values
// (name, value pairs).
func is(kind string, kv ...string) func(*esl.Event) bool {
	return func(e *esl.Event) bool {
		if e.Name() != kind && e.Subclass() != kind {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if e.Get(kv[i]) != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// writeGen writes a file into the switch's generated-files folder.
func (d *side) writeGen(rel string, body []byte) {
	d.t.Helper()
	p := filepath.Join(d.gen, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(p, body, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *side) removeGen(rels ...string) {
	d.t.Helper()
	for _, rel := range rels {
		if err := os.Remove(filepath.Join(d.gen, rel)); err != nil {
			d.t.Fatal(err)
		}
	}
}

// registrar is where a registration gateway sends REGISTER, answering
// reply ("200 OK", "403 Forbidden"): a sipp registrar on the real side,
// the simulator's registrar outcome for gw on the other.
func (d *side) registrar(gw, reply string) string {
	d.t.Helper()
	if d.sim != nil {
		r := fstest.RegistrarOK
		if !strings.HasPrefix(reply, "200") {
			r = fstest.RegistrarForbidden
		}
		d.sim.SetRegistrar(gw, r)
		return "127.0.0.1:5999"
	}
	reg := StartSipp(d.t, SippOptions{Scenario: "registrar.xml", Data: map[string]any{"Reply": reply}, Timeout: 60 * time.Second})
	return fmt.Sprintf("127.0.0.1:%d", reg.Port)
}

// farEnd is the far end of an outbound gateway: a sipp UAS running
// scenario (uas-busy.xml: 486; conf-uas-answer.xml: 180, 200, BYE), or the
// simulator's dial outcome o for gw.
func (d *side) farEnd(gw, scenario string, o fstest.DialOutcome) string {
	d.t.Helper()
	if d.sim != nil {
		d.sim.SetDialOutcome(gw, o)
		return "127.0.0.1:5998"
	}
	uas := StartSipp(d.t, SippOptions{Scenario: scenario, Timeout: 60 * time.Second})
	return fmt.Sprintf("127.0.0.1:%d", uas.Port)
}

// inboundCall places a call from ip to the switch and returns its uuid
// once parked: sipp's uac-wait-bye on the real side (up until the switch
// hangs up), fstest's Call on the simulator.
func (d *side) inboundCall(ip, from, to, acl string) string {
	d.t.Helper()
	m := d.mark()
	if d.sim != nil {
		if _, err := d.sim.Call(fstest.InboundCall{FromUser: from, RequestUser: to, NetworkIP: ip, ACLAuthedBy: acl}); err != nil {
			d.t.Fatal(err)
		}
	} else {
		// The caller streams a 440 Hz tone once answered, as the
		// recordings' caller did (and the simulator's default caller does).
		caller := tone.ULawTone(440, 1000, 8000)
		rtp := filepath.Join(d.tmp, "caller-440.ulaw")
		if err := os.WriteFile(rtp, caller, 0o644); err != nil {
			d.t.Fatal(err)
		}
		d.uacs = append(d.uacs, StartSipp(d.t, SippOptions{Scenario: "uac-wait-bye.xml", IP: ip, Remote: d.sw.remote(), Calls: 1,
			Timeout: 30 * time.Second, Data: call{From: from, To: to, RTP: rtp}}))
	}
	return d.waitFor(m, "CHANNEL_PARK of the call from "+from, 10*time.Second, is("CHANNEL_PARK", "Caller-Caller-ID-Number", from)).UUID()
}

// invite sends an INVITE from ip that ends with the SIP answer code (403:
// the profile refuses it; 480: let in, parked, killed unanswered): sipp's
// uac-refused on the real side, fstest's Invite (the profile's ACL lists)
// on the simulator. It returns the channel's uuid once parked, or once
// destroyed when refused.
func (d *side) invite(ip, from, to string, code int) string {
	d.t.Helper()
	m := d.mark()
	if d.sim != nil {
		_, err := d.sim.Invite(fstest.InboundCall{FromUser: from, RequestUser: to, NetworkIP: ip})
		if (code == 403) != errors.Is(err, fstest.ErrCallRejected) {
			d.t.Fatalf("sim: Invite from %s: %v, want the answer %d", ip, err, code)
		}
	} else {
		d.uacs = append(d.uacs, StartSipp(d.t, SippOptions{Scenario: "uac-refused.xml", IP: ip, Remote: d.sw.remote(), Calls: 1,
			Timeout: 15 * time.Second, Data: call{From: from, To: to, Code: code}}))
	}
	if code == 403 {
		return d.waitFor(m, "the refused INVITE's CHANNEL_DESTROY", 10*time.Second, is("CHANNEL_DESTROY", "Hangup-Cause", "CALL_REJECTED")).UUID()
	}
	return d.waitFor(m, "CHANNEL_PARK of the call from "+from, 10*time.Second, is("CHANNEL_PARK", "Caller-Caller-ID-Number", from)).UUID()
}

// uacsDone checks that every sipp caller of the real side ended well (the
// BYE of uuid_kill answered).
func (d *side) uacsDone() {
	d.t.Helper()
	for _, u := range d.uacs {
		if code := u.Wait(d.t, 10*time.Second); code != 0 {
			d.t.Fatalf("sipp caller exited %d (%s): %s", code, sippExit(code), u.Report())
		}
	}
}

// allowCaller lets ip in as sipbridge does for an IP-auth trunk: an ACL
// list and the profile's apply-inbound-acl, loaded by reloadacl and rescan.
// It returns the list name; dropCaller undoes it.
func (d *side) allowCaller(list, ip string) {
	d.t.Helper()
	acl, err := xmlgen.RenderACLList(list, []string{ip + "/32"})
	if err != nil {
		d.t.Fatal(err)
	}
	params, err := xmlgen.RenderInboundACLParams([]string{list})
	if err != nil {
		d.t.Fatal(err)
	}
	d.writeGen("acl/"+list+".xml", acl)
	d.writeGen("profile/"+list+".xml", params)
	d.api("reloadacl")
	d.api("sofia profile external rescan")
}

func (d *side) dropCaller(list string) {
	d.t.Helper()
	d.removeGen("acl/"+list+".xml", "profile/"+list+".xml")
	d.api("reloadacl")
	d.api("sofia profile external rescan")
}

// writeWAV writes ms milliseconds of a 1 kHz tone as 8 kHz 16-bit mono WAV.
func (d *side) writeWAV(name string, ms int) string {
	d.t.Helper()
	n := 8 * ms
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i, s := range tone.Generate(1000, 8000, ms, 8000) {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	p := filepath.Join(d.tmp, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		d.t.Fatal(err)
	}
	return p
}

// gatewayFile renders a gateway as sipbridge does (xmlgen).
func gatewayFile(t testing.TB, tr xmlgen.Trunk) []byte {
	t.Helper()
	b, err := xmlgen.RenderGateway(tr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The scenarios.

// scESLBasics: a raw ESL session of commands with stable replies (no
// status): module_exists, an unknown command, the uuid_* commands on a
// channel that does not exist, acl on a missing list, sofia on a missing
// gateway or profile, event/filter/nixevent/noevents, a bgapi and its
// BACKGROUND_JOB, an unknown verb, exit.
func scESLBasics(d *side) {
	const u = "5b0f1c2e-0d1a-4e55-8c3b-00000000c0f1"
	nc, err := net.Dial("tcp", d.addr)
	if err != nil {
		d.t.Fatal(err)
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	read := func() (string, bool) {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		f, err := readESLFrame(r)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				d.t.Errorf("%s: reading: %v", d.name, err)
			}
			return "", false
		}
		return f, true
	}
	note := func(s string) {
		d.mu.Lock()
		d.raw = append(d.raw, s)
		d.mu.Unlock()
	}
	if f, _ := read(); true {
		note("greeting " + d.norm(f))
	}
	// send writes one command and records the frames up to its reply
	// (events before it included, as items).
	send := func(cmd string, headers ...string) {
		wire := cmd + "\n"
		for _, h := range headers {
			wire += h + "\n"
		}
		if _, err := nc.Write([]byte(wire + "\n")); err != nil {
			d.t.Fatal(err)
		}
		for {
			f, ok := read()
			if !ok {
				note(cmd + " → EOF")
				return
			}
			if strings.Contains(f, "Content-Type: text/event-") {
				note(cmd + " → event " + rawEventItem(d, f))
				continue
			}
			if cmd == "auth "+d.pass {
				cmd = "auth <password>"
			}
			note(cmd + " → " + d.norm(f))
			return
		}
	}
	send("auth " + d.pass)
	for _, c := range []string{
		"api module_exists mod_audio_stream", "api module_exists mod_sofia", "api module_exists mod_no_such",
		"api no_such_command", "api no_such_command with args",
		"api uuid_getvar " + u + " sip_call_id", "api uuid_getvar " + u, "api uuid_getvar",
		"api uuid_setvar " + u + " conf_var x", "api uuid_setvar " + u, "api uuid_setvar",
		"api uuid_kill " + u, "api uuid_kill " + u + " USER_BUSY", "api uuid_kill",
		"api uuid_answer " + u, "api uuid_answer", "api uuid_break " + u, "api uuid_break " + u + " all", "api uuid_break",
		"api uuid_broadcast " + u + " /tmp/conf-none.wav aleg", "api uuid_broadcast " + u, "api uuid_broadcast",
		"api uuid_audio_stream " + u + " stop", "api uuid_audio_stream",
		"api uuid_record " + u + " stop all", "api uuid_record",
		"api uuid_bridge " + u + " " + u, "api uuid_bridge",
		"api uuid_deflect " + u + " sip:conf@127.0.0.1", "api uuid_deflect",
		"api uuid_send_dtmf " + u + " 1", "api uuid_send_dtmf " + u, "api uuid_send_dtmf",
		"api originate", "api originate sofia/gateway/conf_no_gw/15551230000",
		"api acl 127.0.0.1 conf_no_list", "api acl 127.0.0.1 loopback.auto", "api acl 127.0.0.1", "api acl",
		"api sofia xmlstatus gateway conf_no_gw", "api sofia status gateway conf_no_gw",
		"api sofia profile external killgw conf_no_gw", "api sofia profile external startgw conf_no_gw",
		"api sofia profile conf_no_profile rescan", "api sofia profile conf_no_profile killgw conf_no_gw",
		"api module_exists", "api show channels as json",
		"event", "event json", "filter", "filter Event-Name", "nixevent",
		"event json BACKGROUND_JOB", "filter Event-Name BACKGROUND_JOB",
	} {
		send(c)
	}
	send("bgapi module_exists mod_sofia", "Job-UUID: "+u)
	// The BACKGROUND_JOB follows the reply.
	if f, ok := read(); ok {
		note("after bgapi → " + rawEventItem(d, f))
	}
	for _, c := range []string{"filter delete Event-Name BACKGROUND_JOB", "nixevent BACKGROUND_JOB", "noevents",
		"event plain CHANNEL_CREATE", "linger", "nolinger", "no_such_verb"} {
		send(c)
	}
	send("exit")
	for {
		f, ok := read()
		if !ok {
			break
		}
		note("after exit → " + d.norm(f))
	}
}

// rawEventItem is an event frame read off the raw socket: its type, its
// header names in order and its body, normalised.
func rawEventItem(d *side, frame string) string {
	_, body, _ := strings.Cut(frame, "\n\n")
	if strings.Contains(frame, "text/event-json") {
		var keys []string
		dec := jsonKeys(body)
		keys = append(keys, dec...)
		return "json keys " + strings.Join(keys, ",") + " " + d.norm(jsonField(body, "_body"))
	}
	return "plain " + d.norm(body)
}

// scGatewayLifecycle: two registration gateways, one against a registrar
// that accepts (TRYING, REGISTER, REGED), one against one that refuses
// with 403 (TRYING, FAILED, FAIL_WAIT); their xmlstatus; killgw on both
// (DOWN, gateway_delete); killgw again and xmlstatus of a gone gateway.
func scGatewayLifecycle(d *side) {
	ok, bad := "conf_gw_ok", "conf_gw_403"
	d.writeGen("gateways/"+ok+".xml", gatewayFile(d.t, xmlgen.Trunk{ID: "conf-ok", GatewayName: ok, Register: true,
		Username: "confuser", Password: "confpw", Gateway: d.registrar(ok, "200 OK"), ExpireSeconds: 60, RetrySeconds: 30}))
	d.writeGen("gateways/"+bad+".xml", gatewayFile(d.t, xmlgen.Trunk{ID: "conf-403", GatewayName: bad, Register: true,
		Username: "confuser", Password: "wrong", Gateway: d.registrar(bad, "403 Forbidden"), ExpireSeconds: 60, RetrySeconds: 30}))
	m := d.mark()
	d.api("sofia profile external rescan")
	d.waitFor(m, ok+" REGED", 10*time.Second, is("sofia::gateway_state", "Gateway", ok, "State", "REGED"))
	d.waitFor(m, bad+" FAIL_WAIT", 10*time.Second, is("sofia::gateway_state", "Gateway", bad, "State", "FAIL_WAIT"))
	d.api("sofia xmlstatus gateway " + ok)
	d.api("sofia xmlstatus gateway " + bad)
	d.api("sofia status gateway " + ok)
	d.api("sofia profile external rescan") // existing gateways: nothing happens
	d.removeGen("gateways/"+ok+".xml", "gateways/"+bad+".xml")
	d.api("sofia profile external killgw " + ok)
	d.api("sofia profile external killgw " + bad)
	d.waitFor(m, ok+" deleted", 10*time.Second, is("sofia::gateway_delete", "Gateway", ok))
	d.waitFor(m, bad+" deleted", 10*time.Second, is("sofia::gateway_delete", "Gateway", bad))
	d.api("sofia profile external killgw " + ok)
	d.api("sofia xmlstatus gateway " + ok)
}

// scInboundACL: with a conf_ list allowing one address, an INVITE from it
// parks (sip_acl_authed_by names the list) and is killed unanswered (480
// to the caller); one from another address is refused with 403 by the
// profile (auth-calls-acl-only): no CHANNEL_CREATE, CS_NEW then HANGUP …
// DESTROY with CALL_REJECTED.
func scInboundACL(d *side) {
	const list, allowed, other = "conf_acl", "127.0.0.33", "127.0.0.34"
	d.allowCaller(list, allowed)
	id := d.invite(allowed, "+14165550133", "+15550001133", 480)
	d.api("uuid_getvar " + id + " sip_acl_authed_by")
	d.api("uuid_getvar " + id + " sip_authorized")
	m := d.mark()
	d.api("uuid_kill " + id)
	d.waitFor(m, "CHANNEL_DESTROY", 5*time.Second, is("CHANNEL_DESTROY", "Unique-ID", id))
	d.invite(other, "+14165550134", "+15550001134", 403)
	d.uacsDone()
	d.dropCaller(list)
}

// scInboundCall: a call let in by an ACL list (as an IP-auth trunk's),
// parked; its variables; uuid_answer; a WAV played out, a longer one
// broken, a missing file, a tone_stream; uuid_kill; uuid_kill again.
func scInboundCall(d *side) {
	const list, ip, from, to = "conf_pbx", "127.0.0.31", "+14165550131", "+15550001131"
	d.allowCaller(list, ip)
	id := d.inboundCall(ip, from, to, list)
	for _, v := range []string{"sip_acl_authed_by", "sipbridge_inbound", "hangup_after_bridge", "continue_on_fail",
		"conf_none", "sip_from_user", "sip_req_user", "sip_network_ip", "answer_state"} {
		d.api("uuid_getvar " + id + " " + v)
	}
	m := d.mark()
	d.api("uuid_answer " + id)
	d.waitFor(m, "CHANNEL_ANSWER", 5*time.Second, is("CHANNEL_ANSWER"))
	d.api("uuid_answer " + id)
	d.showChannel(id)
	d.api("uuid_setvar " + id + " conf_var hello")
	d.api("uuid_getvar " + id + " conf_var")
	d.api("uuid_getvar " + id + " answer_state")
	d.api("uuid_send_dtmf " + id + " 12#")
	d.api("uuid_send_dtmf " + id + " xyz")

	short := d.writeWAV("short.wav", 300)
	m = d.mark()
	d.api("uuid_broadcast " + id + " " + short + " aleg")
	d.waitFor(m, "PLAYBACK_STOP of "+short, 5*time.Second, is("PLAYBACK_STOP"))
	d.waitFor(m, "CHANNEL_EXECUTE_COMPLETE of "+short, 5*time.Second, is("CHANNEL_EXECUTE_COMPLETE", "Application", "playback"))

	long := d.writeWAV("long.wav", 3000)
	m = d.mark()
	d.api("uuid_broadcast " + id + " " + long + " aleg")
	d.waitFor(m, "PLAYBACK_START of "+long, 5*time.Second, is("PLAYBACK_START"))
	time.Sleep(200 * time.Millisecond)
	d.api("uuid_break " + id)
	d.waitFor(m, "PLAYBACK_STOP (break)", 5*time.Second, is("PLAYBACK_STOP"))
	d.waitFor(m, "CHANNEL_EXECUTE_COMPLETE of "+long, 5*time.Second, is("CHANNEL_EXECUTE_COMPLETE", "Application", "playback"))

	toneStream := "tone_stream://%(300,0,1000)"
	m = d.mark()
	d.api("uuid_broadcast " + id + " " + toneStream + " aleg")
	d.waitFor(m, "CHANNEL_EXECUTE_COMPLETE of "+toneStream, 5*time.Second, is("CHANNEL_EXECUTE_COMPLETE", "Application", "playback"))

	missing := filepath.Join(d.tmp, "missing.wav")
	m = d.mark()
	d.api("uuid_broadcast " + id + " " + missing + " aleg")
	d.waitFor(m, "CHANNEL_EXECUTE_COMPLETE of "+missing, 5*time.Second, is("CHANNEL_EXECUTE_COMPLETE", "Application", "playback"))

	m = d.mark()
	d.api("uuid_kill " + id)
	d.waitFor(m, "CHANNEL_DESTROY", 5*time.Second, is("CHANNEL_DESTROY"))
	d.api("uuid_kill " + id)
	d.api("uuid_getvar " + id + " conf_var")
	d.uacsDone()
	d.dropCaller(list)
}

// scPipePlayback: a named pipe .PCMU, held open by its writer
// (O_RDWR|O_NONBLOCK), broadcast to an answered call, fed with μ-law for
// 300 ms, then closed: PLAYBACK_START, PLAYBACK_STOP (done).
func scPipePlayback(d *side) {
	const list, ip, from, to = "conf_pipe", "127.0.0.32", "+14165550132", "+15550001132"
	d.allowCaller(list, ip)
	id := d.inboundCall(ip, from, to, list)
	m := d.mark()
	d.api("uuid_answer " + id)
	d.waitFor(m, "CHANNEL_ANSWER", 5*time.Second, is("CHANNEL_ANSWER"))

	path := filepath.Join(d.tmp, "conf.PCMU")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		d.t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		d.t.Fatal(err)
	}
	ulaw := tone.ULawTone(1000, 300, 8000)
	write := func(b []byte) {
		if _, err := syscall.Write(fd, b); err != nil {
			d.t.Fatalf("%s: writing the pipe: %v", d.name, err)
		}
	}
	write(ulaw[:480]) // 60 ms ahead, as sipbridge keeps it
	m = d.mark()
	d.api("uuid_broadcast " + id + " " + path + " aleg")
	d.waitFor(m, "PLAYBACK_START of the pipe", 5*time.Second, is("PLAYBACK_START"))
	for off := 480; off < len(ulaw); off += 160 {
		time.Sleep(20 * time.Millisecond)
		write(ulaw[off : off+160])
	}
	syscall.Close(fd)
	d.waitFor(m, "PLAYBACK_STOP of the pipe", 5*time.Second, is("PLAYBACK_STOP"))
	d.waitFor(m, "CHANNEL_EXECUTE_COMPLETE of the pipe", 5*time.Second, is("CHANNEL_EXECUTE_COMPLETE", "Application", "playback"))
	m = d.mark()
	d.api("uuid_kill " + id)
	d.waitFor(m, "CHANNEL_DESTROY", 5*time.Second, is("CHANNEL_DESTROY"))
	d.uacsDone()
	d.dropCaller(list)
}

// scOriginateBusy: an IP-auth gateway whose far end answers 486; bgapi
// originate through it → -ERR USER_BUSY and the leg's events; killgw.
func scOriginateBusy(d *side) {
	const gw = "conf_busy"
	d.writeGen("gateways/"+gw+".xml", gatewayFile(d.t, xmlgen.Trunk{ID: "conf-busy", GatewayName: gw,
		Gateway: d.farEnd(gw, "uas-busy.xml", fstest.DialOutcome{Result: fstest.DialBusy})}))
	m := d.mark()
	d.api("sofia profile external rescan")
	d.waitFor(m, gw+" added", 5*time.Second, is("sofia::gateway_add", "Gateway", gw))
	m = d.mark()
	d.bgapi("originate sofia/gateway/" + gw + "/15551230000 &park()")
	d.waitFor(m, "CHANNEL_DESTROY of the leg", 5*time.Second, is("CHANNEL_DESTROY"))
	d.api("sofia xmlstatus gateway " + gw)
	d.removeGen("gateways/" + gw + ".xml")
	d.api("sofia profile external killgw " + gw)
	d.waitFor(m, gw+" deleted", 5*time.Second, is("sofia::gateway_delete", "Gateway", gw))
}

// scOriginateAnswer: bgapi originate through an IP-auth gateway whose far
// end rings and answers → +OK <uuid>, the leg parked; uuid_kill; killgw.
func scOriginateAnswer(d *side) {
	const gw = "conf_uas"
	d.writeGen("gateways/"+gw+".xml", gatewayFile(d.t, xmlgen.Trunk{ID: "conf-uas", GatewayName: gw,
		Gateway: d.farEnd(gw, "conf-uas-answer.xml", fstest.DialOutcome{Result: fstest.DialAnswer})}))
	m := d.mark()
	d.api("sofia profile external rescan")
	d.waitFor(m, gw+" added", 5*time.Second, is("sofia::gateway_add", "Gateway", gw))
	m = d.mark()
	r := d.bgapi("originate sofia/gateway/" + gw + "/15551230000 &park()")
	id := strings.TrimSpace(strings.TrimPrefix(r, "+OK "))
	d.waitFor(m, "CHANNEL_PARK of the leg", 5*time.Second, is("CHANNEL_PARK", "Unique-ID", id))
	d.api("uuid_getvar " + id + " sip_gateway_name")
	d.api("sofia xmlstatus gateway " + gw)
	m = d.mark()
	d.api("uuid_kill " + id)
	d.waitFor(m, "CHANNEL_DESTROY of the leg", 5*time.Second, is("CHANNEL_DESTROY", "Unique-ID", id))
	d.removeGen("gateways/" + gw + ".xml")
	d.api("sofia profile external killgw " + gw)
	d.waitFor(m, gw+" deleted", 5*time.Second, is("sofia::gateway_delete", "Gateway", gw))
}

// Comparison.

// simEvents are the event types the simulator produces (on some path);
// other types the real switch sends are not compared, only listed.
var simEvents = map[string]bool{
	"API": true, "BACKGROUND_JOB": true, "RELOADXML": true, "CHANNEL_CREATE": true, "CHANNEL_STATE": true,
	"CHANNEL_CALLSTATE": true, "CHANNEL_EXECUTE": true, "CHANNEL_EXECUTE_COMPLETE": true, "CHANNEL_PARK": true,
	"CHANNEL_UNPARK": true, "CHANNEL_PROGRESS": true, "CHANNEL_PROGRESS_MEDIA": true, "CHANNEL_ANSWER": true,
	"CHANNEL_HANGUP": true, "CHANNEL_HANGUP_COMPLETE": true, "CHANNEL_DESTROY": true, "CHANNEL_OUTGOING": true,
	"CHANNEL_ORIGINATE": true, "CHANNEL_BRIDGE": true, "PLAYBACK_START": true, "PLAYBACK_STOP": true,
	"PRIVATE_COMMAND": true, "COMMAND": true, "MEDIA_BUG_START": true, "MEDIA_BUG_STOP": true, "RECORD_START": true,
	"RECORD_STOP": true, "DTMF": true, "CODEC": true, "CALL_UPDATE": true, "sofia::gateway_add": true, "sofia::gateway_state": true,
	"sofia::gateway_delete": true,
}

// itemHeaders are the headers an event is compared by, when present.
var itemHeaders = []string{"Channel-State", "Channel-State-Number", "Channel-Call-State", "Original-Channel-Call-State",
	"Channel-Call-State-Number", "Channel-HIT-Dialplan", "Answer-State", "Hangup-Cause", "Application",
	"Application-Data", "Application-Response", "Playback-Status", "Playback-File-Path", "Playback-File-Type", "State", "Ping-Status",
	"Status", "Phrase", "API-Command", "API-Command-Argument", "Job-Command", "Job-Command-Arg", "execute-app-arg"}

// standard are the headers every event has: not listed among a gateway
// event's own.
var standard = map[string]bool{"Event-Name": true, "Event-Subclass": true, "Core-UUID": true, "FreeSWITCH-Hostname": true,
	"FreeSWITCH-Switchname": true, "FreeSWITCH-IPv4": true, "FreeSWITCH-IPv6": true, "Event-Date-Local": true,
	"Event-Date-GMT": true, "Event-Date-Timestamp": true, "Event-Calling-File": true, "Event-Calling-Function": true,
	"Event-Calling-Line-Number": true, "Event-Sequence": true}

func eventKind(e *esl.Event) string {
	if e.Name() == "CUSTOM" {
		return e.Subclass()
	}
	return e.Name()
}

// item is what must agree between paired events.
func (d *side) item(e *esl.Event) string {
	var b strings.Builder
	b.WriteString(eventKind(e))
	for _, h := range itemHeaders {
		if v, ok := e.Headers[h]; ok {
			fmt.Fprintf(&b, " %s=%s", h, recording.NormalizeUUIDs(d.paths(v)))
		}
	}
	// The names of the event's own headers: all of a gateway event's, a
	// channel event's without the channel variables (their set depends on
	// the SIP messages of the call).
	if gw, ch := strings.HasPrefix(eventKind(e), "sofia::gateway_"), e.Get("Unique-ID") != ""; gw || ch {
		var own []string
		for k := range e.Headers {
			if !standard[k] && !strings.HasPrefix(k, "variable_") {
				own = append(own, k)
			}
		}
		slices.Sort(own)
		fmt.Fprintf(&b, " headers=%s", strings.Join(own, ","))
	}
	if e.Name() == "BACKGROUND_JOB" {
		fmt.Fprintf(&b, " body=%q", d.norm(e.Body))
	}
	return b.String()
}

// items lists the events since mark, for failure messages.
func (d *side) items(mark int) []string {
	d.mu.Lock()
	evs := slices.Clone(d.evs[min(mark, len(d.evs)):])
	d.mu.Unlock()
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = d.item(e)
	}
	return out
}

// streams sorts the side's events into the streams compared: each call
// (call#1, call#2… by first appearance), each conf_ gateway, the API and
// BACKGROUND_JOB events of our commands, RELOADXML. Event types the
// simulator does not produce are returned apart, counted by stream.
func (d *side) streams() (map[string][]string, map[string]map[string]int) {
	d.mu.Lock()
	evs := slices.Clone(d.evs)
	d.mu.Unlock()
	out := map[string][]string{}
	skipped := map[string]map[string]int{}
	calls := map[string]string{}
	for _, e := range evs {
		kind := eventKind(e)
		var stream string
		switch {
		case strings.HasPrefix(kind, "sofia::gateway_"):
			if !strings.HasPrefix(e.Get("Gateway"), "conf_") {
				continue
			}
			stream = "gateway " + e.Get("Gateway")
		case kind == "API":
			if !d.sent[strings.TrimSpace(e.Get("API-Command")+" "+e.Get("API-Command-Argument"))] {
				continue
			}
			stream = "API"
		case kind == "BACKGROUND_JOB":
			if !d.sent[strings.TrimSpace(e.Get("Job-Command")+" "+e.Get("Job-Command-Arg"))] {
				continue
			}
			stream = "BACKGROUND_JOB"
		case kind == "RELOADXML":
			stream = "RELOADXML"
		case e.Get("Unique-ID") != "":
			id := e.Get("Unique-ID")
			if calls[id] == "" {
				calls[id] = fmt.Sprintf("call#%d", len(calls)+1)
			}
			stream = calls[id]
		default:
			stream = "elsewhere" // not tied to a call, a conf_ gateway or our commands
			if skipped[stream] == nil {
				skipped[stream] = map[string]int{}
			}
			skipped[stream][kind]++
			continue
		}
		if !simEvents[kind] {
			if skipped[stream] == nil {
				skipped[stream] = map[string]int{}
			}
			skipped[stream][kind]++
			continue
		}
		out[stream] = append(out[stream], d.item(e))
	}
	return out, skipped
}

// compareSides reports every divergence between the two runs of a
// scenario: replies in order, then each stream event by event.
func compareSides(t *testing.T, scenario string, real, sim *side) {
	t.Helper()
	// Raw ESL (esl_basics).
	for i := 0; i < max(len(real.raw), len(sim.raw)); i++ {
		r, s := at(real.raw, i), at(sim.raw, i)
		if r != s {
			t.Errorf("%s: raw ESL frame %d:\n real %q\n sim  %q", scenario, i, r, s)
		}
	}
	// Replies.
	for i := 0; i < max(len(real.replies), len(sim.replies)); i++ {
		var r, s confReply
		if i < len(real.replies) {
			r = real.replies[i]
		}
		if i < len(sim.replies) {
			s = sim.replies[i]
		}
		if r != s {
			t.Errorf("%s: reply %d:\n real %s → %q\n sim  %s → %q", scenario, i, r.cmd, r.text, s.cmd, s.text)
		}
	}
	// Events.
	rs, rskip := real.streams()
	ss, sskip := sim.streams()
	for _, k := range knownDivergences {
		for side, m := range map[string]map[string][]string{"real": rs, "sim": ss} {
			for name, items := range m {
				if kept := k.ignore(items); len(kept) != len(items) {
					t.Logf("%s: %s: %d %s event(s) left out (known divergence %q)", scenario, name, len(items)-len(kept), side, k.name)
					m[name] = kept
				}
			}
		}
	}
	names := map[string]bool{}
	for k := range rs {
		names[k] = true
	}
	for k := range ss {
		names[k] = true
	}
	var agree []string
	if n := len(real.raw); n > 0 && slices.Equal(real.raw, sim.raw) {
		agree = append(agree, fmt.Sprintf("raw ESL %d frames", n))
	}
	if n := len(real.replies); n > 0 && slices.Equal(real.replies, sim.replies) {
		agree = append(agree, fmt.Sprintf("%d replies", n))
	}
	defer func() { t.Logf("%s: agree: %s", scenario, strings.Join(agree, ", ")) }()
	for _, name := range sortedNames(names) {
		r, s := rs[name], ss[name]
		if slices.Equal(r, s) {
			agree = append(agree, fmt.Sprintf("%s %d events", name, len(r)))
			continue
		}
		i := 0
		for i < min(len(r), len(s)) && r[i] == s[i] {
			i++
		}
		t.Errorf("%s: %s diverges at event %d:\n real %s\n sim  %s\nreal %s:\n  %s\nsim %s:\n  %s", scenario, name, i, at(r, i), at(s, i),
			name, strings.Join(r, "\n  "), name, strings.Join(s, "\n  "))
	}
	for _, name := range sortedNames(keysOf(rskip)) {
		if name == "elsewhere" {
			t.Logf("%s: real events not tied to a call, a conf_ gateway or our commands (not compared): %v", scenario, rskip[name])
			continue
		}
		t.Logf("%s: %s: real events not modelled by the simulator (not compared): %v", scenario, name, rskip[name])
	}
	for _, name := range sortedNames(keysOf(sskip)) {
		if name == "elsewhere" {
			t.Logf("%s: simulator events not tied to a call, a conf_ gateway or our commands (not compared): %v", scenario, sskip[name])
			continue
		}
		t.Errorf("%s: %s: the simulator sent event types outside simEvents: %v", scenario, name, sskip[name])
	}
}

func at(list []string, i int) string {
	if i < len(list) {
		return list[i]
	}
	return "(none)"
}

func keysOf[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// cleanConformance leaves the real switch as the other e2e tests expect
// it: no conf_* file in its generated folder, no conf_* gateway, the ACL
// lists and the profile's inbound lists re-read.
func cleanConformance(t *testing.T, sw *Switch) {
	var removed bool
	for _, dir := range []string{"gateways", "acl", "profile"} {
		files, _ := filepath.Glob(filepath.Join(sw.GenDir, dir, "conf_*"))
		for _, f := range files {
			if os.Remove(f) == nil {
				removed = true
			}
		}
	}
	var left []string
	for _, g := range sw.Gateways(t) {
		if strings.HasPrefix(g.Name, "conf_") {
			left = append(left, g.Name)
			sw.API(t, "sofia profile external killgw "+g.Name)
		}
	}
	if removed || len(left) > 0 {
		sw.API(t, "reloadacl")
		sw.API(t, "sofia profile external rescan")
	}
	if len(left) > 0 {
		testkit.Eventually(t, 10*time.Second, "conf_ gateways removed", func() bool {
			for _, g := range sw.Gateways(t) {
				if strings.HasPrefix(g.Name, "conf_") {
					return false
				}
			}
			return true
		}, nil)
	}
}

// readESLFrame reads one ESL frame: header lines, a blank line, then
// Content-Length bytes.
func readESLFrame(r *bufio.Reader) (string, error) {
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

// jsonKeys lists the keys of a JSON object in wire order.
func jsonKeys(body string) []string {
	dec := json.NewDecoder(strings.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	var keys []string
	for dec.More() {
		tk, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := tk.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return keys
		}
		keys = append(keys, k)
	}
	return keys
}

// jsonField is one string field of a JSON object ("" when absent).
func jsonField(body, key string) string {
	var m map[string]any
	json.Unmarshal([]byte(body), &m)
	s, _ := m[key].(string)
	return s
}

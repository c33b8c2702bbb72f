package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/secret"
)

func init() { addScenario(scenario{"replica_failover", testReplicaFailover}) }

// srcReplicas is the PBX of the replica_failover scenario.
const srcReplicas = "127.0.0.87"

// leaseTaken is a replica's log line when it takes a node's lease.
const leaseTaken = "node lease taken: this replica controls the node's calls"

// failoverTTL is the replicas' node lease (REPLICA_LEASE_TTL), renewed
// every 1 s: a crashed holder's node is taken over 3-4 s after the crash.
const failoverTTL = 3 * time.Second

// rollingCalls are the calls up while both replicas restart in turn.
const rollingCalls = 4

// failover is the replica_failover scenario's one setup: a real
// FreeSWITCH node fs1, two replicas a and b on one PostgreSQL (lease TTL
// 3 s, SHUTDOWN_CALLS=handoff), the test assistant and its number.
type failover struct {
	t      *testing.T
	sw     *Switch
	a, b   *Bridge
	asst   *TestAssistant
	number string
	// dbProxy carries b's database connections (leaseLost cuts them).
	dbProxy *tcpProxy
}

// testReplicaFailover: the first replica to start (a) holds fs1's lease and
// alone handles its calls; a hangup of its live call asked of b is
// forwarded to it and ends the call. Then, with live calls on fs1:
//   - a is killed (SIGKILL): b takes the lease once it expires and adopts
//     the call; the caller never gets a BYE, a new assistant socket says
//     resumed=true, and the assistant is heard again within 5 s of the kill;
//   - rolling restart: with 4 calls up, the holder is stopped (SIGTERM,
//     handoff: it releases the lease at stop) and the other takes the node
//     at its next renewal and adopts them, then the same the other way
//     round; no call fails, every record ends completed with two adoptions,
//     no caller gets a BYE;
//   - lease lost (b's database cut), then frozen (a stopped with SIGSTOP
//     past its lease): see leaseLost and frozen.
func testReplicaFailover(t *testing.T, shared *Bridge) {
	if shared.Name != "postgres" {
		t.Skip("replicas share one PostgreSQL")
	}
	dir := filepath.Join(suite.tmp, "replica-failover-"+shared.Name)
	gen, sws := startNodes(t, dir, "fs1")
	sw := sws[0]
	dsn, key := dbtest.DSN(t), secret.NewKey()
	f := &failover{t: t, sw: sw, number: "+16478497200"}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	f.dbProxy = startProxy(t, u.Host)
	u.Host = f.dbProxy.Addr
	start := func(name, dsn string) *Bridge {
		port, err := freeTCPPort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		return StartBridge(t, sw, shared.Name+"-replica-"+name, dsn, "SIPBRIDGE_ADDR="+addr, "STREAM_WS_BASE=ws://"+addr,
			"SECRET_KEY="+key, "FS_GEN_DIR="+gen, "FS_NODES=fs1="+sw.ESLAddr, "REPLICA_NAME="+name, "REPLICA_ADDR=http://"+addr,
			"REPLICA_LEASE_TTL="+failoverTTL.String(), "SHUTDOWN_CALLS=handoff")
	}
	f.a = start("a", dsn)
	testkit.Eventually(t, 10*time.Second, "a holding fs1", func() bool { return len(f.a.LogSince(0, leaseTaken)) == 1 }, nil)
	f.b = start("b", u.String())
	f.asst = StartAssistant(t)
	asstID := f.b.CreateAssistant(t, "Replica Desk", f.asst, nil)
	tr := f.b.ipTrunk(t, "Replica PBX", srcReplicas, srcReplicas+":5060", nil)
	f.b.addNumberOn(t, f.number, asstID, tr.ID)
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	f.forwardedHangup()
	f.crash()
	f.rollingRestart()
	f.leaseLost()
	f.frozen()
}

// forwardedHangup: a's live call is accepted by a alone, and hung up
// through b.
func (f *failover) forwardedHangup() {
	t, a, b := f.t, f.a, f.b
	markA, markB := a.LogMark(), b.LogMark()
	const from = "+14165550971"
	uac := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: srcReplicas, Remote: f.sw.remote(), Calls: 1,
		Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: from, To: f.number}})
	f.asst.ByParam(t, "from", from, 10*time.Second)
	rec := b.waitRecord(t, "the call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.Status == "in-progress" })
	if rec.Node != "fs1" {
		t.Errorf("the call's node %q, want fs1", rec.Node)
	}
	if na, nb := len(a.LogSince(markA, "inbound call accepted")), len(b.LogSince(markB, "inbound call accepted")); na != 1 || nb != 0 {
		t.Errorf("the call was accepted %d times by a and %d by b, want once by a (the lease holder)", na, nb)
	}
	b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, http.StatusAccepted, nil)
	if code := uac.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	rec = b.waitRecord(t, "the call record closed", 10*time.Second, func(c CallRecord) bool { return c.ID == rec.ID && c.EndedAt != nil })
	if rec.Status != "completed" {
		t.Errorf("the call hung up through b: %s (%s), want completed", rec.Status, rec.Reason)
	}
}

// liveCall is a caller (sipp with -rtp_echo: the assistant's audio comes
// back as the caller's) talking with the test assistant.
type liveCall struct {
	from string
	uac  *Sipp
	id   string
}

// dial starts a call held holdMs and waits until it is in progress with
// the caller's audio at the assistant.
func (f *failover) dial(from string, holdMs int) *liveCall {
	t := f.t
	uac := StartSipp(t, SippOptions{Scenario: "uac-call.xml", IP: srcReplicas, Remote: f.sw.remote(), Calls: 1,
		Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: from, To: f.number, HoldMs: holdMs}})
	ac := f.asst.ByParam(t, "from", from, 10*time.Second)
	testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 25 }, nil)
	rec := f.b.WaitCall(t, "the call in progress", 10*time.Second, func(c Call) bool { return c.From == from && c.Status == "in-progress" })
	return &liveCall{from: from, uac: uac, id: rec.ID}
}

// resumedSocket waits for the call's assistant socket opened after the n
// first ones, resumed, the call's.
func (f *failover) resumedSocket(c *liveCall, n int) (ac *AssistantConn) {
	t := f.t
	testkit.Eventually(t, 15*time.Second, "a new assistant socket for "+c.from, func() bool {
		conns := f.asst.Conns()
		for _, x := range conns[min(n, len(conns)):] {
			if x.Param("from") == c.from {
				ac = x
				return true
			}
		}
		return false
	}, nil)
	if got := ac.Param("resumed"); got != "true" {
		t.Errorf("the new assistant socket of %s: resumed = %q, want true", c.from, got)
	}
	if got := ac.Param("call_id"); got != c.id {
		t.Errorf("the new assistant socket of %s: call_id = %q, want %s", c.from, got, c.id)
	}
	return ac
}

// heardAgain waits for the call's new assistant socket (resumedSocket),
// then speaks in short bursts until the caller's echo of it comes back:
// when the socket opened and when the caller was heard.
func (f *failover) heardAgain(c *liveCall, n int) (ac *AssistantConn, connected, heard time.Time) {
	t := f.t
	ac = f.resumedSocket(c, n)
	connected = time.Now()
	deadline := time.Now().Add(10 * time.Second)
	for heard.IsZero() && time.Now().Before(deadline) {
		if err := speakBurst(ac, toneHz, 200); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		heard = echoRun(ac, connected)[0]
	}
	if heard.IsZero() {
		t.Fatalf("the assistant's audio never reached %s again (%d caller frames at the new socket)", c.from, ac.Frames())
	}
	return ac, connected, heard
}

// ended waits for the caller to hang up by itself (no BYE from the
// bridge) and checks the record: completed, on fs1, adopted as often as
// asked.
func (f *failover) ended(c *liveCall, adoptions int) {
	t := f.t
	if code := c.uac.Wait(t, 40*time.Second); code != 0 {
		t.Errorf("the caller %s: sipp exited %d (%s): %s", c.from, code, sippExit(code), c.uac.Report())
	}
	if byes := c.uac.Received("BYE "); len(byes) > 0 {
		t.Errorf("the caller %s got a BYE:\n%s", c.from, byes[0])
	}
	rec := f.b.WaitCall(t, "the record of "+c.from+" closed", 10*time.Second, func(r Call) bool { return r.ID == c.id && r.EndedAt != nil })
	if rec.Status != "completed" || rec.Node != "fs1" {
		t.Errorf("the call of %s ended %q on %q (%s), want completed on fs1", c.from, rec.Status, rec.Node, rec.Reason)
	}
	types := eventTypes(f.b.callEvents(t, c.id))
	if n := countOf(types, "adopted"); n != adoptions {
		t.Errorf("the call of %s was adopted %d times, want %d: %v", c.from, n, adoptions, types)
	}
}

func countOf(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// leaseTakenAt is when the replica logged taking fs1's lease since mark.
func leaseTakenAt(t *testing.T, r *Bridge, mark int) time.Time {
	t.Helper()
	var at time.Time
	testkit.Eventually(t, 3*failoverTTL, r.Name+" holding fs1", func() bool {
		l := r.LogSince(mark, leaseTaken)
		if len(l) == 1 {
			at, _ = time.Parse(time.RFC3339Nano, l[0].Str("time"))
		}
		return len(l) == 1
	}, nil)
	return at
}

// heardCall places a call from from that holds holdMs and waits until
// its caller hears the assistant (before the event named what); it
// returns the call and its assistant socket.
func (f *failover) heardCall(from string, holdMs int, what string) (*liveCall, *AssistantConn) {
	t := f.t
	c := f.dial(from, holdMs)
	ac := f.asst.ByParam(t, "from", c.from, time.Second)
	before := time.Now()
	if err := speakBurst(ac, toneHz, 300); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 3*time.Second, "the assistant heard by the caller before the "+what, func() bool { return echoToneSince(ac, before) }, nil)
	return c, ac
}

// takenOver waits, after what happened to a at at (how: "killed (SIGKILL"
// …; event: "kill" …), for b to take fs1 and the caller to hear the
// assistant again on a new socket (n: the sockets before); it logs the
// figures, checks the gap against adoptGapMax and returns the new socket.
func (f *failover) takenOver(c *liveCall, n, markB int, at time.Time, how, event string) *AssistantConn {
	t := f.t
	ac, connected, heard := f.heardAgain(c, n)
	taken := leaseTakenAt(t, f.b, markB)
	gap := heard.Sub(at)
	t.Logf("replica %s, lease %v): b took fs1 %v after the %s, the assistant's socket back %v, its audio heard by the caller again %v after the %s",
		how, failoverTTL, taken.Sub(at).Round(time.Millisecond), event, connected.Sub(at).Round(time.Millisecond), gap.Round(time.Millisecond), event)
	if gap > adoptGapMax {
		t.Errorf("the caller went %v without the assistant after the %s, want at most %v", gap.Round(time.Millisecond), event, adoptGapMax)
	}
	return ac
}

// crash: a, holding fs1 with a live call, is killed; b takes the lease
// and adopts the call. a is started again (it stands by).
func (f *failover) crash() {
	t, a, b := f.t, f.a, f.b
	c, _ := f.heardCall("+14165550973", 9000, "crash")
	n, markB := len(f.asst.Conns()), b.LogMark()
	killed := time.Now()
	a.cmd.Process.Kill()
	<-a.exited
	f.takenOver(c, n, markB, killed, "killed (SIGKILL", "kill")
	if took := b.LogSince(markB, "calls left open by a previous run"); len(took) != 1 || took[0]["adopted"] != float64(1) {
		t.Errorf("b's adoption log lines: %v, want one with adopted 1", took)
	}
	a.start(t)
	a.WaitReady(t, 20*time.Second)
	f.ended(c, 1)
}

// rollingRestart: both replicas are stopped and started in turn (SIGTERM
// with handoff) while rollingCalls calls of 15 s, started one after the
// other (about a second apart), run.
func (f *failover) rollingRestart() {
	t := f.t
	calls := make([]*liveCall, rollingCalls)
	for i := range calls {
		calls[i] = f.dial(fmt.Sprintf("+1416555098%d", i), 15000)
	}
	holder, other := f.b, f.a // b took fs1 at the crash
	for step := 0; step < 2; step++ {
		n, mark := len(f.asst.Conns()), other.LogMark()
		stopped := time.Now()
		if err := holder.Stop(); err != nil {
			t.Fatal(err)
		}
		exited := time.Since(stopped)
		_, connected, heard := f.heardAgain(calls[0], n)
		taken := leaseTakenAt(t, other, mark)
		t.Logf("replica %s stopped (SIGTERM, handoff; exited in %v): %s took fs1 %v after the signal, the first call's assistant socket back %v, its audio heard again %v after the signal",
			holder.Name, exited.Round(time.Millisecond), other.Name, taken.Sub(stopped).Round(time.Millisecond),
			connected.Sub(stopped).Round(time.Millisecond), heard.Sub(stopped).Round(time.Millisecond))
		if gap := heard.Sub(stopped); gap > adoptGapMax {
			t.Errorf("the caller went %v without the assistant at the handoff, want at most %v", gap.Round(time.Millisecond), adoptGapMax)
		}
		testkit.Eventually(t, 10*time.Second, other.Name+" adopting every call", func() bool {
			took := other.LogSince(mark, "calls left open by a previous run")
			return len(took) == 1 && took[0]["adopted"] == float64(rollingCalls)
		}, func() string { return fmt.Sprint(other.LogSince(mark, "calls left open by a previous run")) })
		for _, c := range calls[1:] {
			ac := f.resumedSocket(c, n)
			testkit.Eventually(t, 5*time.Second, "the caller's audio at the new socket of "+c.from, func() bool { return ac.Frames() >= 25 }, nil)
		}
		holder.start(t)
		holder.WaitReady(t, 20*time.Second)
		holder, other = other, holder
	}
	for _, c := range calls {
		f.ended(c, 2)
	}
	handedOff := eventTypes(f.b.callEvents(t, calls[0].id))
	if n := countOf(handedOff, "handed_off"); n != 2 {
		t.Errorf("the first call's timeline has %d handed_off events, want 2: %v", n, handedOff)
	}
}

// leaseLost: the holder (b) loses its database (its connections cut)
// with a live call: its renewal fails, it lets the call go at once (its
// assistant socket closed, the channel untouched), and a takes fs1 once the
// lease expires and adopts the call, which goes on: one replica at a time
// controls it.
func (f *failover) leaseLost() {
	t, a := f.t, f.a
	c := f.dial("+14165550990", 10000)
	old := f.asst.ByParam(t, "from", c.from, time.Second)
	n, mark := len(f.asst.Conns()), a.LogMark()
	cut := time.Now()
	f.dbProxy.Sever()
	select {
	case <-old.Closed():
	case <-time.After(failoverTTL):
		t.Errorf("b, its database cut, still holds the call's assistant socket %v later", failoverTTL)
	}
	let := time.Since(cut)
	_, _, heard := f.heardAgain(c, n)
	taken := leaseTakenAt(t, a, mark)
	f.dbProxy.Resume()
	t.Logf("lease lost: b's database cut; b let the call go %v after, a took fs1 %v after, the caller heard the assistant again %v after",
		let.Round(time.Millisecond), taken.Sub(cut).Round(time.Millisecond), heard.Sub(cut).Round(time.Millisecond))
	f.ended(c, 1)
}

// frozen: the holder (a) is frozen (SIGSTOP: a stalled VM) with a live
// call, past its lease: its sockets stay open and answer nothing. b takes
// fs1 and adopts the call; the caller hears the assistant again within
// adoptGapMax of the freeze, and never gets a BYE. Woken (SIGCONT), a finds
// its lease lost and lets the call go without touching the channel (its
// assistant socket closed); the call goes on with b (the caller still
// hears its assistant).
func (f *failover) frozen() {
	t, a, b := f.t, f.a, f.b
	c, old := f.heardCall("+14165550992", 8000, "freeze")
	n, markA, markB := len(f.asst.Conns()), a.LogMark(), b.LogMark()
	frozen := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	woken := false
	wake := func() {
		if !woken {
			woken = true
			_ = a.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	defer wake()
	ac := f.takenOver(c, n, markB, frozen, "frozen (SIGSTOP", "freeze")

	wake()
	woke := time.Now()
	var letGo time.Time
	testkit.Eventually(t, 3*time.Second, "a, woken, letting the call go", func() bool {
		l := a.LogSince(markA, "call let go: this replica lost the node's lease, its next holder adopts it")
		if len(l) == 1 {
			letGo, _ = time.Parse(time.RFC3339Nano, l[0].Str("time"))
		}
		return len(l) == 1
	}, func() string { return a.LogTail(markA, 20) })
	t.Logf("frozen replica woken (SIGCONT): it let the call go %v after", letGo.Sub(woke).Round(time.Millisecond))
	select {
	case <-old.Closed():
	case <-time.After(time.Second):
		t.Error("a, woken and its lease lost, still holds the call's first assistant socket")
	}
	time.Sleep(300 * time.Millisecond) // what a would do to the channel, done
	after := time.Now()
	if err := speakBurst(ac, toneHz, 300); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 3*time.Second, "the assistant heard by the caller after a woke up", func() bool { return echoToneSince(ac, after) }, nil)
	f.ended(c, 1)
}

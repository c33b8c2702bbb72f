package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"esl_cut", testESLCut})
}

// srcESLCut is the PBX of the esl_cut scenario.
const srcESLCut = "127.0.0.81"

// useESLAddr restarts sipbridge with FS_ESL_ADDR set to addr; the
// bridge is restarted on the switch's own address when t ends.
func (b *Bridge) useESLAddr(t *testing.T, addr string) {
	t.Helper()
	env := slices.Clone(b.Env)
	b.Env = append(b.Env, "FS_ESL_ADDR="+addr)
	mark := b.LogMark()
	b.Restart(t)
	// Its switch watch has seen the switch up: a loss is "connection lost".
	testkit.Eventually(t, 5*time.Second, "sipbridge logging FreeSWITCH connected", func() bool { return len(b.LogSince(mark, "FreeSWITCH connected")) > 0 }, nil)
	t.Cleanup(func() {
		b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second) // the scenario's trunk deleted
		b.Env = env
		b.Restart(t)
	})
}

// testESLCut: the Event Socket connections cut (FreeSWITCH itself up, the
// TCP connections closed and refused for 2 s) while two calls are up.
// sipbridge reconnects by itself and re-attaches to the live calls: no call
// is dropped (each still has its channel, its assistant stream and its
// caller's audio), the events of the calls resume (the one whose caller hangs
// up after the reconnect closes at once with the caller's NORMAL_CLEARING,
// not the 30 s check's UNKNOWN), the API still hangs up the other, and no
// trunk is re-applied (no killgw or rescan, from sipbridge's log or at the
// switch).
func testESLCut(t *testing.T, b *Bridge) {
	p := startProxy(t, b.SW.ESLAddr)
	b.useESLAddr(t, p.Addr)
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "ESL Cut Desk", asst, nil)
	tr := b.ipTrunk(t, "ESL Cut PBX", srcESLCut, "127.0.0.1:9", nil)
	const number, fromAPI, fromCaller = "+16478498100", "+14165558101", "+14165558102"
	b.addNumberOn(t, number, asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	byAPI := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: srcESLCut, Remote: b.SW.remote(), Calls: 1,
		Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: fromAPI, To: number}})
	byCaller := StartSipp(t, SippOptions{Scenario: "uac-call.xml", IP: srcESLCut, Remote: b.SW.remote(), Calls: 1,
		Timeout: 60 * time.Second, Data: call{From: fromCaller, To: number, HoldMs: 12000}})
	acAPI := asst.ByParam(t, "from", fromAPI, 10*time.Second)
	acCaller := asst.ByParam(t, "from", fromCaller, 10*time.Second)
	recAPI := b.waitRecord(t, "the first call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == fromAPI && c.Status == "in-progress" })
	recCaller := b.waitRecord(t, "the second call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == fromCaller && c.Status == "in-progress" })
	testkit.Eventually(t, 5*time.Second, "the callers' audio at the assistant", func() bool { return acAPI.Frames() >= 5 && acCaller.Frames() >= 5 }, nil)

	m, lm := b.SW.Mark(), b.LogMark()
	accepts := p.Accepts()
	p.Sever()
	testkit.Eventually(t, 10*time.Second, "sipbridge reporting FreeSWITCH down (/readyz 503)", func() bool { st, _ := b.Ready(); return st == 503 }, nil)
	time.Sleep(2 * time.Second)
	p.Resume()
	b.WaitReady(t, 20*time.Second)
	back := time.Now()
	if p.Accepts() == accepts {
		t.Fatal("sipbridge is ready again without a new connection through the proxy")
	}
	if lost := b.LogSince(lm, "FreeSWITCH connection lost"); len(lost) != 1 {
		t.Errorf("%d \"FreeSWITCH connection lost\" lines, want 1", len(lost))
	}

	// No call dropped: both channels up, their streams open, audio flowing.
	chans := b.SW.Channels(t)
	for _, rec := range []CallRecord{recAPI, recCaller} {
		if !slices.Contains(chans, rec.CallSID) {
			t.Errorf("call %s (channel %s) is gone from FreeSWITCH after the reconnect; channels %q", rec.ID, rec.CallSID, chans)
		}
	}
	time.Sleep(time.Second)
	for _, ac := range []*AssistantConn{acAPI, acCaller} {
		select {
		case <-ac.Closed():
			t.Errorf("the assistant stream of %s closed during the cut", ac.Param("from"))
		default:
		}
		if n := ac.FramesSince(back); n < 25 {
			t.Errorf("the assistant got %d frames of %s in the second after the reconnect, want ≥ 25", n, ac.Param("from"))
		}
	}
	for _, c := range b.Calls(t, "") {
		if (c.ID == recAPI.ID || c.ID == recCaller.ID) && c.EndedAt != nil {
			t.Errorf("call %s ended by the cut: %+v", c.ID, c)
		}
	}

	// The events of the calls resumed: the caller's hangup closes its record
	// with the switch's cause, at once.
	if code := byCaller.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("the hanging-up caller's sipp exited %d (%s): %s", code, sippExit(code), byCaller.Report())
	}
	done := b.waitRecord(t, "the caller's hangup closing its record", 5*time.Second, func(c CallRecord) bool { return c.ID == recCaller.ID && c.EndedAt != nil })
	if done.Status != "completed" || done.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("the call the caller hung up after the reconnect: status %q, hangup_cause %q; want completed, NORMAL_CLEARING", done.Status, done.HangupCause)
	}

	// Call control still commands the call.
	b.API.Call(t, "POST", "/api/v1/calls/"+recAPI.ID+"/hangup", nil, http.StatusAccepted, nil)
	if code := byAPI.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("the API-hung-up caller's sipp exited %d (%s): %s", code, sippExit(code), byAPI.Report())
	}
	done = b.waitRecord(t, "the API hangup closing its record", 5*time.Second, func(c CallRecord) bool { return c.ID == recAPI.ID && c.EndedAt != nil })
	if done.Status != "completed" || done.Reason != "hung up through the API" || done.HangupCause == "UNKNOWN" {
		t.Errorf("the call hung up through the API after the reconnect: status %q, reason %q, hangup_cause %q", done.Status, done.Reason, done.HangupCause)
	}

	// No trunk re-applied.
	b.SW.WaitQuiet(t, time.Second, 15*time.Second)
	for _, prefix := range []string{"sofia profile external killgw", "sofia profile external rescan", "sofia profile external restart"} {
		if cmds := b.SW.APICommandsSince(m, prefix); len(cmds) > 0 {
			t.Errorf("FreeSWITCH ran %q after the Event Socket cut; its gateways were right", cmds)
		}
	}
	for _, c := range b.SyncCommandsSince(lm) {
		if strings.Contains(c, "killgw") || strings.Contains(c, "rescan") || strings.Contains(c, "restart") {
			t.Errorf("sipbridge sent %q after the Event Socket cut", c)
		}
	}
}

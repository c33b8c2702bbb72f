package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

// srcKill is the PBX of the freeswitch_kill scenario.
const srcKill = "127.0.0.82"

// testFreeSWITCHKill: FreeSWITCH killed (SIGKILL: no shutdown, no BYE)
// with a call up, then started again. The call's record closes once the
// switch is back, status completed with a reason naming the switch loss
// (not left open, not a bare UNKNOWN); its assistant stream is closed;
// sipbridge reconnects and re-applies the trunks (the registration trunk
// REGED again, each gateway once) and the next call goes through. It
// restarts the run's only switch, so it runs just before
// freeswitch_restart, at the end.
func testFreeSWITCHKill(t *testing.T, b *Bridge) {
	sw := b.SW
	reg := registrar(t, "200 OK")
	regTr := b.CreateTrunk(t, map[string]any{"name": "Before Kill", "gateway": fmt.Sprintf("127.0.0.1:%d", reg.Port),
		"username": "e2ekill", "password": "s3cret", "expire_seconds": 60, "retry_seconds": 2})
	b.WaitTrunk(t, regTr.ID, "gateway_state REGED", 10*time.Second, func(tr Trunk) bool { return tr.GatewayState == "REGED" })
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Kill Desk", asst, nil)
	pbx := b.ipTrunk(t, "Kill PBX", srcKill, "127.0.0.1:9", nil)
	const number, from, fromAfter = "+16478498200", "+14165558201", "+14165558202"
	b.addNumberOn(t, number, asstID, pbx.ID)
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	uac := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: srcKill, Remote: sw.remote(), Calls: 1,
		Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: from, To: number}})
	ac := asst.ByParam(t, "from", from, 10*time.Second)
	rec := b.waitRecord(t, "the call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.Status == "in-progress" })
	testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 5 }, nil)

	t.Cleanup(func() {
		if !sw.Running() { // leave a switch for whatever runs next
			if err := sw.Start(); err != nil {
				t.Errorf("starting FreeSWITCH again: %v", err)
			}
		}
	})
	if err := sw.Kill(); err != nil {
		t.Fatal(err)
	}
	uac.Stop() // its call died with the switch: no BYE will come
	testkit.Eventually(t, 10*time.Second, "sipbridge reporting FreeSWITCH down (/readyz 503)", func() bool { st, _ := b.Ready(); return st == 503 }, nil)

	m, lm := sw.Mark(), b.LogMark()
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	b.WaitReady(t, 40*time.Second)
	back := time.Now()
	done := b.waitRecord(t, "the call's record closed once the switch is back", 10*time.Second, func(c CallRecord) bool { return c.ID == rec.ID && c.EndedAt != nil })
	t.Logf("the record closed %v after sipbridge was ready again: status %q, reason %q, hangup_cause %q",
		time.Since(back).Round(time.Millisecond), done.Status, done.Reason, done.HangupCause)
	if done.Status != "completed" || !strings.Contains(done.Reason, "FreeSWITCH") {
		t.Errorf("the call of the killed switch: status %q, reason %q; want completed with a reason naming FreeSWITCH", done.Status, done.Reason)
	}
	select {
	case <-ac.Closed():
	case <-time.After(5 * time.Second):
		t.Error("the assistant's stream of the lost call is still open")
	}

	// The trunks re-applied: each gateway once, the registration REGED.
	b.WaitTrunk(t, regTr.ID, "the registration trunk REGED again", 20*time.Second, func(tr Trunk) bool {
		return tr.GatewayState == "REGED" && tr.SyncStatus.State == "applied"
	})
	b.WaitApplied(t, pbx.ID, 10*time.Second)
	sw.WaitQuiet(t, time.Second, 15*time.Second)
	var names []string
	for _, g := range sw.Gateways(t) {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	want := []string{regTr.GatewayName, pbx.GatewayName}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("FreeSWITCH's gateways after the kill: %q, want %q (each once)", names, want)
	}
	for _, c := range b.SyncCommandsSince(lm) {
		if strings.Contains(c, "killgw") || strings.Contains(c, "restart") {
			t.Errorf("sipbridge sent %q after the switch came back; the gateways it loaded from sipbridge's files were right", c)
		}
	}
	if kills := sw.APICommandsSince(m, "sofia profile external killgw"); len(kills) > 0 {
		t.Errorf("FreeSWITCH was asked to killgw %q after it came back", kills)
	}

	// The next call goes through.
	RunSipp(t, SippOptions{Scenario: "uac-call.xml", IP: srcKill, Remote: sw.remote(), Calls: 1,
		Timeout: 30 * time.Second, Data: call{From: fromAfter, To: number, HoldMs: 1000}})
	b.waitRecord(t, "the call after the kill completed", 10*time.Second, func(c CallRecord) bool {
		return c.From == fromAfter && c.Status == "completed"
	})
}

package e2e

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

// Calls across a restart of sipbridge, on the real switch: a caller (sipp
// with -rtp_echo, holding the call 25 s, then hanging up; an unexpected
// BYE fails it) talks with the test assistant; the sipbridge process is
// killed (SIGKILL: no shutdown at all) or stopped with SIGTERM and
// SHUTDOWN_CALLS=handoff, and started again on the same database at once.
// The new process adopts the call: a new assistant socket whose start
// says resumed=true gets the caller's audio again, and the assistant's
// audio reaches the caller again (its echo comes back) within 5 s of the
// kill. The caller never gets a BYE; the record ends completed when the
// caller hangs up, the adoption in its timeline.
func init() {
	addScenario(scenario{"restart_adopt", func(t *testing.T, b *Bridge) {
		testRestartAdopt(t, b, "127.0.0.86", "+16478498600", "SIGKILL", func(t *testing.T) {
			if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-b.exited
		})
	}}, scenario{"restart_handoff", func(t *testing.T, b *Bridge) {
		n := len(b.Env)
		b.Env = append(b.Env, "SHUTDOWN_CALLS=handoff")
		b.Restart(t) // the process to stop runs with handoff
		b.Env = b.Env[:n]
		testRestartAdopt(t, b, "127.0.0.87", "+16478498700", "SIGTERM (handoff)", func(t *testing.T) {
			if err := b.Stop(); err != nil {
				t.Fatal(err)
			}
		})
	}})
}

// adoptGapMax is the longest the caller may go without the assistant.
const adoptGapMax = 5 * time.Second

func testRestartAdopt(t *testing.T, b *Bridge, src, number, how string, stop func(*testing.T)) {
	sw := b.SW
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Adopt Desk "+src, asst, nil)
	pbx := b.ipTrunk(t, "Adopt PBX "+src, src, "127.0.0.1:9", nil)
	const from = "+14165558600"
	b.addNumberOn(t, number, asstID, pbx.ID)
	sw.WaitQuiet(t, 300*time.Millisecond, 10*time.Second)

	// The caller stays 12 s: the restart and the checks around it take 3-5
	// s here (7 s at a load average of 12); it then hangs up itself.
	uac := StartSipp(t, SippOptions{Scenario: "uac-call.xml", IP: src, Remote: sw.remote(), Calls: 1,
		Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: from, To: number, HoldMs: 12000}})
	ac := asst.Next(t, 10*time.Second)
	rec := b.WaitCall(t, "the call in progress", 10*time.Second, func(c Call) bool { return c.To == number && c.Status == "in-progress" })
	testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 25 }, nil)
	before := time.Now()
	if err := speakBurst(ac, toneHz, 300); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 3*time.Second, "the assistant heard by the caller before the restart", func() bool { return echoToneSince(ac, before) }, nil)
	echoBefore := echoRun(ac, before)[0].Sub(before)

	lm := b.LogMark()
	killed := time.Now()
	stop(t)
	b.start(t) // the same database, at once
	ac2 := asst.Next(t, 10*time.Second)
	connected := time.Now()
	// The assistant speaks as soon as it is connected again, in short
	// bursts, until the caller's echo of it comes back.
	var heard time.Time
	deadline := time.Now().Add(10 * time.Second)
	for heard.IsZero() && time.Now().Before(deadline) {
		if err := speakBurst(ac2, toneHz, 200); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		heard = echoRun(ac2, connected)[0]
	}
	if heard.IsZero() {
		t.Fatalf("the assistant's audio never reached the caller after the restart (%d caller frames at the new socket)", ac2.Frames())
	}
	testkit.Eventually(t, 5*time.Second, "the caller's audio at the new assistant socket", func() bool { return ac2.Frames() >= 25 }, nil)
	if got := ac2.Param("resumed"); got != "true" {
		t.Errorf("the new assistant socket's customParameters.resumed = %q, want true", got)
	}
	if got := ac2.Param("call_id"); got != rec.ID {
		t.Errorf("the new assistant socket's call_id = %q, want the record's %s", got, rec.ID)
	}
	if got := ac2.Param("welcome_message"); got != "" {
		t.Errorf("the resumed call's start has welcome_message %q, want none", got)
	}
	gap := heard.Sub(killed)
	t.Logf("%s: the assistant's socket back %v after the stop, its audio heard by the caller again %v after the stop (echo before the restart: %v)",
		how, connected.Sub(killed).Round(time.Millisecond), gap.Round(time.Millisecond), echoBefore.Round(time.Millisecond))
	if gap > adoptGapMax {
		t.Errorf("the caller went %v without the assistant, want at most %v", gap.Round(time.Millisecond), adoptGapMax)
	}
	b.WaitReady(t, 20*time.Second)
	took := b.LogSince(lm, "calls left open by a previous run")
	if len(took) != 1 || took[0]["adopted"] != float64(1) {
		t.Errorf("the new process's adoption log lines: %v, want one with adopted 1", took)
	} else {
		t.Logf("adoption: %v calls adopted, %v closed, in %v ms", took[0]["adopted"], took[0]["closed"], took[0]["took_ms"])
	}

	if code := uac.Wait(t, 40*time.Second); code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	if byes := uac.Received("BYE "); len(byes) > 0 {
		t.Errorf("the caller got a BYE:\n%s", byes[0])
	}
	done := b.WaitCall(t, "the record closed", 10*time.Second, func(c Call) bool { return c.ID == rec.ID && c.EndedAt != nil })
	if done.Status != "completed" {
		t.Errorf("the adopted call ended %q (%s), want completed", done.Status, done.Reason)
	}
	evs := b.callEvents(t, rec.ID)
	i := slices.IndexFunc(evs, func(e CallEvent) bool { return e.Type == "adopted" })
	if i < 0 {
		t.Fatalf("no adopted event in the timeline %v", eventTypes(evs))
	}
	t.Logf("adopted event: %v; timeline %s", evs[i].Detail, strings.Join(eventTypes(evs), " "))
	if strings.Contains(how, "handoff") && !slices.Contains(eventTypes(evs), "handed_off") {
		t.Errorf("no handed_off event in the timeline %v", eventTypes(evs))
	}
}

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"assistant_stall", testAssistantStall})
}

const (
	srcStall      = "127.0.0.84" // the PBX of the assistant_stall scenario
	stallNumber   = "+16478498400"
	stallCaller   = "+14165558401"
	stallFallback = "+12125558402"
)

// stallHeapBound is how far sipbridge's heap (go_memstats_heap_alloc_bytes)
// may go past the GC's goal at the baseline (go_memstats_next_gc_bytes,
// twice the live heap of the last collection) while the assistant stalls:
// the heap swings up to that goal with no growth at all, and a live heap
// ~2 MiB larger (a call's state, or audio queued for the stall) moves the
// goal, and the heap's peaks, 4 MiB up.
const stallHeapBound = 4 << 20

// testAssistantStall: the assistant stops reading its websocket for 10 s a
// second into a call (README, Faults). sipbridge queues none of the caller's
// audio without bound: its heap stays within a few MiB of the baseline's
// for the whole stall (stallHeapBound); once a write has been blocked for the write deadline the
// assistant counts as gone and the call goes to the assistant's
// fallback_transfer_number (an E.164 number, bridged out through the trunk:
// its carrier gets the INVITE) before the 10 s are over, the caller staying
// on the line; the frames that came while the write was blocked are dropped
// and counted (frames_dropped in the call's "caller audio dropped" log
// line); what the assistant still reads when it reads again is a few seconds
// of audio, not the stall's 10 s, and then the stream is closed. The call's
// record closes (completed, "transferred to" the fallback number, the
// caller's NORMAL_CLEARING) with assistant_disconnected,
// fallback_transfer and transferred on its timeline, and sipbridge's
// goroutines and descriptors return to the baseline.
func testAssistantStall(t *testing.T, b *Bridge) {
	requireRawSocket(t)
	const readFirst, stall = 50, 10 * time.Second
	asst := StartStallingAssistant(t, readFirst, stall)
	asstID := b.CreateAssistant(t, "Stalling Desk", asst, map[string]any{"fallback_transfer_number": stallFallback})
	carrier := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 1, Timeout: 60 * time.Second, Data: uasData{Code: 200}})
	tr := b.ipTrunk(t, "Stall PBX", srcStall, fmt.Sprintf("%s:%d", carrier.IP, carrier.Port), nil)
	b.addNumberOn(t, stallNumber, asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	heap0, goal0 := b.metric(t, "go_memstats_heap_alloc_bytes"), b.metric(t, "go_memstats_next_gc_bytes")
	base := b.quietUsage(t)
	lm := b.LogMark()

	const talk = 9 * time.Second
	c := toUser(stallCaller, stallNumber)
	c.PCAP, c.HoldMs = writeTrack(t, "caller-tone-stall.pcap", newRTPTrack().Tone(callerTone, talk)), int(talk.Milliseconds())
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcStall, Remote: b.SW.remote(), Calls: 1, Timeout: 30 * time.Second, Data: c})
	ac := asst.ByParam(t, "from", stallCaller, 10*time.Second)
	var stalled, resumed time.Time
	testkit.Eventually(t, 5*time.Second, "the assistant reading the caller's first second, then stalling", func() bool {
		stalled, _ = ac.Stall()
		return !stalled.IsZero()
	}, nil)

	// Through the stall: the heap, and when the fallback's INVITE reaches the carrier.
	var fellBack time.Duration
	maxHeap := heap0
	for resumed.IsZero() {
		maxHeap = max(maxHeap, b.metric(t, "go_memstats_heap_alloc_bytes"))
		if fellBack == 0 && len(carrier.Received("INVITE ")) > 0 {
			fellBack = time.Since(stalled)
		}
		time.Sleep(200 * time.Millisecond)
		_, resumed = ac.Stall()
	}
	t.Logf("e2e-bench: assistant_stall fallback=%v heap_alloc baseline=%.1fMiB (GC goal %.1fMiB) max_during_stall=%.1fMiB",
		fellBack.Round(10*time.Millisecond), heap0/(1<<20), goal0/(1<<20), maxHeap/(1<<20))
	if fellBack == 0 {
		t.Errorf("the fallback number's carrier got no INVITE while the assistant stalled %v (it got %d)", stall, len(carrier.Received("INVITE ")))
	}
	if maxHeap > max(goal0, heap0)+stallHeapBound {
		t.Errorf("sipbridge's heap reached %.1f MiB while the assistant stalled, want < %d MiB over the baseline's GC goal (%.1f MiB)", maxHeap/(1<<20), stallHeapBound>>20, goal0/(1<<20))
	}

	// The caller stayed on the line with the fallback and hung up itself.
	if code := uac.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	if code := carrier.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("the fallback carrier's sipp exited %d (%s): %s", code, sippExit(code), carrier.Report())
	}
	rec := b.waitRecord(t, "the call record closed", 10*time.Second, func(c CallRecord) bool { return c.From == stallCaller && c.EndedAt != nil })
	if rec.Status != "completed" || rec.HangupCause != "NORMAL_CLEARING" || rec.Reason != "transferred to "+stallFallback {
		t.Errorf("the call's record: status %q, hangup_cause %q, reason %q; want completed, the caller's NORMAL_CLEARING, transferred to %s",
			rec.Status, rec.HangupCause, rec.Reason, stallFallback)
	}
	evs := b.callEvents(t, rec.ID)
	types := eventTypes(evs)
	for _, want := range []string{"assistant_disconnected", "fallback_transfer", "transferred"} {
		if !slices.Contains(types, want) {
			t.Errorf("timeline %q: no %s", types, want)
		}
	}
	if ev, ok := findEvent(evs, "fallback_transfer"); !ok || ev.Detail["to"] != stallFallback {
		t.Errorf("fallback_transfer %+v, want to %s", ev, stallFallback)
	}

	// The frames of the blocked write (the 2 s deadline: ~100 frames, 25 of
	// them queued) were dropped, and counted.
	var dropped float64
	testkit.Eventually(t, 5*time.Second, "sipbridge's log line counting the call's dropped frames", func() bool {
		for _, e := range b.LogSince(lm, "caller audio dropped: the assistant did not take it in time") {
			if e.Str("call_id") == rec.ID {
				dropped, _ = e["frames_dropped"].(float64)
				return true
			}
		}
		return false
	}, nil)
	if dropped < 25 {
		t.Errorf("frames_dropped %v, want the frames of the blocked write (≥ 25)", dropped)
	}

	// What waited in the connection for the stalled assistant: a few
	// seconds of audio, then the stream closed.
	select {
	case <-ac.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled assistant's stream is still open after it read again")
	}
	after := ac.FramesSince(resumed)
	t.Logf("e2e-bench: assistant_stall frames_dropped=%v frames_read_after_stall=%d", dropped, after)
	if most := int(6 * time.Second / frame20ms); after > most {
		t.Errorf("%d frames (%v of audio) waited for the stalled assistant, want ≤ %d", after, time.Duration(after)*frame20ms, most)
	}

	var end soakUsage
	testkit.Eventually(t, 15*time.Second, "sipbridge's goroutines and descriptors back to the baseline", func() bool {
		end = b.usage(t)
		return end.goroutines <= base.goroutines+1 && end.fds <= base.fds+soakFDSlack
	}, func() string { return fmt.Sprintf("baseline %s, now %s", base, end) })
	t.Logf("e2e-bench: assistant_stall baseline %s, after %s", base, end)
}

// quietUsage is sipbridge's usage with the fewest goroutines of five
// samples over a second: the goroutines of connections the harness just
// closed are gone, so a baseline for "back to the baseline" is not
// inflated by them.
func (b *Bridge) quietUsage(t testing.TB) soakUsage {
	t.Helper()
	u := b.usage(t)
	for range 4 {
		time.Sleep(250 * time.Millisecond)
		if v := b.usage(t); v.goroutines < u.goroutines {
			u = v
		}
	}
	return u
}

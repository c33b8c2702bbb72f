package e2e

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"load", testLoad})
}

// Load figures: 50 concurrent streamed calls of 30 s, placed at 20 calls/s.
const (
	loadCalls = 50
	loadRate  = 20
	loadHold  = 30 * time.Second
)

// testLoad: 50 concurrent calls, placed by one sipp at 20 calls/s, each
// playing the caller tone for 30 s, all streamed to one assistant. Every
// call's audio reaches the assistant: ≥ 99 % of the 20 ms frames its
// stream spans (none dropped), ≥ 97 % of the 1500 of a 30 s call (the
// stream covers the call), the tone on ≥ 97 % of the frames of its run
// (the caller's own RTP, 50 sipp threads on a busy machine, comes late at
// times and FreeSWITCH then reads silence: the caller_audio scenario holds
// one call to 99 %);
// FreeSWITCH holds 50 channels at once and every call ends well (sipp exit
// 0, 50 completed records). It logs, as `e2e-bench:` lines for
// BENCHMARKS.md: call setup time (INVITE → 200 OK from sipp's message
// trace, p50/p99), the frame gap at the assistant (mean/p99 of the
// inter-arrival of media messages, every call pooled), a caller frame's
// time through sipbridge (its sipbridge_bridge_frame_seconds histogram,
// bucket bounds), and the CPU of
// sipbridge and FreeSWITCH (utime+stime from /proc, in cores) while all 50
// calls stream.
//
// It runs on one database only, PostgreSQL when the run has one, else the
// embedded SQLite, and takes about 40 s.
func testLoad(t *testing.T, b *Bridge) {
	if os.Getenv(dbtest.EnvVar) != "" && b.Name != "postgres" {
		t.Skip("load runs once per suite: on PostgreSQL (this run has one)")
	}
	requireRawSocket(t)
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Load Receptionist", asst, nil)
	tr := b.ipTrunk(t, "Load PBX", srcLoad, srcLoad+":5060", nil)
	const number = "+16478496000"
	b.addNumberOn(t, number, asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	pcap := writeTrack(t, "caller-tone-30s.pcap", newRTPTrack().Tone(callerTone, loadHold))
	c := toUser("+14165550600", number)
	c.PCAP, c.HoldMs = pcap, int(loadHold.Milliseconds())
	frames0 := b.readHistogram(t, "sipbridge_bridge_frame_seconds")
	started := time.Now()
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcLoad, Remote: b.SW.remote(), Calls: loadCalls,
		Timeout: loadHold + 25*time.Second, Data: c,
		Args: []string{"-l", strconv.Itoa(loadCalls), "-r", strconv.Itoa(loadRate)}})

	// CPU while every call streams: from the 50th stream's start, for 20 s.
	testkit.Eventually(t, 15*time.Second, fmt.Sprintf("%d streams at the assistant", loadCalls), func() bool {
		return len(asst.Conns()) >= loadCalls
	}, func() string { return fmt.Sprintf("%d streams", len(asst.Conns())) })
	allUp := time.Since(started)
	bridgeCPU, fsCPU := startCPU(t, b.cmd.Process.Pid), startCPU(t, b.SW.pid())
	select {
	case <-uac.Done():
		t.Fatalf("sipp ended while the calls should be up: %s", uac.Report())
	case <-time.After(20 * time.Second):
	}
	bridgeCores, fsCores := bridgeCPU.Cores(t), fsCPU.Cores(t)
	if live := len(b.SW.Channels(t)); live != loadCalls {
		t.Errorf("FreeSWITCH has %d channels with every call up, want %d", live, loadCalls)
	}

	if code := uac.Wait(t, loadHold+20*time.Second); code != 0 {
		t.Errorf("sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	elapsed := time.Since(started)
	conns := asst.Conns()
	testkit.Eventually(t, 10*time.Second, "every stream stopped", func() bool {
		for _, ac := range conns {
			if !ac.Stopped() {
				return false
			}
		}
		return true
	}, nil)

	// Per call: continuity (the frames its stream's span should hold, from
	// the first media message to the last, are there: nothing dropped on
	// the way) and coverage (the stream spans the 30 s call: it started
	// within ~0.9 s of the answer, which the race detector and other
	// processes on a shared 2-core machine can stretch).
	want := int(loadHold / frame20ms)
	var allGaps []time.Duration
	var continuity, coverage, toneShare []float64
	silent := 0
	bad := 0
	for i, ac := range conns {
		times := ac.Arrivals()
		if len(times) < 2 {
			t.Errorf("call %d (%s): %d media messages", i, ac.Param("call_id"), len(times))
			continue
		}
		allGaps = append(allGaps, gaps(times)...)
		spanned := int(math.Round(float64(times[len(times)-1].Sub(times[0]))/float64(frame20ms))) + 1
		cont, cov := float64(len(times))/float64(spanned), float64(len(times))/float64(want)
		continuity, coverage = append(continuity, cont), append(coverage, cov)
		run := analyseTone(ac.Audio(), callerTone)
		toneShare, silent = append(toneShare, run.Ratio()), silent+run.Silent
		if cont < 0.99 || cov < 0.97 || run.Ratio() < 0.97 {
			if bad++; bad <= 5 {
				t.Errorf("call %d (%s): %d media messages over a span of %d frames (%.1f %%, want ≥ 99 %%), %.1f %% of the %d a 30 s call brings (want ≥ 97 %%); tone (want ≥ 97 %%): %s",
					i, ac.Param("call_id"), len(times), spanned, 100*cont, 100*cov, want, run)
			}
		}
	}
	if bad > 5 {
		t.Errorf("… and %d more calls short of frames or tone", bad-5)
	}
	var done int
	var parkToStream []time.Duration // the record (written at the park) → mod_audio_stream connected
	for _, r := range b.callRecords(t, "phone_number="+url.QueryEscape(number)+"&status=completed") {
		if r.From == c.From {
			done++
			evs := b.callEvents(t, r.ID)
			var routed, streamed time.Time
			for _, e := range evs {
				switch {
				case e.Type == "routed" && routed.IsZero():
					routed = e.At
				case e.Type == "stream_connected" && streamed.IsZero():
					streamed = e.At
				}
			}
			if !routed.IsZero() && !streamed.IsZero() {
				parkToStream = append(parkToStream, streamed.Sub(routed))
			}
		}
	}
	if done != loadCalls {
		t.Errorf("%d completed call records, want %d", done, loadCalls)
	}

	setup := setupTimes(uac)
	through := b.readHistogram(t, "sipbridge_bridge_frame_seconds").since(frames0)
	slices.Sort(continuity)
	slices.Sort(coverage)
	slices.Sort(toneShare)
	t.Logf("e2e-bench: db=%s calls=%d rate=%d/s hold=%v all_streaming_after=%v elapsed=%v",
		b.Name, loadCalls, loadRate, loadHold, allUp.Round(time.Millisecond), elapsed.Round(time.Millisecond))
	t.Logf("e2e-bench: setup INVITE->200 n=%d p50=%.1fms p99=%.1fms max=%.1fms", len(setup),
		ms(percentile(setup, 50)), ms(percentile(setup, 99)), ms(percentile(setup, 100)))
	t.Logf("e2e-bench: park (routed) -> stream_connected n=%d p50=%.1fms p99=%.1fms max=%.1fms", len(parkToStream),
		ms(percentile(parkToStream, 50)), ms(percentile(parkToStream, 99)), ms(percentile(parkToStream, 100)))
	t.Logf("e2e-bench: frames per call: of its stream's span min=%.1f%% median=%.1f%%; of the %d of 30 s min=%.1f%% median=%.1f%%",
		100*continuity[0], 100*continuity[len(continuity)/2], want, 100*coverage[0], 100*coverage[len(coverage)/2])
	t.Logf("e2e-bench: tone per call min=%.1f%% median=%.1f%% of its frames; silent frames inside the tone, all calls: %d",
		100*toneShare[0], 100*toneShare[len(toneShare)/2], silent)
	t.Logf("e2e-bench: frame gap at the assistant n=%d mean=%.2fms p99=%.2fms max=%.2fms",
		len(allGaps), ms(mean(allGaps)), ms(percentile(allGaps, 99)), ms(percentile(allGaps, 100)))
	t.Logf("e2e-bench: a caller frame through sipbridge (mod_audio_stream ws in → assistant ws out) n=%.0f p50<=%gus p99<=%gus",
		through.total, 1e6*through.quantileBound(0.5), 1e6*through.quantileBound(0.99))
	t.Logf("e2e-bench: cpu over 20 s with %d calls streaming: sipbridge=%.3f cores freeswitch=%.3f cores",
		loadCalls, bridgeCores, fsCores)
	if len(setup) != loadCalls {
		t.Errorf("sipp's trace holds %d INVITE→200 pairs, want %d", len(setup), loadCalls)
	}
}

// pid is the FreeSWITCH process's id.
func (sw *Switch) pid() int {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.cmd.Process.Pid
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

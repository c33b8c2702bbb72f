package e2e

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/provider/providertest"
)

// TestSoakPerCall measures what one live streamed call costs the sipbridge
// process on the real switch: SOAK_PERCALL concurrent calls (e.g. 100),
// placed by one sipp at 20 calls/s, each playing the caller tone for 20 s
// to the assistant. It logs sipbridge's goroutines, descriptors, live heap
// (go_memstats_heap_alloc_bytes, no GC forced: an upper bound) and RSS per
// call over the baseline while every call streams, then checks that
// goroutines and descriptors return to the baseline and FreeSWITCH holds
// no channel once they end. Without SOAK_PERCALL it skips.
//
//	SOAK_PERCALL=100 scripts/with-postgres.sh go test -count=1 -v -run TestSoakPerCall ./e2e/
func TestSoakPerCall(t *testing.T) {
	raw := os.Getenv("SOAK_PERCALL")
	if raw == "" {
		t.Skip("SOAK_PERCALL is not set (the number of concurrent calls, e.g. 100)")
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		t.Fatalf("SOAK_PERCALL=%q: want a number of calls", raw)
	}
	if os.Getenv(dbtest.EnvVar) == "" {
		t.Fatalf("%s is not set (run it through scripts/with-postgres.sh)", dbtest.EnvVar)
	}
	requireRawSocket(t)
	const rate, hold = 20, 20 * time.Second
	sw := sharedSwitch(t)
	tw := providertest.NewTwilio(t, "AC50a50a50a50a50a50a50a50a50a50a5", "50a50a50a50a50a50a50a50a50a50a50")
	b := StartBridge(t, sw, "postgres", dbtest.DSN(t)+"&application_name="+soakPGApp,
		"TWILIO_API_BASE_URL="+tw.URL(), "PUBLIC_BASE_URL="+soakPublic, fmt.Sprintf("DEFAULT_MAX_CONCURRENT_CALLS=%d", 2*n))
	takeOver(t, b)
	s := newSoak(t, b, tw)
	s.warmUp()
	base, heap0 := b.usage(t), b.metric(t, "go_memstats_heap_alloc_bytes")

	c := toUser("+14165557002", soakNumber)
	c.PCAP, c.HoldMs = writeTrack(t, "caller-tone-percall.pcap", newRTPTrack().Tone(callerTone, hold)), int(hold.Milliseconds())
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcSoak, Remote: sw.remote(), Calls: n, Timeout: hold + time.Minute, Data: c,
		Args: []string{"-r", strconv.Itoa(rate), "-l", strconv.Itoa(n)}})
	testkit.Eventually(t, time.Duration(n/rate)*time.Second+15*time.Second, fmt.Sprintf("%d streams at the assistant", n), func() bool {
		return s.asst.open.Load() >= int64(n)
	}, func() string { return fmt.Sprintf("%d streams open", s.asst.open.Load()) })
	time.Sleep(2 * time.Second) // every call streaming for a while
	live, heap := b.usage(t), b.metric(t, "go_memstats_heap_alloc_bytes")
	channels := sw.channelCount(t)
	if code := uac.Wait(t, hold+time.Minute); code != 0 {
		t.Errorf("sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	s.settle()
	var end soakUsage
	testkit.Eventually(t, 30*time.Second, "sipbridge's goroutines and descriptors back to the baseline", func() bool {
		end = b.usage(t)
		return end.goroutines <= base.goroutines+soakGoSlack && end.fds <= base.fds+soakFDSlack
	}, func() string { return fmt.Sprintf("baseline %s, now %s", base, end) })
	f := float64(n)
	t.Logf("soak-percall: calls=%d fs_channels_live=%d per call: goroutines=%.2f fds=%.2f heap_alloc=%.0fB rss=%.0fB; baseline %s, live %s, after %s",
		n, channels, float64(live.goroutines-base.goroutines)/f, float64(live.fds-base.fds)/f, (heap-heap0)/f, float64(live.rss-base.rss)/f, base, live, end)
}

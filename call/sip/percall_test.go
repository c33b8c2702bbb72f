package sip_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/trunk"
	"gorm.io/gorm"
)

// callRig is the whole SIP call path in one process: the FreeSWITCH
// simulator (its channels stream the caller's 16 kHz tone over real
// mod_audio_stream websockets), sipbridge (app.App: call control, the
// HTTP server carrying the stream websockets, the embedded SQLite store)
// and an assistant that reads every message until the stream closes.
type callRig struct {
	tb     testing.TB
	sw     *fstest.Switch
	app    *app.App
	trunk  *db.SIPTrunk
	number string
	asst   *httptest.Server
	// logPath holds sipbridge's warnings and errors.
	logPath string
	// streams counts the assistant's open websockets.
	mu      sync.Mutex
	streams int
}

func newCallRig(tb testing.TB) *callRig {
	tb.Helper()
	return newCallRigWith(tb, nil)
}

// newCallRigWith is newCallRig with call control's options changed by more.
func newCallRigWith(tb testing.TB, more func(*sip.CallsOptions)) *callRig {
	tb.Helper()
	return newCallRigOn(tb, dbtest.SQLite(tb), more)
}

// newCallRigOn is newCallRigWith on the database g.
func newCallRigOn(tb testing.TB, g *gorm.DB, more func(*sip.CallsOptions)) *callRig {
	tb.Helper()
	logPath := filepath.Join(tb.TempDir(), "sipbridge.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { logFile.Close() })
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := db.NewStore(g, dbtest.Keyring(tb), log)
	genDir := tb.TempDir()
	sw := fstest.New(fstest.Options{GenDir: genDir, Step: 5 * time.Millisecond})
	if err := sw.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sw.Close() })
	r := &callRig{tb: tb, sw: sw, number: "+16478491000", logPath: logPath}
	up := websocket.Upgrader{}
	r.asst = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ws, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		r.count(1)
		defer r.count(-1)
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}))
	tb.Cleanup(r.asst.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	loopback := &netpolicy.Policy{AllowPrivate: true, AllowLoopback: true}
	a, err := app.New(context.Background(), app.Config{Store: store, Log: log, AddressPolicy: loopback,
		Switch:       &app.Switch{Addr: sw.Addr(), Password: "ClueCon", CallConnections: 1, GenDir: genDir},
		StreamWSBase: "ws://" + ln.Addr().String(), RecordingsDir: tb.TempDir(), ManualSync: true,
		SyncOptions: func(o *trunk.SyncOptions) { o.AddressPolicy = loopback },
		// Hundreds of calls set up at once on 2 shared cores (and the race
		// detector): generous connect timeouts, or a late stream ends its call.
		CallsOptions: func(co *sip.CallsOptions) {
			co.AddressPolicy, co.AssistantConnectTimeout, co.StreamConnectTimeout = loopback, 20*time.Second, 20*time.Second
			if more != nil {
				more(co)
			}
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Start(); err != nil {
		tb.Fatal(err)
	}
	r.app = a
	srv := httptest.NewUnstartedServer(a.Web.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	tb.Cleanup(func() { a.Close(); srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.WaitSwitch(ctx); err != nil {
		tb.Fatal(err)
	}
	select { // the start's adoption reads the store: done before a test hooks it
	case <-a.Adopted():
	case <-ctx.Done():
		tb.Fatal("the start's adoption did not end")
	}

	org, _, err := store.EnsureOrg(ctx, "org-a")
	if err != nil {
		tb.Fatal(err)
	}
	r.trunk = &db.SIPTrunk{ID: db.NewID(), OrgID: org.ID, Name: "PBX", GatewayName: fmt.Sprintf("o%d_pbx", org.ID), Gateway: "127.0.0.1",
		Priority: 1, Enabled: true, Transport: "udp", AllowedAddresses: db.StringList{"127.0.0.1/32"}}
	if err := store.CreateTrunk(ctx, r.trunk); err != nil {
		tb.Fatal(err)
	}
	as := &db.Assistant{OrgID: org.ID, Name: "Receptionist", StreamURL: "ws" + strings.TrimPrefix(r.asst.URL, "http") + "/stream"}
	if err := store.SaveAssistant(ctx, as, db.AssistantSecrets{}); err != nil {
		tb.Fatal(err)
	}
	n := &db.PhoneNumber{OrgID: org.ID, PhoneNumber: r.number, Provider: db.ProviderBYOSIP, CountryCode: "CA",
		SIPTrunkID: &r.trunk.ID, CapVoice: true, IsActive: true, AssistantID: &as.ID}
	if err := store.SaveNumber(ctx, n); err != nil {
		tb.Fatal(err)
	}
	return r
}

// warnings returns the end of sipbridge's log (warnings and errors).
func (r *callRig) warnings() string {
	data, _ := os.ReadFile(r.logPath)
	return string(data[max(0, len(data)-4000):])
}

func (r *callRig) count(d int) {
	r.mu.Lock()
	r.streams += d
	r.mu.Unlock()
}

func (r *callRig) openStreams() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.streams
}

// place starts n calls to the rig's number, gap apart, and waits until each streams:
// its assistant websocket is open and the simulator has sent caller frames
// on its mod_audio_stream websocket.
func (r *callRig) place(n int, gap, within time.Duration) []string {
	r.tb.Helper()
	uuids := make([]string, 0, n)
	for i := range n {
		time.Sleep(gap)
		id, err := r.sw.Call(fstest.InboundCall{FromUser: fmt.Sprintf("+1416555%04d", i), RequestUser: r.number, ACLAuthedBy: r.trunk.GatewayName})
		if err != nil {
			r.tb.Fatal(err)
		}
		uuids = append(uuids, id)
	}
	if !waitFor(within, func() bool {
		if r.openStreams() < n {
			return false
		}
		for _, id := range uuids {
			if r.sw.StreamFrames(id) == 0 {
				return false
			}
		}
		return true
	}) {
		r.tb.Fatalf("%d of %d calls streaming after %v (%d live in call control); sipbridge's warnings:\n%s",
			r.openStreams(), n, within, r.app.Calls.Active(), r.warnings())
	}
	return uuids
}

// hangUp ends the calls as the callers would and waits until call control
// holds none and the assistant's websockets are closed.
func (r *callRig) hangUp(uuids []string, within time.Duration) {
	r.tb.Helper()
	for _, id := range uuids {
		r.sw.Hangup(id, "NORMAL_CLEARING")
	}
	if !waitFor(within, func() bool { return r.app.Calls.Active() == 0 && r.openStreams() == 0 }) {
		r.tb.Fatalf("after the hangups: %d calls live in call control, %d assistant streams open", r.app.Calls.Active(), r.openStreams())
	}
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// usage is the process's live heap after a GC, its goroutines (all, and
// sipbridge's own: those that are neither the simulator's nor this test's
// assistant's) and its open file descriptors.
type usage struct {
	heap              uint64
	goroutines, ownGo int
	fds               int
}

func measure(tb testing.TB) usage {
	tb.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u := usage{heap: ms.HeapAlloc, fds: openFDs(tb)}
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		u.goroutines++
		if !bytes.Contains(g, []byte("/freeswitch/fstest")) && !bytes.Contains(g, []byte("call/sip_test.")) {
			u.ownGo++
		}
	}
	return u
}

func openFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skipf("open file descriptors: %v (Linux's /proc is needed)", err)
	}
	return len(ents)
}

// settle waits until the goroutines and descriptors are back within slack
// of base (sockets in TIME_WAIT hold no descriptor; closing goroutines take
// a moment) and returns the last measure.
func settle(tb testing.TB, base usage, slack int, within time.Duration) (usage, bool) {
	var u usage
	ok := waitFor(within, func() bool {
		u = measure(tb)
		return u.goroutines <= base.goroutines+slack && u.fds <= base.fds
	})
	return u, ok
}

// runPerCall measures n concurrent streamed calls on the simulator: the
// usage while they all stream, minus the baseline (the rig up and one call
// placed and ended, so lazily made pools count in the baseline), per call;
// then it ends them and checks that goroutines and descriptors return to
// the baseline.
func runPerCall(tb testing.TB, n int, gap time.Duration) (perHeap, perGo, perOwnGo, perFD, keptHeap float64) {
	r := newCallRig(tb)
	r.hangUp(r.place(1, 0, 10*time.Second), 10*time.Second)
	// The baseline: once the warm-up call's goroutines have gone (two
	// measures 100 ms apart agree).
	base := measure(tb)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		u := measure(tb)
		if u.goroutines == base.goroutines && u.fds == base.fds {
			break
		}
		base = u
	}
	t0 := time.Now()
	uuids := r.place(n, gap, time.Duration(n)*gap+30*time.Second)
	tb.Logf("%d calls streaming after %v", n, time.Since(t0))
	time.Sleep(time.Second) // a second of audio on every call
	live := measure(tb)
	r.hangUp(uuids, 30*time.Second)
	const slack = 5
	after, ok := settle(tb, base, slack, 15*time.Second)
	if !ok {
		buf := make([]byte, 1<<20)
		tb.Fatalf("after %d calls ended: %d goroutines (baseline %d, slack %d), %d fds (baseline %d)\n%s",
			n, after.goroutines, base.goroutines, slack, after.fds, base.fds, buf[:runtime.Stack(buf, true)])
	}
	tb.Logf("%d calls: baseline heap=%d goroutines=%d (sipbridge %d) fds=%d; live heap=%d goroutines=%d (sipbridge %d) fds=%d; after heap=%d goroutines=%d fds=%d",
		n, base.heap, base.goroutines, base.ownGo, base.fds, live.heap, live.goroutines, live.ownGo, live.fds, after.heap, after.goroutines, after.fds)
	f := float64(n)
	return (float64(live.heap) - float64(base.heap)) / f, float64(live.goroutines-base.goroutines) / f,
		float64(live.ownGo-base.ownGo) / f, float64(live.fds-base.fds) / f, (float64(after.heap) - float64(base.heap)) / f
}

// 20 streamed calls on the simulator, placed at 10 calls/s, end without
// leaving a goroutine or a file descriptor behind: each call's session, its
// two websockets (from mod_audio_stream, to the assistant) and their
// readers go with it. A leak of one goroutine a call is 20 over the
// baseline, four times the slack. (20, not more: under the race detector on
// a shared 2-core machine, 50 calls at once starve the ESL and database
// deadlines of the simulator and sipbridge sharing the process.)
func TestCallsReturnToBaseline(t *testing.T) {
	_, perGo, perOwn, perFD, _ := runPerCall(t, 20, 100*time.Millisecond)
	// A streamed call that held nothing would measure nothing: the check
	// above would prove nothing.
	if perOwn < 1 || perFD < 2 {
		t.Fatalf("per live call: %.1f goroutines of sipbridge (%.1f in all), %.1f fds: the calls were not streaming", perOwn, perGo, perFD)
	}
}

// BenchmarkCallsPerCall reports what one live streamed call costs the
// process, with 100 and 250 concurrent calls on the FreeSWITCH simulator
// (PERCALL_CALLS=500 for more: the simulator's 500 channels, sipbridge and
// the assistant in one process need more than a shared 2-core machine):
// live heap after a GC, goroutines (every one in the process, and
// sipbridge's own), open file descriptors; and fails unless goroutines
// and descriptors return to the baseline once the calls end.
//
//	go test -run '^$' -bench CallsPerCall -benchtime=1x ./call/sip/
//	PERCALL_CALLS=500 go test -run '^$' -bench CallsPerCall -benchtime=1x ./call/sip/
func BenchmarkCallsPerCall(b *testing.B) {
	sizes := []int{100, 250}
	if v := os.Getenv("PERCALL_CALLS"); v != "" { // e.g. PERCALL_CALLS=500 on a quiet machine
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				b.Fatalf("PERCALL_CALLS=%q: want call counts, e.g. 100,500", v)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				heap, gos, own, fds, kept := runPerCall(b, n, 20*time.Millisecond)
				b.ReportMetric(heap, "heap-bytes/call")
				b.ReportMetric(gos, "goroutines/call")
				b.ReportMetric(own, "sipbridge-goroutines/call")
				b.ReportMetric(fds, "fds/call")
				b.ReportMetric(kept, "heap-kept-bytes/call")
			}
		})
	}
}

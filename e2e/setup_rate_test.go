package e2e

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"gorm.io/gorm"
)

// Call setup at rate: short streamed calls placed by one sipp at each rate
// of SETUP_RATES for setupPlacing, so that about rate × hold are up at once.
const (
	srcRate      = "127.0.0.94" // the PBX placing the calls
	setupPlacing = 5 * time.Second
	setupHold    = 3 * time.Second // SETUP_HOLD overrides
	setupTarget  = 5 * time.Millisecond
	setupAtRate  = 50               // the target holds at this rate
	setupPGApp   = "sipbridge-rate" // application_name of sipbridge's PostgreSQL sessions
)

// fsLimitLine matches FreeSWITCH's log lines about its own limits: the
// sessions-per-second throttle, max-sessions, RTP ports run out.
var fsLimitLine = regexp.MustCompile(`(?i).*(throttle|session limit|max.sessions|rtp port|no ports).*`)

// TestSetupRate places short calls with audio at each rate of SETUP_RATES
// (calls/s, e.g. SETUP_RATES=20,50,100; skipped without it), rate × 5 s
// calls each playing the caller tone for 3 s (SETUP_HOLD), all streamed to
// one assistant, and logs per rate as `e2e-bench:` lines: calls
// attempted, answered and failed (by SIP code); INVITE → 200 OK from
// sipp's trace; park → answer, from the CHANNEL_PARK event to the
// CHANNEL_ANSWER one as the harness's own Event Socket connection receives
// them (what sipbridge takes to route, record, connect the assistant and
// answer a parked call; FreeSWITCH's own event stamps move in 20 ms steps
// when it is idle, too coarse); routed → answered from the
// call's timeline; park → stream_connected; the CPU of sipbridge,
// FreeSWITCH and sipp over the run; which side failed first. It fails
// when sipbridge is the limit: a parked call it did not answer, or a
// warning or error it logged, at a rate FreeSWITCH and sipp kept up with.
// SETUP_PROFILE=dir writes a CPU profile of sipbridge per rate there.
// It runs on PostgreSQL when the run has one, else on SQLite.
func TestSetupRate(t *testing.T) {
	raw := os.Getenv("SETUP_RATES")
	if raw == "" {
		t.Skip("SETUP_RATES is not set (e.g. SETUP_RATES=20,50,100)")
	}
	var rates []int
	for _, f := range strings.Split(raw, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 || r > 500 {
			t.Fatalf("SETUP_RATES=%q: want calls/s from 1 to 500, comma-separated", raw)
		}
		rates = append(rates, r)
	}
	hold := setupHold
	if v := os.Getenv("SETUP_HOLD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			t.Fatalf("SETUP_HOLD=%q: want a Go duration of at least 1s", v)
		}
		hold = d
	}
	requireRawSocket(t)
	sw := sharedSwitch(t)
	name, dsn := "sqlite", ""
	if os.Getenv(dbtest.EnvVar) != "" {
		name, dsn = "postgres", dbtest.DSN(t)+"&application_name="+setupPGApp
	}
	env := strings.Fields(os.Getenv("SIPBRIDGE_E2E_ENV")) // e.g. FS_CALL_CONNECTIONS=16
	pprofAddr, profDir := "", os.Getenv("SETUP_PROFILE")
	if profDir != "" {
		port, err := freeTCPPort()
		if err != nil {
			t.Fatal(err)
		}
		pprofAddr = "127.0.0.1:" + strconv.Itoa(port)
		env = append(env, "PPROF_ADDR="+pprofAddr)
	}
	var pg *pgCounter
	if dsn != "" {
		pg = newPGCounter(t, dsn)
	}
	b := StartBridge(t, sw, name, dsn, env...)
	takeOver(t, b)
	asst := startCountingAssistant(t, 0)
	var out struct {
		ID string `json:"id"`
	}
	b.API.Call(t, "POST", "/api/v1/assistants", map[string]any{"name": "Rate", "stream_url": asst.URL()}, http.StatusCreated, &out)
	tr := b.ipTrunk(t, "Rate PBX", srcRate, srcRate+":5060", nil)
	pcap := writeTrack(t, "caller-tone-rate.pcap", newRTPTrack().Tone(callerTone, hold))
	// A warm-up call: the first of anything (pools, the assistant's
	// connection) is not the rate's.
	warm := "+16478496099"
	b.addNumberOn(t, warm, out.ID, tr.ID)
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	c := toUser("+14165550699", warm)
	c.PCAP, c.HoldMs = pcap, 1000
	RunSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcRate, Remote: sw.remote(), Calls: 1, Data: c})
	for i, rate := range rates {
		number := fmt.Sprintf("+164784961%02d", i)
		b.addNumberOn(t, number, out.ID, tr.ID)
		sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
		t.Run(fmt.Sprintf("%d_per_s", rate), func(t *testing.T) {
			run := &rateRun{b: b, rate: rate, hold: hold, number: number, pcap: pcap, pprofAddr: pprofAddr, profDir: profDir, pg: pg}
			run.place(t)
			run.gather(t)
			run.report(t)
		})
		testkit.Eventually(t, 30*time.Second, "no channel and no stream left", func() bool {
			return len(sw.Channels(t)) == 0 && asst.open.Load() == 0
		}, func() string { return fmt.Sprintf("%d channels, %d streams", len(sw.Channels(t)), asst.open.Load()) })
	}
}

// rateRun is one rate's run and its figures.
type rateRun struct {
	b                   *Bridge
	rate                int
	hold                time.Duration
	number, pcap        string
	pprofAddr, profDir  string
	uac                 *Sipp
	pg                  *pgCounter
	pgBefore, pgAfter   pgCounts
	pgWaits             map[string]int // sipbridge's busy PostgreSQL sessions by wait, summed over the samples
	pgSamples           int
	machine, postgres   float64 // cores busy: the whole machine, PostgreSQL's processes
	harnessCPU          float64 // this test process: its Event Socket recording, the assistant
	sippExit            int
	fsMark              Mark
	logMark             int
	loadBefore          string
	loadAfter           string
	bridgeCPU, fsCPU    float64
	sippCPU             float64
	placedOver          time.Duration // first INVITE → last INVITE sent
	attempted, answered int
	codes               map[int]int // final SIP codes other than 200, and 0 for none
	setup               []time.Duration
	parkAnswer          []time.Duration // CHANNEL_PARK → CHANNEL_ANSWER, as an Event Socket client receives them
	parkRouted          []time.Duration // CHANNEL_PARK → the timeline's routed (routing, the record written)
	routedAnswered      []time.Duration // the timeline's routed → answered
	apiCommands         int             // api commands FreeSWITCH ran meanwhile (every connection)
	parkStream          []time.Duration // CHANNEL_PARK → the timeline's stream_connected
	parks, unanswered   int             // parked calls, and those never answered
	fsLimits            []string
	bridgeWarns         []string
}

// place runs sipp at the rate for setupPlacing and waits for every call's
// end, measuring the CPU of sipbridge, FreeSWITCH and sipp meanwhile.
func (r *rateRun) place(t *testing.T) {
	b := r.b
	calls := r.rate * int(setupPlacing/time.Second)
	c := toUser(fmt.Sprintf("+1416555%04d", r.rate), r.number)
	c.PCAP, c.HoldMs = r.pcap, int(r.hold.Milliseconds())
	r.fsMark, r.logMark, r.loadBefore = b.SW.Mark(), b.LogMark(), loadAvg()
	bridgeCPU, fsCPU, harnessCPU := startCPU(t, b.cmd.Process.Pid), startCPU(t, b.SW.pid()), startCPU(t, os.Getpid())
	machine0, pgTicks0 := machineTicks(), processTicks("postgres")
	if r.pg != nil {
		r.pgBefore = r.pg.read(t)
	}
	r.uac = StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcRate, Remote: b.SW.remote(), Calls: calls,
		Timeout: setupPlacing + r.hold + time.Minute, Data: c,
		Args: []string{"-r", strconv.Itoa(r.rate), "-l", strconv.Itoa(3 * r.rate * int(r.hold.Seconds()+1))}})
	sippCPU := startCPU(t, r.uac.cmd.Process.Pid)
	if r.profDir != "" {
		go r.profile(t, setupPlacing+r.hold)
	}
	var sippTicks float64
	r.pgWaits = map[string]int{}
	for {
		select {
		case <-r.uac.Done():
		case <-time.After(200 * time.Millisecond):
			if ticks, err := cpuTicks(sippCPU.pid); err == nil {
				sippTicks = float64(ticks - sippCPU.ticks)
			}
			if r.pg != nil {
				r.pg.sampleWaits(t, r.pgWaits)
				r.pgSamples++
			}
			continue
		}
		break
	}
	wall := time.Since(bridgeCPU.at).Seconds()
	r.bridgeCPU, r.fsCPU, r.sippCPU, r.harnessCPU = bridgeCPU.Cores(t), fsCPU.Cores(t), sippTicks/100/wall, harnessCPU.Cores(t)
	r.machine, r.postgres = float64(machineTicks()-machine0)/100/wall, ticksSince(pgTicks0, processTicks("postgres"))/100/wall
	if r.pg != nil {
		time.Sleep(time.Second) // PostgreSQL publishes its table counters within a second
		r.pgAfter = r.pg.read(t)
	}
	r.sippExit = r.uac.Wait(t, time.Second)
	r.loadAfter = loadAvg()
	r.attempted = calls
}

// profile writes a CPU profile of sipbridge over d to profDir, and its
// goroutines (grouped by stack) 3 s into the run: where calls wait.
func (r *rateRun) profile(t *testing.T, d time.Duration) {
	go func() {
		time.Sleep(3 * time.Second)
		r.fetch(t, "goroutine?debug=1", fmt.Sprintf("goroutines-%d.txt", r.rate))
	}()
	r.fetch(t, fmt.Sprintf("profile?seconds=%d", int(d.Seconds())), fmt.Sprintf("cpu-%d.pprof", r.rate))
}

func (r *rateRun) fetch(t *testing.T, what, file string) {
	res, err := http.Get("http://" + r.pprofAddr + "/debug/pprof/" + what)
	if err != nil {
		t.Logf("pprof %s: %v", what, err)
		return
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if err := os.WriteFile(filepath.Join(r.profDir, file), data, 0o644); err != nil {
		t.Logf("pprof %s: %v", what, err)
	}
}

// gather reads the figures: sipp's trace, FreeSWITCH's events and log,
// the call records and timelines, sipbridge's log.
func (r *rateRun) gather(t *testing.T) {
	b := r.b
	r.codes = map[int]int{}
	var first, last time.Time
	for _, tx := range inviteTrace(r.uac) {
		if tx.Invite.IsZero() {
			continue
		}
		if first.IsZero() || tx.Invite.Before(first) {
			first = tx.Invite
		}
		last = maxTime(last, tx.Invite)
		if tx.Code == 200 {
			r.answered++
			r.setup = append(r.setup, tx.Final.Sub(tx.Invite))
		} else {
			r.codes[tx.Code]++
		}
	}
	r.placedOver = last.Sub(first)
	parks, answers := map[string]time.Time{}, map[string]time.Time{}
	for _, re := range b.SW.ReceivedSince(r.fsMark) {
		e, at := re.E, re.At
		id := e.Get("Unique-ID")
		switch e.Name() {
		case "CHANNEL_PARK":
			if _, ok := parks[id]; !ok && e.Get("Call-Direction") == "inbound" && e.Get("Caller-Destination-Number") == r.number {
				parks[id] = at
			}
		case "CHANNEL_ANSWER":
			answers[id] = at
		case "API":
			r.apiCommands++
		}
	}
	r.parks = len(parks)
	for id, p := range parks {
		if a, ok := answers[id]; ok {
			r.parkAnswer = append(r.parkAnswer, a.Sub(p))
		} else {
			r.unanswered++
		}
	}
	r.timelines(t, parks)
	for _, line := range strings.Split(b.SW.LogSince(r.fsMark), "\n") {
		if fsLimitLine.MatchString(line) {
			r.fsLimits = append(r.fsLimits, line)
		}
	}
	for _, e := range b.LogSince(r.logMark, "") {
		if lv := e.Str("level"); lv == "WARN" || lv == "ERROR" {
			r.bridgeWarns = append(r.bridgeWarns, lv+" "+e.Str("msg")) // by message: the errors name the call
		}
	}
}

// timelines reads every call record of the rate's number and its
// timeline: routed → answered, park → stream_connected.
func (r *rateRun) timelines(t *testing.T, parks map[string]time.Time) {
	for skip := 0; ; skip += 500 {
		recs := r.b.callRecords(t, "phone_number="+url.QueryEscape(r.number)+"&skip="+strconv.Itoa(skip))
		for _, rec := range recs {
			var routed, answered, streamed time.Time
			for _, e := range r.b.callEvents(t, rec.ID) {
				switch {
				case e.Type == "routed" && routed.IsZero():
					routed = e.At
				case e.Type == "answered" && answered.IsZero():
					answered = e.At
				case e.Type == "stream_connected" && streamed.IsZero():
					streamed = e.At
				}
			}
			if p, ok := parks[rec.CallSID]; ok && !routed.IsZero() {
				r.parkRouted = append(r.parkRouted, routed.Sub(p))
			}
			if !routed.IsZero() && !answered.IsZero() {
				r.routedAnswered = append(r.routedAnswered, answered.Sub(routed))
			}
			if p, ok := parks[rec.CallSID]; ok && !streamed.IsZero() {
				r.parkStream = append(r.parkStream, streamed.Sub(p))
			}
		}
		if len(recs) < 500 {
			return
		}
	}
}

// failedSide names who failed first at this rate ("" = nobody): sipp
// (could not place the calls at the rate), FreeSWITCH (refused calls
// before they reached sipbridge, or logged one of its limits), sipbridge
// (parked calls it did not answer, warnings it logged).
func (r *rateRun) failedSide() string {
	var sides []string
	target := time.Duration(r.attempted-1) * time.Second / time.Duration(r.rate)
	if r.placedOver > target*11/10 || r.sippCPU > 0.9 {
		sides = append(sides, fmt.Sprintf("sipp (placed over %v, want %v; %.2f cores)", r.placedOver.Round(time.Millisecond), target, r.sippCPU))
	}
	refusedBefore := r.attempted - r.parks
	if refusedBefore > 0 || len(r.fsLimits) > 0 {
		sides = append(sides, fmt.Sprintf("freeswitch (%d calls never parked; %d limit lines)", refusedBefore, len(r.fsLimits)))
	}
	errs := 0
	for _, w := range r.bridgeWarns {
		if strings.HasPrefix(w, "ERROR ") {
			errs++
		}
	}
	noStream := r.answered - len(r.parkStream)
	if r.unanswered > 0 || noStream > 0 || errs > 0 {
		sides = append(sides, fmt.Sprintf("sipbridge (%d parked calls not answered, %d answered without a stream; %d errors logged)", r.unanswered, noStream, errs))
	}
	return strings.Join(sides, ", ")
}

func (r *rateRun) report(t *testing.T) {
	pct := func(ds []time.Duration) string {
		return fmt.Sprintf("n=%d p50=%.1fms p99=%.1fms max=%.1fms", len(ds), ms(percentile(ds, 50)), ms(percentile(ds, 99)), ms(percentile(ds, 100)))
	}
	var failed []string
	for _, code := range slices.Sorted(maps.Keys(r.codes)) {
		failed = append(failed, fmt.Sprintf("%d×%d", r.codes[code], code))
	}
	t.Logf("e2e-bench: setup rate=%d/s db=%s hold=%v attempted=%d answered=%d failed=%d [%s] sipp_exit=%d placed_over=%v load_before=%s load_after=%s",
		r.rate, r.b.Name, r.hold, r.attempted, r.answered, r.attempted-r.answered, strings.Join(failed, " "), r.sippExit,
		r.placedOver.Round(time.Millisecond), r.loadBefore, r.loadAfter)
	t.Logf("e2e-bench: setup rate=%d/s INVITE->200 %s", r.rate, pct(r.setup))
	t.Logf("e2e-bench: setup rate=%d/s park->answer (CHANNEL_PARK -> CHANNEL_ANSWER received by the harness's Event Socket) %s", r.rate, pct(r.parkAnswer))
	t.Logf("e2e-bench: setup rate=%d/s park->routed (timeline) %s", r.rate, pct(r.parkRouted))
	t.Logf("e2e-bench: setup rate=%d/s routed->answered (timeline) %s", r.rate, pct(r.routedAnswered))
	t.Logf("e2e-bench: setup rate=%d/s park->stream_connected %s", r.rate, pct(r.parkStream))
	t.Logf("e2e-bench: setup rate=%d/s cpu sipbridge=%.3f freeswitch=%.3f sipp=%.3f cores; api commands %.1f a call",
		r.rate, r.bridgeCPU, r.fsCPU, r.sippCPU, float64(r.apiCommands)/float64(max(1, r.parks)))
	t.Logf("e2e-bench: setup rate=%d/s cpu machine=%.3f postgres=%.3f test_process=%.3f cores (of %d)", r.rate, r.machine, r.postgres,
		r.harnessCPU, runtime.NumCPU())
	if r.pg != nil {
		n := float64(max(1, r.parks))
		t.Logf("e2e-bench: setup rate=%d/s postgres a call: %.1f table scans (seq+idx), %.1f rows written (ins+upd)", r.rate,
			float64(r.pgAfter.scans-r.pgBefore.scans)/n, float64(r.pgAfter.writes-r.pgBefore.writes)/n)
		var waits []string
		for _, k := range slices.Sorted(maps.Keys(r.pgWaits)) {
			waits = append(waits, fmt.Sprintf("%s=%.1f", k, float64(r.pgWaits[k])/float64(max(1, r.pgSamples))))
		}
		t.Logf("e2e-bench: setup rate=%d/s postgres sessions of sipbridge not idle, mean over %d samples: %s", r.rate, r.pgSamples, strings.Join(waits, " "))
	}
	side := r.failedSide()
	t.Logf("e2e-bench: setup rate=%d/s failed_side=%q", r.rate, side)
	if r.rate == setupAtRate {
		met := "met"
		if percentile(r.parkAnswer, 99) >= setupTarget {
			met = "NOT met"
		}
		t.Logf("e2e-bench: setup target park->answer p99 < %v at %d/s: %s", setupTarget, setupAtRate, met)
	}
	for _, l := range r.fsLimits[:min(5, len(r.fsLimits))] {
		t.Logf("FreeSWITCH: %s", l)
	}
	warns := map[string]int{}
	for _, l := range r.bridgeWarns {
		warns[l]++
	}
	for _, l := range slices.Sorted(maps.Keys(warns)) {
		t.Logf("sipbridge: %d× %s", warns[l], l)
	}
	if strings.HasPrefix(side, "sipbridge") {
		t.Errorf("sipbridge is the limit at %d calls/s (FreeSWITCH and sipp kept up; the machine was %.2f of %d cores busy): %s",
			r.rate, r.machine, runtime.NumCPU(), side)
	}
}

// loadAvg is the machine's 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return f[0]
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// machineTicks is the CPU time the machine spent busy (every CPU, /proc/stat,
// in ticks of 1/100 s): all but idle and iowait.
func machineTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var busy int64
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest is in user already
			busy += v
		}
	}
	return busy
}

// processTicks is the CPU time (utime+stime) of every process named comm,
// by pid.
func processTicks(comm string) map[int]int64 {
	out := map[int]int64{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(b)) != comm {
			continue
		}
		if ticks, err := cpuTicks(pid); err == nil {
			out[pid] = ticks
		}
	}
	return out
}

// ticksSince sums what each process of now used since before (a process
// started meanwhile counts from 0).
func ticksSince(before, now map[int]int64) float64 {
	var sum int64
	for pid, t := range now {
		sum += t - before[pid]
	}
	return float64(sum)
}

// pgCounter reads PostgreSQL's counters of the tables of sipbridge's schema
// (the run's database is shared by other tests: its own schema is not).
type pgCounter struct {
	g      *gorm.DB
	schema string
}

type pgCounts struct{ scans, writes int64 }

func newPGCounter(t *testing.T, dsn string) *pgCounter {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return &pgCounter{g: dbtest.Postgres(t), schema: u.Query().Get("search_path")}
}

func (p *pgCounter) read(t *testing.T) pgCounts {
	var c pgCounts
	row := p.g.Raw(`SELECT COALESCE(SUM(COALESCE(seq_scan,0)+COALESCE(idx_scan,0)),0), COALESCE(SUM(n_tup_ins+n_tup_upd),0)
		FROM pg_stat_user_tables WHERE schemaname = ?`, p.schema).Row()
	if err := row.Scan(&c.scans, &c.writes); err != nil {
		t.Logf("pg_stat_user_tables: %v", err)
	}
	return c
}

// sampleWaits adds sipbridge's PostgreSQL sessions that are not idle, by
// state and wait event ("active/CPU" = running or runnable).
func (p *pgCounter) sampleWaits(t *testing.T, into map[string]int) {
	rows, err := p.g.Raw(`SELECT state || '/' || COALESCE(wait_event_type || ':' || wait_event, 'CPU'), count(*)
		FROM pg_stat_activity WHERE application_name = ? AND state <> 'idle' GROUP BY 1`, setupPGApp).Rows()
	if err != nil {
		t.Logf("pg_stat_activity: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if rows.Scan(&k, &n) == nil {
			into[k] += n
		}
	}
}

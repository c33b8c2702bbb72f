package e2e

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"database_outage", testDatabaseOutage})
}

// srcDBOutage is the PBX of the database_outage scenario.
const srcDBOutage = "127.0.0.83"

// dbOutage is how long the database stays away: 8 s, or SIPBRIDGE_E2E_DB_OUTAGE
// (SIPBRIDGE_E2E_DB_OUTAGE=30s for the 30 s: nothing here times out with the
// outage's length).
func dbOutage(t *testing.T) time.Duration {
	v := os.Getenv("SIPBRIDGE_E2E_DB_OUTAGE")
	if v == "" {
		return 8 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 3*time.Second {
		t.Fatalf("SIPBRIDGE_E2E_DB_OUTAGE=%q: want a duration of 3s or more", v)
	}
	return d
}

// testDatabaseOutage: PostgreSQL unreachable for 8 s (dbOutage; connections cut and
// refused, through a TCP proxy in front of DATABASE_URL: the run's shared
// PostgreSQL keeps running for everything else) while a call is up. The API
// answers 503 at once; a new call is refused with 503 within 3 s, and its
// record (refused, 503, the INVITE's time) written once the database is
// back; the live
// call goes on with its audio, and once the database is back the API hangs
// it up and its record closes as usual; a call that ended during the outage
// has its end (status, cause, time, timeline) written once the database is
// back. PostgreSQL only.
func testDatabaseOutage(t *testing.T, b *Bridge) {
	if b.Name != "postgres" {
		t.Skip("PostgreSQL only: the embedded SQLite cannot go away")
	}
	outage := dbOutage(t)
	var dsn string
	for _, kv := range b.Env {
		if v, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
			dsn = v
		}
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("DATABASE_URL %q: %v", dsn, err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.Addr
	env := append([]string(nil), b.Env...)
	b.Env = append(b.Env, "DATABASE_URL="+u.String())
	b.Restart(t)
	t.Cleanup(func() { b.Env = env; b.Restart(t) })

	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Outage Desk", asst, nil)
	tr := b.ipTrunk(t, "Outage PBX", srcDBOutage, "127.0.0.1:9", nil)
	const number, from, fromDuring, fromEnding = "+16478498300", "+14165558301", "+14165558302", "+14165558303"
	b.addNumberOn(t, number, asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	live := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: srcDBOutage, Remote: b.SW.remote(), Calls: 1,
		Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: from, To: number}})
	ac := asst.ByParam(t, "from", from, 10*time.Second)
	rec := b.waitRecord(t, "the call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.Status == "in-progress" })
	testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 5 }, nil)
	// A second call, to end during the outage.
	ending := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: srcDBOutage, Remote: b.SW.remote(), Calls: 1,
		Timeout: 60 * time.Second, Data: call{From: fromEnding, To: number}})
	asst.ByParam(t, "from", fromEnding, 10*time.Second)
	recEnding := b.waitRecord(t, "the second call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == fromEnding && c.Status == "in-progress" })

	lm := b.LogMark()
	p.Down()
	isDown := true
	t.Cleanup(func() { // the cleanups before it need the database
		if isDown {
			p.Up(t)
		}
	})
	down := time.Now()
	// The API answers at once: 503, unavailable.
	t0 := time.Now()
	st, body := b.API.Do(t, "GET", "/api/v1/calls", nil)
	took := time.Since(t0)
	t.Logf("database away: GET /api/v1/calls answered %d in %v", st, took.Round(time.Millisecond))
	if st != http.StatusServiceUnavailable || !strings.Contains(string(body), `"unavailable"`) || took > time.Second {
		t.Errorf("GET /api/v1/calls with the database down: %d in %v: %s; want 503 unavailable within 1 s", st, took.Round(time.Millisecond), body)
	}
	// A new call is refused with 503 (sipp fails unless it gets 503).
	t0 = time.Now()
	invite := t0
	RunSipp(t, SippOptions{Scenario: "uac-refused.xml", IP: srcDBOutage, Remote: b.SW.remote(), Calls: 1,
		Timeout: 15 * time.Second, Data: call{From: fromDuring, To: number, Code: 503}})
	took = time.Since(t0)
	t.Logf("database away: the new call refused with 503 %v after its INVITE", took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("the new call was refused %v after its INVITE, want within 3 s", took.Round(time.Millisecond))
	}
	// The second call ends (FreeSWITCH hangs it up) while the database is away.
	b.SW.API(t, "uuid_kill "+recEnding.CallSID)
	if code := ending.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("the ending call's sipp exited %d (%s)", code, sippExit(code))
	}
	// The live call goes on: the assistant keeps getting the caller's audio.
	mark := time.Now()
	time.Sleep(max(0, outage-time.Since(down)))
	if n, want := ac.FramesSince(mark), int(time.Since(mark)/(20*time.Millisecond))*8/10; n < want {
		t.Errorf("the assistant got %d frames of the live call during the outage, want ≥ %d", n, want)
	}
	select {
	case <-ac.Closed():
		t.Error("the live call's assistant stream closed during the outage")
	default:
	}
	p.Up(t)
	isDown = false
	back := time.Now()
	b.WaitReady(t, 20*time.Second)

	// Back: the live call is still controlled and recorded.
	b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, http.StatusAccepted, nil)
	if code := live.Wait(t, 15*time.Second); code != 0 {
		t.Errorf("the live call's sipp exited %d (%s): %s", code, sippExit(code), live.Report())
	}
	done := b.waitRecord(t, "the live call's record closed", 10*time.Second, func(c CallRecord) bool { return c.ID == rec.ID && c.EndedAt != nil })
	if done.Status != "completed" || done.Reason != "hung up through the API" {
		t.Errorf("the call that lived through the outage: status %q, reason %q", done.Status, done.Reason)
	}
	// The end of the call that ended meanwhile was kept and is recorded.
	gone := b.waitRecord(t, "the record of the call that ended during the outage closed", 10*time.Second, func(c CallRecord) bool {
		return c.ID == recEnding.ID && c.EndedAt != nil
	})
	if gone.Status != "completed" || gone.HangupCause != "NORMAL_CLEARING" || gone.EndedAt.Sub(down) > outage {
		t.Errorf("the call that ended during the outage: status %q, hangup_cause %q, ended_at %v (outage from %v); want completed, NORMAL_CLEARING, within the outage",
			gone.Status, gone.HangupCause, gone.EndedAt, down)
	}
	if _, ok := findEvent(b.callEvents(t, recEnding.ID), "hangup"); !ok {
		t.Error("the hangup of the call that ended during the outage is not in its timeline")
	}
	// The call refused during the outage has its record now.
	refused := b.waitRecord(t, "the record of the call refused during the outage", 10*time.Second, func(c CallRecord) bool { return c.From == fromDuring })
	t.Logf("outage %v: the refused call's record seen %v after the database was back (after the checks above)", outage, time.Since(back).Round(time.Millisecond))
	if refused.Status != "refused" || refused.SIPStatus != 503 || !strings.Contains(refused.Reason, "database unavailable") ||
		refused.StartedAt.Sub(invite).Abs() > 3*time.Second {
		t.Errorf("the call refused during the outage: status %q, sip_status %d, reason %q, started_at %v (INVITE at %v); want refused, 503, the outage, the INVITE's time",
			refused.Status, refused.SIPStatus, refused.Reason, refused.StartedAt, invite)
	}
	n := 0
	for _, c := range b.Calls(t, "status=refused") {
		if c.From == fromDuring {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d records of the call refused during the outage, want 1", n)
	}
	// One line per SMS worker for the outage, not one per poll.
	claims := 0
	for _, e := range b.LogSince(lm, "") {
		if strings.HasSuffix(e.Str("msg"), "claim failed") {
			claims++
		}
	}
	if claims > 16 {
		t.Errorf("%d \"claim failed\" lines in %v of outage: one per SMS worker expected", claims, outage)
	}
}

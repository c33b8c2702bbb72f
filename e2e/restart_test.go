package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

// testFreeSWITCHRestart restarts the shared switch under a running
// sipbridge: sipbridge reports it down, takes a trunk while it is down, and
// after the restart converges by itself: the new trunk is applied, the one
// FreeSWITCH loaded from its files at boot is left alone (no killgw), and no
// gateway exists twice. It restarts the run's only switch, so it stays the
// last scenario.
func testFreeSWITCHRestart(t *testing.T, b *Bridge) {
	sw := b.SW
	reg := registrar(t, "200 OK")
	before := b.CreateTrunk(t, map[string]any{"name": "Before Restart", "gateway": fmt.Sprintf("127.0.0.1:%d", reg.Port),
		"username": "e2erestart", "password": "s3cret", "expire_seconds": 60, "retry_seconds": 2})
	b.WaitTrunk(t, before.ID, "gateway_state REGED", 10*time.Second, func(tr Trunk) bool { return tr.GatewayState == "REGED" })
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	t.Cleanup(func() {
		if !sw.Running() { // leave a switch for whatever runs next
			if err := sw.Start(); err != nil {
				t.Errorf("starting FreeSWITCH again: %v", err)
			}
		}
	})
	outage := b.LogMark()
	if err := sw.Stop(); err != nil {
		t.Fatal(err)
	}
	var ready string
	testkit.Eventually(t, 10*time.Second, "sipbridge reporting FreeSWITCH down (/readyz 503)", func() bool { st, body := b.Ready(); ready = body; return st == 503 }, nil)
	if !strings.Contains(ready, "FS_ESL_ADDR="+sw.ESLAddr) {
		t.Errorf("/readyz while FreeSWITCH is down: %s; want the reason naming FS_ESL_ADDR", ready)
	}

	during := b.CreateTrunk(t, map[string]any{"name": "During Restart", "gateway": "127.0.0.6:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.6/32"}})
	time.Sleep(500 * time.Millisecond) // a pass would have run by now, were the switch up
	if tr := b.Trunk(t, during.ID); tr.SyncStatus.State == "applied" {
		t.Errorf("a trunk created while FreeSWITCH is down shows %v", tr)
	}

	m, lm := sw.Mark(), b.LogMark()
	restarted := time.Now()
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	if lines := ErrorLines(sw.BootLog()); len(lines) > 0 {
		t.Errorf("FreeSWITCH logged %d [CRIT]/[ERR] lines booting on sipbridge's files:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	b.WaitReady(t, 40*time.Second)
	checkOutageLog(t, b, outage)
	b.WaitApplied(t, during.ID, 20*time.Second)
	b.WaitTrunk(t, before.ID, "the old trunk REGED again", 10*time.Second, func(tr Trunk) bool {
		return tr.GatewayState == "REGED" && tr.SyncStatus.State == "applied"
	})
	t.Logf("converged %v after FreeSWITCH was started again", time.Since(restarted).Round(time.Millisecond))
	sw.WaitQuiet(t, time.Second, 15*time.Second)

	var names []string
	for _, g := range sw.Gateways(t) {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	if want := []string{before.GatewayName, during.GatewayName}; !slices.Equal(names, want) {
		t.Errorf("FreeSWITCH's gateways after the restart: %q, want %q (each once)", names, want)
	}
	files, _ := filepath.Glob(filepath.Join(sw.GenDir, "gateways", "*.xml"))
	if len(files) != 2 {
		t.Errorf("generated gateway files %q, want 2", files)
	}
	if kills := sw.APICommandsSince(m, "sofia profile external killgw"); len(kills) > 0 {
		t.Errorf("FreeSWITCH was asked to killgw %q after the restart; the gateway it loaded from its files was already right", kills)
	}
	for _, c := range b.SyncCommandsSince(lm) {
		if strings.Contains(c, "killgw") || strings.Contains(c, "restart") {
			t.Errorf("sipbridge sent %q after the restart", c)
		}
	}
	if regs := reg.Received("REGISTER "); len(regs) < 2 {
		t.Errorf("the registrar saw %d REGISTERs, want the first and one after the restart", len(regs))
	}
}

// checkOutageLog: a switch going away and coming back is one warning and
// one info line in sipbridge's log (its connections retry at debug level),
// not a line per connection and attempt.
func checkOutageLog(t *testing.T, b *Bridge, mark int) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, "sipbridge logging FreeSWITCH connected", func() bool { return len(b.LogSince(mark, "FreeSWITCH connected")) > 0 }, nil)
	var warns []string
	for _, e := range b.LogSince(mark, "") {
		if e.Str("level") == "WARN" || e.Str("level") == "ERROR" {
			warns = append(warns, e.Str("msg"))
		}
	}
	if !slices.Equal(warns, []string{"FreeSWITCH connection lost"}) {
		t.Errorf("warnings while FreeSWITCH restarted: %q, want one \"FreeSWITCH connection lost\"", warns)
	}
	if up := b.LogSince(mark, "FreeSWITCH connected"); len(up) != 1 || up[0]["down_ms"] == nil {
		t.Errorf("\"FreeSWITCH connected\" lines after the restart: %v, want one with down_ms", up)
	}
}

package e2e

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

// scenario is one end-to-end check, run once per database against the
// sipbridge of that database. A scenario leaves the switch as it found it:
// trunks it creates (Bridge.CreateTrunk) are deleted, and their gateways
// gone, when it ends. It fails when FreeSWITCH logs a [CRIT]/[ERR] line
// meanwhile, unless allowed (allowFSErrors); on failure the FreeSWITCH and
// sipbridge logs of the scenario are printed.
type scenario struct {
	name string
	run  func(t *testing.T, b *Bridge)
}

// scenarios run in this order on each database. Add new ones before
// "freeswitch_kill" and "freeswitch_restart", which restart the shared
// switch and stay last.
// addScenario adds a scenario from another file (its init), before the
// FreeSWITCH kill and restart, which stay last.
func addScenario(sc ...scenario) {
	for i, s := range scenarios {
		if s.name == "freeswitch_kill" || s.name == "freeswitch_restart" {
			scenarios = slices.Insert(scenarios, i, sc...)
			return
		}
	}
	scenarios = append(scenarios, sc...)
}

var scenarios = []scenario{
	{"boot", testBoot},
	{"registration", testRegistration},
	{"registration_refused", testRegistrationRefused},
	{"trunk_change", testTrunkChange},
	{"hostile_values", testHostileValues},
	{"ip_auth", testIPAuth},
	{"freeswitch_kill", testFreeSWITCHKill},
	{"freeswitch_restart", testFreeSWITCHRestart},
}

// oncePerSuite are the scenarios that run on one database only when the
// run has both (else on the embedded SQLite): what they judge is the
// switch, the media or the SIP front, and the store paths they take are
// the ones the other scenarios take on both databases. Each takes 4-20 s
// (a second switch, Kamailio, restarts, seconds of real-time audio), so
// running them once keeps make test short. The several-node, front and TLS
// layouts and the outbound media checks run on PostgreSQL, as they would in
// production; the inbound audio ones on SQLite, the first thing a user
// runs.
var oncePerSuite = map[string]string{
	"sip_front":        "postgres",
	"xml_curl":         "postgres",
	"nodes":            "postgres",
	"front_calls":      "postgres",
	"replica_failover": "postgres",
	"tls_trunk":        "postgres",
	"tls_inbound_srtp": "postgres",
	"tls_verify":       "postgres",
	"amd":              "postgres",
	"dtmf_out":         "postgres",
	"caller_audio":     "postgres",
	"warm_transfer":    "postgres",
	"wideband_l16":     "sqlite",
	"first_audio":      "sqlite",
	"assistant_stall":  "sqlite",
	"assistant_audio":  "sqlite",
	"echo_assistant":   "sqlite",
	"codec_g722":       "sqlite",
	// The switch's and the Event Socket's faults, and the outbound call's
	// progress through ringing, failover and ring timeouts (18 s of real
	// ringing): what they judge is the switch and call control; the records
	// they write are the ones incall, outbound and the other faults write
	// on both databases.
	"esl_cut":            "sqlite",
	"freeswitch_kill":    "sqlite",
	"freeswitch_restart": "postgres",
	"outbound_progress":  "postgres",
	// What a caller and an assistant notice inside a call (REFER declined,
	// bridge busy, the API's hangup): the switch's and call control's; the
	// API's call routes are the outbound and refer scenarios' on both.
	"incall": "postgres",
	// A call kept across a restart of sipbridge: killed on SQLite, stopped
	// with handoff on PostgreSQL, so each database adopts a real call.
	"restart_adopt":   "sqlite",
	"restart_handoff": "postgres",
	"codec_opus":      "sqlite",
}

// TestE2E runs every scenario on the embedded SQLite, then on PostgreSQL,
// each with its own sipbridge process pointed at the run's one FreeSWITCH.
// The second sipbridge starts on a switch and a generated folder the first
// one left behind: it must converge by itself (see takeOver).
func TestE2E(t *testing.T) {
	sw := sharedSwitch(t)
	for _, dbName := range []string{"sqlite", "postgres"} {
		t.Run(dbName, func(t *testing.T) {
			url := ""
			if dbName == "postgres" {
				if os.Getenv(dbtest.EnvVar) == "" {
					t.Skipf("e2e: %s is not set: run `make e2e` (it starts PostgreSQL) or scripts/with-postgres.sh go test ./e2e/", dbtest.EnvVar)
				}
				url = dbtest.DSN(t)
			}
			b := StartBridge(t, sw, dbName, url, strings.Fields(os.Getenv("SIPBRIDGE_E2E_ENV"))...) // e.g. PLAYBACK_MODE=files
			takeOver(t, b)
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					if on, ok := oncePerSuite[sc.name]; ok && os.Getenv(dbtest.EnvVar) != "" && dbName != on {
						t.Skipf("%s runs once per suite: on %s (its store paths are the other scenarios' on both databases)", sc.name, on)
					}
					m, lm := sw.Mark(), b.LogMark()
					t.Cleanup(func() {
						checkFSErrors(t, sw.LogSince(m))
						if t.Failed() {
							t.Logf("FreeSWITCH log during %s (last 60 lines, ACL lists left out):\n%s", sc.name, LogExcerpt(sw.LogSince(m), 60))
							t.Logf("sipbridge log during %s (last 40 lines, requests left out):\n%s", sc.name, b.LogTail(lm, 40))
						}
					})
					sc.run(t, b)
				})
			}
			// Leave a gateway behind for the next sipbridge to clean up.
			var left Trunk
			b.API.Call(t, "POST", "/api/v1/sip-trunks", map[string]any{"name": "left behind", "gateway": "127.0.0.1:9", "register": false,
				"allowed_addresses": []string{"127.0.0.99/32"}}, 201, &left)
			b.WaitApplied(t, left.ID, 10*time.Second)
		})
	}
}

var allowed sync.Map // test name → []*regexp.Regexp

// allowFSErrors lets [ERR]/[CRIT] lines of FreeSWITCH matching pattern
// through for the running scenario (one that provokes a failure on purpose).
func allowFSErrors(t *testing.T, pattern string) {
	re := regexp.MustCompile(pattern)
	v, _ := allowed.LoadOrStore(t.Name(), &[]*regexp.Regexp{})
	list := v.(*[]*regexp.Regexp)
	*list = append(*list, re)
}

// checkFSErrors fails a scenario during which FreeSWITCH logged [CRIT],
// [ALERT] or [ERR] lines it did not allow (a full run logs none).
func checkFSErrors(t *testing.T, log string) {
	var list []*regexp.Regexp
	if v, ok := allowed.Load(t.Name()); ok {
		list = *v.(*[]*regexp.Regexp)
	}
	var bad []string
	for _, line := range ErrorLines(log) {
		if !slices.ContainsFunc(list, func(re *regexp.Regexp) bool { return re.MatchString(line) }) {
			bad = append(bad, line)
		}
	}
	if len(bad) > 0 {
		t.Errorf("FreeSWITCH logged %d [CRIT]/[ERR] line(s) during the scenario (allowFSErrors lets expected ones through):\n%s",
			len(bad), strings.Join(bad, "\n"))
	}
}

// takeOver checks that a sipbridge starting on a database without trunks
// removes every gateway, ACL list and file a previous owner of the switch
// left (another database, a crashed process).
func takeOver(t *testing.T, b *Bridge) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "a switch without leftover gateways", func() bool {
		for _, g := range b.SW.Gateways(t) {
			if strings.HasPrefix(g.Name, "o") {
				return false
			}
		}
		entries, _ := os.ReadDir(b.SW.GenDir + "/gateways")
		return len(entries) == 0
	}, func() string { return jsonString(b.SW.Gateways(t)) })
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
}

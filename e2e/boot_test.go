package e2e

import (
	"strings"
	"testing"
)

// testBoot: FreeSWITCH boots on the shipped freeswitch/conf with the
// external profile RUNNING, mod_audio_stream loaded, and nothing at
// [CRIT]/[ERR] in its log; sipbridge is connected (/readyz) and reports the
// switch with `sipbridge diag`.
func testBoot(t *testing.T, b *Bridge) {
	sw := b.SW
	sofia := sw.API(t, "sofia status")
	if !profileRunning(sofia, "external") {
		t.Errorf("sofia status: profile external is not RUNNING:\n%s", sofia)
	}
	if got := strings.TrimSpace(sw.API(t, "module_exists mod_audio_stream")); got != "true" {
		t.Errorf("module_exists mod_audio_stream = %q, want true", got)
	}
	if lines := ErrorLines(sw.BootLog()); len(lines) > 0 {
		t.Errorf("FreeSWITCH logged %d [CRIT]/[ERR] lines at boot:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if st, body := b.Ready(); st != 200 {
		t.Errorf("/readyz %d %s", st, body)
	}
	diag := b.Run(t, "diag")
	if !strings.Contains(diag, "mod_audio_stream") {
		t.Errorf("sipbridge diag does not mention mod_audio_stream:\n%s", diag)
	}
}

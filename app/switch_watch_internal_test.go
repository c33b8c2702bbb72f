package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

type watchLines struct{ buf bytes.Buffer }

func (l *watchLines) take(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	l.buf.Reset()
	return out
}

// On a fake clock: five minutes without a switch, observed every second,
// give one warning naming FS_ESL_ADDR and what to start and one reminder a
// minute; the switch answering gives one info line; losing it again one
// warning; a wrong password is named as such.
func TestSwitchWatchOneWarningThenAMinutely(t *testing.T) {
	lines := &watchLines{}
	w := &switchWatch{log: slog.New(slog.NewJSONHandler(&lines.buf, nil)), addr: "127.0.0.1:8021", reminder: time.Minute}
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	w.observe(t0, false, nil) // the first attempts still under way
	if got := lines.take(t); len(got) != 0 {
		t.Fatalf("lines before any attempt failed: %v", got)
	}
	for s := 1; s <= 300; s++ {
		w.observe(t0.Add(time.Duration(s)*time.Second), false, fmt.Errorf("esl: connection closed: %w", refused))
	}
	got := lines.take(t)
	if len(got) != 5 {
		t.Fatalf("%d lines in five minutes, want a warning and four reminders: %v", len(got), got)
	}
	first := got[0]
	reason, _ := first["reason"].(string)
	if first["level"] != "WARN" || first["msg"] != "FreeSWITCH not connected" || first["fs_esl_addr"] != "127.0.0.1:8021" ||
		!strings.Contains(reason, "FS_ESL_ADDR=127.0.0.1:8021 (connect: connection refused)") || !strings.Contains(reason, "fs.sh start") {
		t.Errorf("first warning %v", first)
	}
	for i, r := range got[1:] {
		if r["level"] != "WARN" || r["msg"] != "FreeSWITCH still not connected" || r["down_ms"] != float64((i+1)*60000+1000) || r["reason"] != reason {
			t.Errorf("reminder %d: %v", i+1, r)
		}
	}
	now := t0.Add(301 * time.Second)
	for range 3 {
		w.observe(now, true, nil)
		now = now.Add(time.Second)
	}
	if got := lines.take(t); len(got) != 1 || got[0]["level"] != "INFO" || got[0]["msg"] != "FreeSWITCH connected" || got[0]["down_ms"] != float64(301000) {
		t.Errorf("once connected: %v, want one info line with down_ms", got)
	}
	w.observe(now, false, fmt.Errorf("%w: read: EOF", esl.ErrClosed))
	w.observe(now.Add(time.Second), false, fmt.Errorf("%w: read: EOF", esl.ErrClosed))
	if got := lines.take(t); len(got) != 1 || got[0]["msg"] != "FreeSWITCH connection lost" {
		t.Errorf("after the loss: %v, want one warning", got)
	}
	if r := switchDown("127.0.0.1:8021", fmt.Errorf("esl: auth: %w", esl.ErrAuth)); !strings.Contains(r, "refused FS_ESL_PASSWORD") {
		t.Errorf("a wrong password reads %q", r)
	}
}

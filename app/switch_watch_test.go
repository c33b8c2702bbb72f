package app_test

import (
	"context"
	"encoding/json"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"gorm.io/gorm"
)

type lockedLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count returns how many lines at level carry msg.
func (l *lockedLog) count(level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(line, `"level":"`+level+`"`) && strings.Contains(line, `"msg":"`+msg+`"`) {
			n++
		}
	}
	return n
}

func (l *lockedLog) warnings() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), `"level":"WARN"`)
}

// forward accepts on ln and joins each connection to target (FreeSWITCH
// appearing at the address sipbridge was told).
func forward(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer s.Close()
			go io.Copy(s, c)
			io.Copy(c, s)
		}()
	}
}

// With no FreeSWITCH at FS_ESL_ADDR the bridge says so once, then once per
// reminder interval, not once per connection and attempt (its four
// connections retry every 10 ms here); /readyz gives the same reason; when
// the switch appears, one info line and /readyz 200.
func TestSwitchUnreachableIsOneWarning(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing answers there, for now
		logs := &lockedLog{}
		log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		store := db.NewStore(g, dbtest.Keyring(t), slog.New(slog.DiscardHandler))
		a, err := app.New(context.Background(), app.Config{Store: store, Log: log, RecordingsDir: t.TempDir(), SyncInterval: time.Hour,
			Switch: &app.Switch{Addr: addr, Password: "ClueCon", CallConnections: 2, GenDir: t.TempDir(), Reminder: 300 * time.Millisecond,
				Options: []esl.Option{esl.WithBackoff(10*time.Millisecond, 10*time.Millisecond)}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		web := httptest.NewServer(a.Web.Handler())
		t.Cleanup(web.Close)

		time.Sleep(1100 * time.Millisecond)
		first, reminders := logs.count("WARN", "FreeSWITCH not connected"), logs.count("WARN", "FreeSWITCH still not connected")
		if first != 1 || reminders < 2 || reminders > 4 || logs.warnings() != first+reminders {
			t.Errorf("1.1 s without a switch (reminder every 300 ms): %d warning(s), %d reminder(s), %d WARN lines in all; want 1, 2–4, nothing else",
				first, reminders, logs.warnings())
		}
		res, err := http.Get(web.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if fs := body.Checks["freeswitch"]; res.StatusCode != 503 || body.Checks["database"] != "ok" ||
			!strings.Contains(fs, "FS_ESL_ADDR="+addr) || !strings.Contains(fs, "connection refused") || !strings.Contains(fs, "fs.sh start") {
			t.Errorf("/readyz %d %+v, want 503 naming FS_ESL_ADDR, the refusal and what to start", res.StatusCode, body)
		}

		sw := fstest.New(fstest.Options{GenDir: t.TempDir(), Step: 5 * time.Millisecond})
		if err := sw.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sw.Close() })
		fln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("the address came back taken: %v", err)
		}
		t.Cleanup(func() { fln.Close() })
		go forward(fln, sw.Addr())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.WaitSwitch(ctx); err != nil {
			t.Fatal(err)
		}
		if !testkit.Until(3*time.Second, func() bool { return logs.count("INFO", "FreeSWITCH connected") == 1 }) {
			t.Errorf("%d \"FreeSWITCH connected\" lines once it answers, want 1", logs.count("INFO", "FreeSWITCH connected"))
		}
		time.Sleep(400 * time.Millisecond)
		if n := logs.count("INFO", "FreeSWITCH connected"); n != 1 || logs.count("INFO", "esl: connected") != 0 {
			t.Errorf("%d \"FreeSWITCH connected\" and %d per-connection lines, want 1 and 0", n, logs.count("INFO", "esl: connected"))
		}
		if res, err := http.Get(web.URL + "/readyz"); err != nil || res.StatusCode != 200 {
			t.Errorf("/readyz once connected: %v %v", res, err)
		}
	})
}

package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/call/sip/adopt"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/netpolicy"
)

// bridge is the whole bridge on the switch simulator, serving on a real port.
type bridge struct {
	t     *testing.T
	app   *app.App
	sw    *fstest.Switch
	base  string
	key   string
	org   int64
	sigc  chan os.Signal
	ran   chan error
	store *db.Store
}

// startBridge builds and runs the bridge as serve does; before runs on the
// store before Start (a previous run's records).
func startBridge(t *testing.T, g *gorm.DB, before func(*db.Store, int64)) *bridge {
	t.Helper()
	store := db.NewStore(g, dbtest.Keyring(t), slog.New(slog.DiscardHandler))
	ctx := context.Background()
	org, _, err := store.EnsureOrg(ctx, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := store.CreateAPIKey(ctx, org.ID, "a")
	if before != nil {
		before(store, org.ID)
	}
	genDir := t.TempDir()
	sw := fstest.New(fstest.Options{GenDir: genDir, Step: 5 * time.Millisecond})
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	policy := netpolicy.Default()
	a, err := app.New(ctx, app.Config{Store: store, AddressPolicy: &policy, RecordingsDir: t.TempDir(),
		Switch:       &app.Switch{Addr: sw.Addr(), Password: "ClueCon", CallConnections: 2, GenDir: genDir},
		SyncInterval: time.Hour, DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &bridge{t: t, app: a, sw: sw, base: "http://" + ln.Addr().String(), key: key, org: org.ID,
		sigc: make(chan os.Signal, 2), ran: make(chan error, 1), store: store}
	go func() { b.ran <- a.Run(ctx, ln, b.sigc) }()
	return b
}

func (b *bridge) do(method, path string, body any) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+b.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// A call a previous run left live, whose channel is gone, is closed once
// the switch answers; a trunk created
// through the API reaches the switch (trunk sync follows the API's
// changes) and its live state comes back from the switch's events; the
// readiness check follows the switch; SIGTERM drains and stops.
func TestServeLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		var orphan *db.Call
		b := startBridge(t, g, func(s *db.Store, org int64) {
			orphan = &db.Call{OrgID: org, Direction: db.DirectionInbound, Status: db.CallInProgress, StartedAt: time.Now().Add(-time.Minute)}
			if err := s.CreateCall(ctx, orphan); err != nil {
				t.Fatal(err)
			}
		})
		// Its channel is not on the switch: closed once the switch answers
		// (the calls whose channel is there are adopted: call/sip's tests).
		var got *db.Call
		if !testkit.Until(5*time.Second, func() bool { got, _ = b.store.GetCall(ctx, b.org, orphan.ID); return got != nil && got.EndedAt != nil }) ||
			got.Status != db.CallFailed || got.Reason != adopt.ReasonGone {
			t.Fatalf("the previous run's live call after start: %+v", got)
		}
		if !testkit.Until(5*time.Second, func() bool { st, _ := b.do("GET", "/readyz", nil); return st == 200 }) {
			t.Fatal("not ready with the switch connected")
		}

		st, tr := b.do("POST", "/api/v1/sip-trunks", map[string]any{"name": "Carrier", "gateway": "sip.carrier.example", "username": "u1", "password": "p1"})
		if st != 201 {
			t.Fatalf("create trunk: %d %v", st, tr)
		}
		gw, _ := tr["gateway_name"].(string)
		if !testkit.Until(5*time.Second, func() bool {
			for _, g := range b.sw.Gateways() {
				if g.Name == gw {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("gateway %q never reached the switch: %+v", gw, b.sw.Gateways())
		}
		id, _ := tr["id"].(string)
		var state string
		if !testkit.Until(5*time.Second, func() bool {
			_, v := b.do("GET", "/api/v1/sip-trunks/"+id, nil)
			state, _ = v["gateway_state"].(string)
			return state != ""
		}) {
			t.Fatal("the trunk's gateway_state never came back from the switch's events")
		}

		b.sw.Close()
		if !testkit.Until(5*time.Second, func() bool { st, _ := b.do("GET", "/readyz", nil); return st == 503 }) {
			t.Fatal("still ready with the switch gone")
		}

		b.sigc <- syscall.SIGTERM
		select {
		case err := <-b.ran:
			if err != nil {
				t.Fatalf("run after SIGTERM: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("SIGTERM with no live call did not stop the bridge")
		}
		if _, err := http.Get(b.base + "/healthz"); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("still serving after stop: %v", err)
		}
	})
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

// buildBinary compiles sipbridge once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sipbridge")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestEmbeddedSQLiteEndToEnd runs the real binary on the embedded SQLite
// default: migrate, create a key, serve, create and list a trunk, stop.
func TestEmbeddedSQLiteEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	// The assistant below is on 127.0.0.1, as in `make run`.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "SIPBRIDGE_ADDR=" + addr, "ALLOW_LOOPBACK_ADDRESSES=true"}
	runCmd := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("sipbridge %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}
	if out := runCmd("migrate"); !strings.Contains(out, "schema at version") {
		t.Fatalf("migrate: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "var", "sipbridge.db")); err != nil {
		t.Fatalf("embedded database not created: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "var", "secret.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("dev secret key: %v %v", st, err)
	}
	out := strings.TrimSpace(runCmd("admin", "create-key", "--org", "acme"))
	lines := strings.Split(out, "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "sb_") || len(key) != 35 {
		t.Fatalf("last line is not a key: %q", out)
	}

	srv := exec.Command(bin, "serve")
	srv.Dir, srv.Env = dir, env
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	defer func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
		}
	}()
	base := "http://" + addr
	var upErr error
	testkit.Eventually(t, 20*time.Second, "the server to come up", func() bool {
		res, err := http.Get(base + "/healthz")
		if upErr = err; err == nil {
			res.Body.Close()
		}
		return err == nil
	}, func() string { return fmt.Sprintf("%v\n%s", upErr, logs.String()) })
	call := func(method, path string, body any) (int, map[string]any) {
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	// list answers a list route: its JSON array and X-Total-Count.
	list := func(path string) (int, []map[string]any, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var items []map[string]any
		if err := json.NewDecoder(res.Body).Decode(&items); err != nil {
			t.Fatalf("GET %s: not a JSON array: %v", path, err)
		}
		return res.StatusCode, items, res.Header.Get("X-Total-Count")
	}
	st, created := call("POST", "/api/v1/sip-trunks", map[string]any{"name": "Zadarma Main", "gateway": "sip.zadarma.com", "username": "u", "password": "p4ss"})
	if st != 201 {
		t.Fatalf("create trunk: %d %v\n%s", st, created, logs.String())
	}
	st, items, total := list("/api/v1/sip-trunks")
	if st != 200 || len(items) != 1 || items[0]["gateway_name"] != "o1_zadarma_main" || total != "1" {
		t.Fatalf("list trunks: %d %v (total %s)", st, items, total)
	}
	// An outbound call with no FreeSWITCH connected: 503 saying so, and a
	// failed record.
	st, asst := call("POST", "/api/v1/assistants", map[string]any{"name": "R", "stream_url": "ws://127.0.0.1:1/x"})
	if st != 201 {
		t.Fatalf("assistant: %d %v", st, asst)
	}
	if st, n := call("POST", "/api/v1/phone-numbers/purchase", map[string]any{"phone_number": "+12125550100", "provider": "byo-sip-trunk", "assistant_id": asst["id"]}); st != 200 {
		t.Fatalf("number: %d %v", st, n)
	}
	st, ini := call("POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": "+12125550100", "to_phone_number": "+12125550123"})
	if e, _ := ini["error"].(map[string]any); st != 503 || e["code"] != "switch_unavailable" {
		t.Fatalf("initiate without FreeSWITCH: %d %v", st, ini)
	}
	if st, calls, total := list("/api/v1/calls?status=failed"); st != 200 || len(calls) != 1 || total != "1" {
		t.Fatalf("calls: %d %v (total %s)", st, calls, total)
	}
	// No FreeSWITCH runs here: readiness says so, naming what is missing.
	st, ready := call("GET", "/readyz", nil)
	checks, _ := ready["checks"].(map[string]any)
	if st != 503 || checks["database"] != "ok" || !strings.Contains(fmt.Sprint(checks["freeswitch"]), "not connected") {
		t.Fatalf("readyz %d %v", st, ready)
	}
	// The call metrics are served (no call: zero live, no frame yet).
	mres, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mbody, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	for _, want := range []string{`sipbridge_calls_live{path="sip"} 0`, `sipbridge_calls_live{path="hosted"} 0`, "sipbridge_bridge_frame_seconds_count 0"} {
		if !strings.Contains(string(mbody), want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
	srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if strings.Contains(logs.String(), "p4ss") {
		t.Fatal("log contains the trunk password")
	}
	if !strings.Contains(logs.String(), `"msg":"sipbridge serving"`) {
		t.Fatalf("no JSON log line: %s", logs.String())
	}
}

func TestLoadConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := LoadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.FSESLAddr != "127.0.0.1:8021" || c.FSESLPassword != "ClueCon" || c.FSProfile != "external" || c.FSGenDir != "./var/freeswitch" || !c.embedded() {
		t.Fatalf("defaults: %+v", c)
	}
	// The address policy: private networks yes, loopback no, unless told.
	if p := c.AddressPolicy(nil); !p.AllowPrivate || p.AllowLoopback {
		t.Fatalf("default address policy: %+v", p)
	}
	c, _ = LoadConfig(env("ALLOW_PRIVATE_ADDRESSES", "false", "ALLOW_LOOPBACK_ADDRESSES", "true"))
	if p := c.AddressPolicy(nil); p.AllowPrivate || !p.AllowLoopback {
		t.Fatalf("address policy from the environment: %+v", p)
	}
	for _, bad := range [][]string{
		{"ALLOW_PRIVATE_ADDRESSES", "maybe"},
		{"ALLOW_LOOPBACK_ADDRESSES", "yes please"},
		{"DATABASE_URL", "mysql://x"},
		{"PUBLIC_BASE_URL", "bridge.example.com"},
		{"SYNC_INTERVAL", "soon"},
		{"LOG_LEVEL", "loud"},
		{"FS_PROFILE", "a b"},
		{"TRANSFER_HOLD_AUDIO", "hold.wav"},
		{"TRANSFER_HOLD_AUDIO", "/srv/my hold.wav"},
	} {
		if _, err := LoadConfig(env(bad...)); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: error %v should name %s", bad, err, bad[0])
		}
	}
	// The warm transfer's hold audio reaches call control.
	for _, hold := range []string{"/srv/audio/hold.wav", "tone_stream://%(1000,0,350,440);loops=-1"} {
		c, err = LoadConfig(env("TRANSFER_HOLD_AUDIO", hold))
		co := sip.CallsOptions{}
		if err == nil {
			c.appConfig(nil, slog.New(slog.DiscardHandler)).CallsOptions(&co)
		}
		if err != nil || c.TransferHoldAudio != hold || co.HoldAudio != hold {
			t.Errorf("TRANSFER_HOLD_AUDIO %q: %v, config %q, calls %q", hold, err, c.TransferHoldAudio, co.HoldAudio)
		}
	}
	// PostgreSQL without SECRET_KEY is refused; a bad key too.
	c, _ = LoadConfig(env("DATABASE_URL", "postgres://x@127.0.0.1/db"))
	if err := c.loadKeys(nil); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("postgres without key: %v", err)
	}
	c, _ = LoadConfig(env("SECRET_KEY", "short"))
	if err := c.loadKeys(nil); err == nil {
		t.Fatal("bad SECRET_KEY accepted")
	}
	if code := run(t.Context(), []string{"bogus"}, env(), &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"admin", "create-key"}, env(), &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "--org") {
		t.Fatalf("create-key without --org: %d %s", code, stderr.String())
	}
}

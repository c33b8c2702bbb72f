package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/secret"
)

// Bridge is one sipbridge process (`sipbridge serve`) on its own database,
// HTTP port and var folder, owning the switch's gateways while it runs.
type Bridge struct {
	Name string // sqlite | postgres
	Dir  string // SIPBRIDGE_VAR_DIR and the process's working directory
	Addr string // 127.0.0.1:port (SIPBRIDGE_ADDR)
	Env  []string
	Key  string  // the organization's API key (admin create-key)
	API  *Client // the REST API with that key
	SW   *Switch

	bin     string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

var bridgeSeq atomic.Int64

// StartBridge starts sipbridge on sw with the given DATABASE_URL ("" = the
// embedded SQLite under its own var folder), creates the organization "e2e"
// and an API key with `sipbridge admin create-key`, and waits until it is
// ready (database and Event Socket). It is stopped when t ends; on failure
// the tail of its log is printed. env ("NAME=value") adds to or overrides
// the environment the harness sets.
func StartBridge(t *testing.T, sw *Switch, name, databaseURL string, env ...string) *Bridge {
	t.Helper()
	bin := sipbridgeBinary(t)
	dir := filepath.Join(suite.tmp, fmt.Sprintf("sipbridge-%s-%d", name, bridgeSeq.Add(1)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port, err := freeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	b := &Bridge{Name: name, Dir: dir, Addr: "127.0.0.1:" + strconv.Itoa(port), SW: sw, bin: bin,
		logPath: filepath.Join(dir, "sipbridge.log")}
	b.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"SIPBRIDGE_ADDR=" + b.Addr,
		"DATABASE_URL=" + databaseURL,
		"SIPBRIDGE_VAR_DIR=" + filepath.Join(dir, "var"),
		"FS_ESL_ADDR=" + sw.ESLAddr,
		"FS_ESL_PASSWORD=" + sw.ESLPassword,
		"FS_GEN_DIR=" + sw.GenDir,
		"STREAM_WS_BASE=ws://" + b.Addr,
		"RECORDINGS_DIR=" + filepath.Join(dir, "recordings"),
		"LOG_LEVEL=debug",
		"DRAIN_TIMEOUT=5s",
		"ALLOW_LOOPBACK_ADDRESSES=true", // the test assistants, carriers and PBXs are on 127.0.0.x
		"LEG_TIMEOUT=" + legTimeout.String(),
		"SHARED_CARRIER_CIDRS=" + sharedCarrierCIDRs,
		// the https receivers of the scenarios (status callbacks) use a
		// certificate of the suite's own, trusted on top of the system's
		"SSL_CERT_DIR=" + suiteCertDir(t),
		// the load scenario runs 50 calls at 20 calls/s
		"DEFAULT_MAX_CONCURRENT_CALLS=200", "DEFAULT_CALLS_PER_SECOND=50",
	}
	if databaseURL != "" {
		b.Env = append(b.Env, "SECRET_KEY="+secret.NewKey())
	}
	b.Env = append(b.Env, env...) // exec uses the last value of a name
	for _, kv := range env {
		if addr, ok := strings.CutPrefix(kv, "SIPBRIDGE_ADDR="); ok {
			b.Addr = addr // a port chosen before the switch started (its xml_curl URL)
		}
	}

	out := b.Run(t, "admin", "create-key", "--org", "e2e")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	b.Key = strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(b.Key, "sb_") {
		t.Fatalf("admin create-key: the last line is not a key:\n%s", out)
	}
	b.API = &Client{Base: "http://" + b.Addr, Key: b.Key}

	b.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tail of %s (requests left out):\n%s", b.logPath, b.LogTail(0, 40))
		}
		if err := b.Stop(); err != nil {
			t.Errorf("stopping sipbridge: %v", err)
		}
	})
	b.WaitReady(t, 20*time.Second)
	return b
}

// Run runs a sipbridge command (admin, render, diag…) with the bridge's
// environment and returns its stdout; a non-zero exit fails the test.
func (b *Bridge) Run(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(b.bin, args...)
	cmd.Dir, cmd.Env = b.Dir, b.Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sipbridge %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func (b *Bridge) start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(b.bin, "serve")
	cmd.Dir, cmd.Env = b.Dir, b.Env
	cmd.SysProcAttr = dieWithTest()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	b.cmd, b.exited = cmd, exited
}

// Stop sends SIGTERM (drain, then stop) and waits 15 s before killing.
func (b *Bridge) Stop() error {
	if b.cmd == nil {
		return nil
	}
	select {
	case <-b.exited:
		return nil
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
		if st := b.cmd.ProcessState; st != nil && !st.Success() {
			return fmt.Errorf("sipbridge exited with %v", st)
		}
		return nil
	case <-time.After(15 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
		return fmt.Errorf("sipbridge did not stop within 15 s of SIGTERM: killed")
	}
}

// Restart stops sipbridge (SIGTERM) and starts it again on the same
// database, then waits until it is ready.
func (b *Bridge) Restart(t testing.TB) {
	t.Helper()
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	b.WaitReady(t, 20*time.Second)
}

// Ready returns the /readyz status and body.
func (b *Bridge) Ready() (int, string) {
	res, err := http.Get(b.API.Base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return res.StatusCode, buf.String()
}

// WaitReady waits until /readyz answers 200: the database is reachable and
// every Event Socket connection is up.
func (b *Bridge) WaitReady(t testing.TB, within time.Duration) {
	t.Helper()
	var st int
	var body string
	testkit.Eventually(t, within, "sipbridge ready", func() bool {
		select {
		case <-b.exited:
			t.Fatalf("sipbridge exited: %v\n%s", b.cmd.ProcessState, tailLines(b.Logs(), 30))
		default:
		}
		st, body = b.Ready()
		return st == http.StatusOK
	}, func() string { return fmt.Sprintf("/readyz %d %s", st, body) })
}

// Logs returns sipbridge's log (JSON lines on stderr).
func (b *Bridge) Logs() string {
	data, _ := os.ReadFile(b.logPath)
	return string(data)
}

// LogTail returns the last n lines of sipbridge's log written since mark,
// leaving out the HTTP request lines (the harness polls a lot).
func (b *Bridge) LogTail(mark, n int) string {
	data := b.Logs()
	data = data[min(mark, len(data)):]
	var keep []string
	for _, line := range strings.Split(data, "\n") {
		if line != "" && !strings.Contains(line, `"msg":"request"`) {
			keep = append(keep, line)
		}
	}
	return tailLines(strings.Join(keep, "\n"), n)
}

// LogMark is the current size of sipbridge's log, for LogSince.
func (b *Bridge) LogMark() int {
	st, err := os.Stat(b.logPath)
	if err != nil {
		return 0
	}
	return int(st.Size())
}

// LogEntry is one JSON log line.
type LogEntry map[string]any

// Str returns a field as a string.
func (e LogEntry) Str(k string) string {
	if v, ok := e[k].(string); ok {
		return v
	}
	return ""
}

// LogSince returns the log entries written since mark whose msg is msg
// ("" = every entry).
func (b *Bridge) LogSince(mark int, msg string) []LogEntry {
	data := []byte(b.Logs())
	if mark > len(data) {
		mark = len(data)
	}
	var out []LogEntry
	sc := bufio.NewScanner(bytes.NewReader(data[mark:]))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var e LogEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if msg == "" || e.Str("msg") == msg {
			out = append(out, e)
		}
	}
	return out
}

// SyncCommandsSince returns the FreeSWITCH commands of every trunk sync
// pass that did something since mark, in order (from its "trunk sync
// applied" log lines).
func (b *Bridge) SyncCommandsSince(mark int) []string {
	var out []string
	for _, e := range b.LogSince(mark, "trunk sync applied") {
		cmds, _ := e["commands"].([]any)
		for _, c := range cmds {
			out = append(out, fmt.Sprint(c))
		}
	}
	return out
}

// WaitSyncPass waits for a trunk sync pass that sent a command containing
// want, logged since mark, and returns every command logged since mark.
func (b *Bridge) WaitSyncPass(t testing.TB, mark int, want string, within time.Duration) []string {
	t.Helper()
	var cmds []string
	testkit.Eventually(t, within, "a trunk sync pass sending "+want, func() bool {
		cmds = b.SyncCommandsSince(mark)
		for _, c := range cmds {
			if strings.Contains(c, want) {
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("sync commands since the mark: %q", cmds) })
	return cmds
}

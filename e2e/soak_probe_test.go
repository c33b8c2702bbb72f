package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/provider/twilio"
)

// What the soak (soak_test.go) reads of the sipbridge process, of the
// switch and of PostgreSQL.

// soakUsage is the sipbridge process at one moment: its own goroutine
// count (go_goroutines of /metrics), open file descriptors
// (/proc/<pid>/fd) and resident memory (VmRSS of /proc/<pid>/status).
type soakUsage struct {
	goroutines int
	fds        int
	rss        int64 // bytes
}

func (u soakUsage) String() string {
	return fmt.Sprintf("goroutines=%d fds=%d rss=%.1fMiB", u.goroutines, u.fds, float64(u.rss)/(1<<20))
}

// usage measures the process. The harness's idle keep-alive connections
// are closed first, so that they count in neither the baseline nor later.
func (b *Bridge) usage(t testing.TB) soakUsage {
	t.Helper()
	httpClient.CloseIdleConnections()
	pid := b.cmd.Process.Pid
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("sipbridge's descriptors: %v", err)
	}
	u := soakUsage{fds: len(ents), rss: procRSS(t, pid)}
	u.goroutines = int(b.metric(t, "go_goroutines"))
	return u
}

// metric reads one unlabelled sample of /metrics (on a connection of its
// own, closed after).
func (b *Bridge) metric(t testing.TB, name string) float64 {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(b.API.Base + "/metrics")
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("/metrics %s: %q", name, v)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

func procRSS(t testing.TB, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("sipbridge's memory: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("/proc/%d/status has no VmRSS", pid)
	return 0
}

// channelCount is FreeSWITCH's `show channels count`.
func (sw *Switch) channelCount(t testing.TB) int {
	t.Helper()
	reply := strings.TrimSpace(sw.API(t, "show channels count"))
	n, err := strconv.Atoi(strings.TrimSuffix(reply, " total."))
	if err != nil {
		t.Fatalf("show channels count: %q", reply)
	}
	return n
}

// pgSessions counts the sessions of the test server whose
// application_name is app, and those of them not idle (a query running, a
// transaction left open).
func pgSessions(t testing.TB, app string) (total, busy int) {
	t.Helper()
	g, err := db.Open(os.Getenv(dbtest.EnvVar))
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	defer func() {
		if s, err := g.DB(); err == nil {
			s.Close()
		}
	}()
	row := g.Raw("SELECT count(*), count(*) FILTER (WHERE state IS DISTINCT FROM 'idle') FROM pg_stat_activity WHERE application_name = ?", app).Row()
	if err := row.Scan(&total, &busy); err != nil {
		t.Fatalf("pg_stat_activity: %v", err)
	}
	return total, busy
}

// total is the X-Total-Count of a list request.
func (b *Bridge) total(t testing.TB, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", b.API.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+b.Key)
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	n, err := strconv.Atoi(res.Header.Get("X-Total-Count"))
	if res.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET %s: %d, X-Total-Count %q", path, res.StatusCode, res.Header.Get("X-Total-Count"))
	}
	return n
}

// twilioWebhook posts a form to /webhooks/sms/twilio signed as Twilio
// signs it (the auth token, sipbridge's PUBLIC_BASE_URL and the form).
func (b *Bridge) twilioWebhook(t testing.TB, token, publicBase string, form url.Values) {
	t.Helper()
	req, _ := http.NewRequest("POST", b.API.Base+"/webhooks/sms/twilio", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilio.Signature(token, publicBase+"/webhooks/sms/twilio", form))
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("Twilio webhook: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("Twilio webhook %v: %d %s", form, res.StatusCode, body)
	}
}

// countingAssistant is an assistant that keeps no audio (an hour of calls
// would not fit in memory): it counts streams, media messages and stops.
type countingAssistant struct {
	addr  string
	srv   *http.Server
	open  atomic.Int64
	total atomic.Int64
	stops atomic.Int64
	mu    sync.Mutex
	short int // streams that ended with under minFrames media messages
}

func startCountingAssistant(t testing.TB, minFrames int) *countingAssistant {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca := &countingAssistant{addr: ln.Addr().String()}
	up := websocket.Upgrader{}
	ca.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ca.open.Add(1)
		ca.total.Add(1)
		defer ca.open.Add(-1)
		frames := 0
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				break
			}
			switch {
			case strings.Contains(string(data[:min(len(data), 40)]), `"media"`):
				frames++
			case strings.Contains(string(data[:min(len(data), 40)]), `"stop"`):
				ca.stops.Add(1)
			}
		}
		if frames < minFrames {
			ca.mu.Lock()
			ca.short++
			ca.mu.Unlock()
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go ca.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ca.srv.Shutdown(ctx)
		ca.srv.Close()
	})
	return ca
}

func (ca *countingAssistant) URL() string { return "ws://" + ca.addr + "/stream" }

func (ca *countingAssistant) shortStreams() int {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.short
}

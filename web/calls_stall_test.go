package web_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sipbridge/sipbridge/db"
)

// stallingAssistant takes a stream, reads its first frames, then stops
// reading (its socket's receive buffer kept small, as a busy host's would
// be) until the stream ends; then it reads what was left in the
// connection and counts it.
type stallingAssistant struct {
	srv     *httptest.Server
	stalled chan time.Time
	resume  chan struct{}

	mu    sync.Mutex
	after int // media messages read after the stall began
	ended chan struct{}
}

func newStallingAssistant(t *testing.T, framesFirst int) *stallingAssistant {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sa := &stallingAssistant{stalled: make(chan time.Time, 1), resume: make(chan struct{}), ended: make(chan struct{})}
	sa.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		defer close(sa.ended)
		media := 0
		for media < framesFirst {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if strings.Contains(string(data), `"event":"media"`) {
				media++
			}
		}
		sa.stalled <- time.Now()
		<-sa.resume
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if strings.Contains(string(data), `"event":"media"`) {
				sa.mu.Lock()
				sa.after++
				sa.mu.Unlock()
			}
		}
	}))
	sa.srv.Listener.Close()
	sa.srv.Listener = ln
	sa.srv.Start()
	t.Cleanup(func() {
		select {
		case <-sa.resume:
		default:
			close(sa.resume)
		}
		sa.srv.Close()
	})
	return sa
}

// TestAssistantStallBoundedThenFallback: the assistant stops reading for
// 10 s in the middle of a call. sipbridge does not queue the caller's audio
// without bound: the connection's send buffer is bounded (assistant.
// DefaultSendBuffer), at most 500 ms of frames wait behind a blocked write,
// and the frames that came meanwhile are dropped, counted in a log line
// (frames_dropped). Once a write has been blocked for the write deadline
// (2 s) the assistant counts as gone and the call goes to its fallback
// number, as README's Faults say, before the 10 s are over; what the
// assistant could still read afterwards is a few seconds of audio, not the
// whole stall.
func TestAssistantStallBoundedThenFallback(t *testing.T) {
	ce := newCallEnv(t)
	sa := newStallingAssistant(t, 25)
	ce.assistant.StreamURL = "ws" + strings.TrimPrefix(sa.srv.URL, "http") + "/stream"
	ce.assistant.FallbackTransferNumber = "sip:+12125557654@pbx.example.com"
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	var stalled time.Time
	select {
	case stalled = <-sa.stalled:
	case <-time.After(5 * time.Second):
		t.Fatal("no caller audio reached the assistant")
	}
	const stall = 10 * time.Second
	cmd := ce.waitCommand("uuid_deflect "+uuid+" ", stall)
	fellBack := time.Since(stalled)
	t.Logf("fallback %v after the assistant stopped reading", fellBack.Round(time.Millisecond))
	if fellBack > stall || !strings.HasSuffix(cmd, " sip:+12125557654@pbx.example.com") {
		t.Fatalf("fallback %q %v after the stall began, want the fallback number within %v", cmd, fellBack, stall)
	}
	rec := ce.waitCall(uuid, db.CallCompleted, 5*time.Second)
	r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
	for _, ev := range []string{"assistant_disconnected", "fallback_transfer"} {
		if !strings.Contains(r.Raw, `"type":"`+ev+`"`) {
			t.Errorf("timeline lacks %s: %s", ev, r.Raw)
		}
	}

	// The count of dropped frames, logged when the call's audio stream ends.
	var dropped float64
	if !waitUntil(5*time.Second, func() bool {
		for _, line := range strings.Split(ce.logs.String(), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil && e["msg"] == "caller audio dropped: the assistant did not take it in time" && e["call_id"] == rec.ID {
				dropped, _ = e["frames_dropped"].(float64)
				return true
			}
		}
		return false
	}) {
		t.Fatal("no log line counting the caller's dropped frames")
	}
	// A blocked write lasts the 2 s deadline: ~100 frames came meanwhile,
	// 25 of them queued.
	if dropped < 25 {
		t.Errorf("frames_dropped %v, want the frames of the blocked write (≥ 25)", dropped)
	}

	// What was still in the connection when the assistant read again:
	// bounded (≤ 6 s of audio), not the ~10 s it stalled.
	close(sa.resume)
	select {
	case <-sa.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled stream was not closed")
	}
	sa.mu.Lock()
	after := sa.after
	sa.mu.Unlock()
	t.Logf("the assistant read %d frames after it stalled; %v dropped", after, dropped)
	if max := int(6 * time.Second / (20 * time.Millisecond)); after > max {
		t.Errorf("%d frames (%v of audio) waited for the stalled assistant, want ≤ %d", after, time.Duration(after)*20*time.Millisecond, max)
	}
}

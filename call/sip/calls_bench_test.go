package sip

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/call/sip/forward"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// benchCall is one simulated call: mod_audio_stream's side sends 640-byte
// L16 16 kHz frames every 20 ms; the assistant's side timestamps each media
// message it receives.
type benchCall struct {
	sent []int64 // frame k sent at (unix ns)
	recv []int64 // media chunk k+1 received at
	mu   sync.Mutex
}

// BenchmarkBridge500Calls runs 500 concurrent calls through the bridge's
// caller-audio path for real: websocket from "mod_audio_stream" →
// streamSink.ServeStream → FrameConverter → assistant.Stream.SendMedia →
// websocket to the assistant, at real-time pace for 10 s of audio. It
// reports the latency per frame — bridge_*: from the frame's arrival on the
// mod_audio_stream websocket to its `media` message written to the
// assistant (what the bridge adds); e2e_*: from the simulated FreeSWITCH's
// send to the assistant's receipt (both loopback hops and the scheduling of
// all three parties on the same 2 cores) — dropped frames, and the CPU of
// the whole process (bridge plus the 500 simulated FreeSWITCH streams and
// the assistant server, so an upper bound of the bridge's own share).
//
//	go test -run '^$' -bench Bridge500Calls -benchtime=1x ./call/sip/
func BenchmarkBridge500Calls(b *testing.B) {
	for _, calls := range []int{50, 500} {
		b.Run(strconv.Itoa(calls), func(b *testing.B) {
			for range b.N {
				runBridgeBench(b, calls, 10*50)
			}
		})
	}
}

func runBridgeBench(b *testing.B, n, frames int) {
	var inMu sync.Mutex
	inBridge := make([]int64, 0, n*frames)
	c := NewCalls(nil, nil, CallsOptions{OnFrame: func(d time.Duration) {
		inMu.Lock()
		inBridge = append(inBridge, int64(d))
		inMu.Unlock()
	}})
	defer c.Close()
	bench := make([]*benchCall, n)
	for i := range bench {
		bench[i] = &benchCall{sent: make([]int64, frames), recv: make([]int64, frames)}
	}
	// The assistant: one websocket per call, path /a/<i>.
	up := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
	asstSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/a/"))
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		bc := bench[i]
		key := []byte(`"chunk":"`)
		buf := make([]byte, 0, 1024)
		for {
			_, r, err := ws.NextReader()
			if err != nil {
				return
			}
			msg, err := forward.ReadFrame(r, buf[:0])
			if err != nil {
				return
			}
			buf = msg
			now := time.Now().UnixNano()
			j := bytes.Index(msg, key)
			if j < 0 {
				continue
			}
			rest := msg[j+len(key):]
			k, err := strconv.Atoi(string(rest[:bytes.IndexByte(rest, '"')]))
			if err != nil || k < 1 || k > len(bc.recv) {
				continue
			}
			bc.mu.Lock()
			bc.recv[k-1] = now
			bc.mu.Unlock()
		}
	}))
	defer asstSrv.Close()

	sessions := make([]*callSession, n)
	for i := range sessions {
		s := newCallSession(c, fmt.Sprintf("bench-%d", i))
		st, err := assistant.Dial(context.Background(), "ws"+strings.TrimPrefix(asstSrv.URL, "http")+"/a/"+strconv.Itoa(i),
			assistant.StartInfo{CallID: s.uuid})
		if err != nil {
			b.Fatal(err)
		}
		s.stream = st
		s.asst.Store(st)
		sessions[i] = s
	}
	// The bridge's websocket endpoint, as web serves it.
	bridgeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/fs/"))
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		(&streamSink{s: sessions[i], gen: 0}).ServeStream(ws)
	}))
	defer bridgeSrv.Close()

	// mod_audio_stream: 500 sockets, one frame each every 20 ms.
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(bridgeSrv.URL, "http")+"/fs/"+strconv.Itoa(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = ws
	}
	tone := tone.New(440, 16000, 8000)
	frame := tone.L16Frame(320)

	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Spread the calls over the 20 ms period, as real calls are.
			time.Sleep(time.Duration(i) * 20 * time.Millisecond / time.Duration(n))
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for k := 0; k < frames; k++ {
				<-t.C
				bench[i].sent[k] = time.Now().UnixNano()
				if err := conns[i].WriteMessage(websocket.BinaryMessage, frame); err != nil {
					return
				}
			}
		}(i)
	}
	wg.Wait()
	// The last frames in flight: a frame still on its way 2 s after the
	// last send counts as dropped.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !allReceived(bench); {
		time.Sleep(10 * time.Millisecond)
	}
	wall := time.Since(start)
	b.StopTimer()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())

	var lat []int64
	dropped := 0
	for _, bc := range bench {
		bc.mu.Lock()
		for k := range bc.sent {
			if bc.recv[k] == 0 {
				dropped++
				continue
			}
			lat = append(lat, bc.recv[k]-bc.sent[k])
		}
		bc.mu.Unlock()
	}
	for _, ws := range conns {
		ws.Close()
	}
	for _, s := range sessions {
		s.closeAssistant(false)
	}
	if len(lat) == 0 {
		b.Fatal("no frame arrived")
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(p(0.50), "e2e_p50_µs")
	b.ReportMetric(p(0.99), "e2e_p99_µs")
	inMu.Lock()
	slices.Sort(inBridge)
	if len(inBridge) > 0 {
		q := func(q float64) float64 { return float64(inBridge[int(q*float64(len(inBridge)-1))]) / 1e3 }
		b.ReportMetric(q(0.50), "bridge_p50_µs")
		b.ReportMetric(q(0.99), "bridge_p99_µs")
	}
	inMu.Unlock()
	b.ReportMetric(float64(dropped), "dropped")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(float64(len(lat)), "frames")
}

// allReceived reports whether every frame sent has reached the assistant.
func allReceived(bench []*benchCall) bool {
	for _, bc := range bench {
		bc.mu.Lock()
		last := bc.recv[len(bc.recv)-1]
		bc.mu.Unlock()
		if last == 0 {
			return false
		}
	}
	return true
}

// BenchmarkBridgeFrame is the per-frame cost of the hot path on one call:
// read a 640-byte frame from the mod_audio_stream websocket, convert it and
// send the `media` message to the assistant.
//
//	go test -run '^$' -bench BridgeFrame -benchmem ./call/sip/
func BenchmarkBridgeFrame(b *testing.B) {
	c := NewCalls(nil, nil, CallsOptions{})
	defer c.Close()
	up := websocket.Upgrader{}
	got := make(chan struct{}, 1024)
	asstSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
			got <- struct{}{}
		}
	}))
	defer asstSrv.Close()
	s := newCallSession(c, "bench")
	st, err := assistant.Dial(context.Background(), "ws"+strings.TrimPrefix(asstSrv.URL, "http"), assistant.StartInfo{CallID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	<-got // connected
	<-got // start
	s.asst.Store(st)
	bridgeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		(&streamSink{s: s}).ServeStream(ws)
	}))
	defer bridgeSrv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(bridgeSrv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	frame := tone.New(440, 16000, 8000).L16Frame(320)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

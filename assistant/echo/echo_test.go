package echo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// syncBuffer is a log sink the server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the log's JSON lines whose msg is msg.
func (s *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if l == "" {
			continue
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

type echoed struct {
	at   time.Time
	ulaw []byte
}

// dial starts an echo assistant and connects to it as sipbridge does (the
// project's own Media Streams client); the echoed media messages arrive on
// the returned channel.
func dial(t *testing.T, o Options) (*assistant.Stream, <-chan echoed, *syncBuffer, *Server) {
	t.Helper()
	logs := &syncBuffer{}
	o.Log = slog.New(slog.NewJSONHandler(logs, nil))
	srv := New(o)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	st, err := assistant.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http")+"/stream",
		assistant.StartInfo{CallID: "0b9f4d0e-6c1b-4f3e-9d7a-2a1c5e8f9b10", From: "+14165550100", To: "+16478491000"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	out := make(chan echoed, 1024)
	go func() {
		for m := range st.Messages() {
			if m.Event == assistant.EventMedia {
				out <- echoed{at: time.Now(), ulaw: m.Payload}
			}
		}
	}()
	return st, out, logs, srv
}

func receive(t *testing.T, ch <-chan echoed, n int, within time.Duration) []echoed {
	t.Helper()
	var got []echoed
	deadline := time.After(within)
	for len(got) < n {
		select {
		case e := <-ch:
			got = append(got, e)
		case <-deadline:
			t.Fatalf("got %d echoed frames within %v, want %d", len(got), within, n)
		}
	}
	return got
}

func toneFrames(freq float64, n int) [][]byte {
	g := tone.New(freq, 8000, 8000)
	pcm := make([]int16, frameSamples)
	var out [][]byte
	for range n {
		g.Read(pcm)
		u := make([]byte, frameSamples)
		audio.MulawEncode(u, pcm)
		out = append(out, u)
	}
	return out
}

func silence(n int) [][]byte {
	var out [][]byte
	for range n {
		out = append(out, bytes.Repeat([]byte{0xff}, frameSamples)) // μ-law zero
	}
	return out
}

// The caller hears what they said, unchanged, 500 ms after they said it;
// the stop's log line counts what came and went.
func TestEchoPlaysCallerAudioBackAfterHalfASecond(t *testing.T) {
	st, out, logs, srv := dial(t, Options{})
	frames := toneFrames(1004, 25)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	sent := make([]time.Time, len(frames))
	for i, f := range frames {
		sent[i] = time.Now()
		if err := st.SendMedia(f); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	got := receive(t, out, len(frames), 3*time.Second)
	for i, e := range got {
		if !bytes.Equal(e.ulaw, frames[i]) {
			t.Fatalf("echoed frame %d differs from the caller's", i)
		}
		if lag := e.at.Sub(sent[i]); lag < DefaultDelay || lag > DefaultDelay+150*time.Millisecond {
			t.Errorf("frame %d echoed %v after it was sent, want 500–650 ms", i, lag)
		}
	}
	var pcm []int16
	for _, e := range got {
		pcm = audio.AppendMulawDecode(pcm, e.ulaw)
	}
	if f := tone.DominantFrequency(pcm, 8000); f < 994 || f > 1014 {
		t.Errorf("echo's frequency %.1f Hz, want the caller's 1004 Hz", f)
	}
	if err := st.Stop(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	srv.Wait()
	starts := logs.lines(t, "echo: stream started")
	if len(starts) != 1 || starts[0]["from"] != "+14165550100" || starts[0]["to"] != "+16478491000" ||
		starts[0]["call_id"] != "0b9f4d0e-6c1b-4f3e-9d7a-2a1c5e8f9b10" || starts[0]["stream_sid"] != st.StreamSID() {
		t.Errorf("start lines %v", starts)
	}
	stops := logs.lines(t, "echo: stream stopped")
	if len(stops) != 1 {
		t.Fatalf("stop lines %v", stops)
	}
	if stops[0]["call_id"] != "0b9f4d0e-6c1b-4f3e-9d7a-2a1c5e8f9b10" || stops[0]["stream_sid"] != st.StreamSID() {
		t.Errorf("the stop line does not name the call and stream: %v", stops[0])
	}
	for k, want := range map[string]float64{"media_frames_in": 25, "media_bytes_in": 4000, "media_frames_out": 25, "media_bytes_out": 4000} {
		if stops[0][k] != want {
			t.Errorf("stop line %s = %v, want %v (%v)", k, stops[0][k], want, stops[0])
		}
	}
}

// A digit comes back as its DTMF tone pair in the caller's echo, where it
// was pressed; the log names each digit.
func TestEchoReadsDigitsBackAsTones(t *testing.T) {
	st, out, logs, srv := dial(t, Options{Delay: 40 * time.Millisecond})
	send := func(frames [][]byte) {
		for _, f := range frames {
			if err := st.SendMedia(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(silence(10))
	if err := st.SendDTMF("7"); err != nil {
		t.Fatal(err)
	}
	send(silence(20))
	if err := st.SendDTMF("#"); err != nil {
		t.Fatal(err)
	}
	send(silence(20))
	got := receive(t, out, 50, 3*time.Second)
	span := func(from, to int) []int16 {
		var pcm []int16
		for _, e := range got[from:to] {
			pcm = audio.AppendMulawDecode(pcm, e.ulaw)
		}
		return pcm
	}
	if rms := tone.RMS(span(0, 10)); rms > 50 {
		t.Errorf("before the digit the echo is not silent (RMS %.0f)", rms)
	}
	for _, c := range []struct {
		digit    string
		from, to int
	}{{"7", 10, 20}, {"#", 30, 40}} {
		pcm := span(c.from, c.to)
		low, high, _ := DigitFrequencies(c.digit)
		for _, f := range []float64{697, 770, 852, 941, 1209, 1336, 1477, 1633} {
			lvl := tone.Level(pcm, 8000, f)
			if want := f == low || f == high; want && lvl < 4000 {
				t.Errorf("digit %s: its %v Hz tone at level %.0f, want ≥ 4000", c.digit, f, lvl)
			} else if !want && lvl > 300 {
				t.Errorf("digit %s: %v Hz (not its tone) at level %.0f", c.digit, f, lvl)
			}
		}
	}
	if rms := tone.RMS(span(21, 30)); rms > 50 {
		t.Errorf("the first tone does not end after %v (RMS %.0f after it)", DigitToneLength, rms)
	}
	st.Stop()
	st.Close()
	srv.Wait()
	if d := logs.lines(t, "echo: digit"); len(d) != 2 || d[0]["digit"] != "7" || d[1]["digit"] != "#" {
		t.Errorf("digit lines %v", d)
	}
	if s := logs.lines(t, "echo: stream stopped"); len(s) != 1 || s[0]["digits"] != "7#" {
		t.Errorf("stop lines %v", s)
	}
}

func TestDigitFrequencies(t *testing.T) {
	for _, c := range []struct {
		digit     string
		low, high float64
		ok        bool
	}{{"1", 697, 1209, true}, {"5", 770, 1336, true}, {"9", 852, 1477, true}, {"0", 941, 1336, true},
		{"*", 941, 1209, true}, {"#", 941, 1477, true}, {"d", 941, 1633, true}, {"E", 0, 0, false}, {"12", 0, 0, false}} {
		low, high, ok := DigitFrequencies(c.digit)
		if low != c.low || high != c.high || ok != c.ok {
			t.Errorf("DigitFrequencies(%q) = %v %v %v, want %v %v %v", c.digit, low, high, ok, c.low, c.high, c.ok)
		}
	}
	if DigitTone("x", time.Second) != nil {
		t.Error("a key without a tone has a tone")
	}
}

// A browser or curl on the echo's address learns what to do with it.
func TestEchoPlainRequestSaysWhatItIs(t *testing.T) {
	hs := httptest.NewServer(New(Options{}))
	defer hs.Close()
	res, err := http.Get(hs.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusUpgradeRequired || !strings.Contains(string(body), "stream_url to ws://") {
		t.Errorf("%d %q", res.StatusCode, body)
	}
}

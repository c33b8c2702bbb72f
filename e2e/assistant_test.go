package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// TestAssistant is a voice-AI runtime as sipbridge sees one: a websocket
// server speaking the Twilio Media Streams protocol. It records what each
// stream brings (events, start, the caller's μ-law, marks, DTMF, stop) and
// can answer in real time (a tone paced at 20 ms, marks, clear, transfer,
// hangup), or stop reading for a while (StartStallingAssistant).
type TestAssistant struct {
	t    testing.TB
	srv  *http.Server
	addr string
	got  chan *AssistantConn
	// OnStart, when set before calls arrive, runs (in its own goroutine)
	// as each stream's start message arrives: an assistant that speaks at
	// once.
	OnStart func(*AssistantConn)
	// AcceptDelay, when set before calls arrive, holds each websocket
	// upgrade that long: an assistant slow to connect.
	AcceptDelay time.Duration
	// stallAfter and stallFor (StartStallingAssistant): each stream stops
	// reading after stallAfter media messages, for stallFor.
	stallAfter int
	stallFor   time.Duration

	mu    sync.Mutex
	conns []*AssistantConn
}

// AssistantConn is one stream (one call) to the assistant.
type AssistantConn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	closed chan struct{}
	// onStart is TestAssistant.OnStart as the stream began.
	onStart func(*AssistantConn)
	// stallAfter, stallFor: TestAssistant's as the stream began.
	stallAfter int
	stallFor   time.Duration

	mu       sync.Mutex
	events   []string // event names in order
	start    map[string]any
	streamID string
	media    []byte      // the caller's μ-law 8 kHz, concatenated
	frames   int         // media messages
	times    []time.Time // arrival of each media message
	marks    []string
	dtmf     []string
	failed   []map[string]string // transfer_failed's transfer objects
	amd      []map[string]any    // amd messages' amd objects
	stopped  bool
	// stalled, resumed: when the stream stopped reading and read again
	// (a stalling assistant's; zero otherwise).
	stalled, resumed time.Time
}

// StartAssistant serves a test assistant on 127.0.0.1; it stops when t ends.
func StartAssistant(t testing.TB) *TestAssistant {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveAssistant(t, &TestAssistant{}, ln)
}

// StartStallingAssistant serves a test assistant that stops reading: each
// stream reads its first `after` media messages, then nothing for `stall`
// (its socket's receive buffer kept small, 4 KiB asked, as a busy host's
// would be), then reads again until the stream ends.
func StartStallingAssistant(t testing.TB, after int, stall time.Duration) *TestAssistant {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveAssistant(t, &TestAssistant{stallAfter: after, stallFor: stall}, ln)
}

// serveAssistant serves ta on ln until t ends.
func serveAssistant(t testing.TB, ta *TestAssistant, ln net.Listener) *TestAssistant {
	ta.t, ta.addr, ta.got = t, ln.Addr().String(), make(chan *AssistantConn, 64)
	up := websocket.Upgrader{}
	ta.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(ta.AcceptDelay)
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &AssistantConn{ws: ws, closed: make(chan struct{}), onStart: ta.OnStart, stallAfter: ta.stallAfter, stallFor: ta.stallFor}
		ta.mu.Lock()
		ta.conns = append(ta.conns, c)
		ta.mu.Unlock()
		select {
		case ta.got <- c:
		default:
		}
		c.read()
	}), ReadHeaderTimeout: 5 * time.Second}
	go ta.srv.Serve(ln)
	t.Cleanup(func() {
		ta.srv.Close()
		ta.mu.Lock()
		defer ta.mu.Unlock()
		for _, c := range ta.conns {
			c.ws.Close()
		}
	})
	return ta
}

// URL is the assistant's stream_url.
func (ta *TestAssistant) URL() string { return "ws://" + ta.addr + "/stream" }

// Next waits for the next stream (call) to reach the assistant.
func (ta *TestAssistant) Next(t testing.TB, within time.Duration) *AssistantConn {
	t.Helper()
	select {
	case c := <-ta.got:
		return c
	case <-time.After(within):
		t.Fatalf("no stream reached the assistant within %v", within)
		return nil
	}
}

func (c *AssistantConn) read() {
	defer close(c.closed)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		var m struct {
			Event     string         `json:"event"`
			StreamSid string         `json:"streamSid"`
			Start     map[string]any `json:"start"`
			Media     struct {
				Payload string `json:"payload"`
			} `json:"media"`
			Mark struct {
				Name string `json:"name"`
			} `json:"mark"`
			DTMF struct {
				Digit string `json:"digit"`
			} `json:"dtmf"`
			Transfer map[string]string `json:"transfer"`
			AMD      map[string]any    `json:"amd"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		c.mu.Lock()
		c.events = append(c.events, m.Event)
		switch m.Event {
		case "start":
			c.start, c.streamID = m.Start, m.StreamSid
			if c.onStart != nil {
				go c.onStart(c)
			}
		case "media":
			b, _ := base64.StdEncoding.DecodeString(m.Media.Payload)
			c.media = append(c.media, b...)
			c.frames++
			c.times = append(c.times, now)
			if c.frames == c.stallAfter {
				c.stall()
			}
		case "mark":
			c.marks = append(c.marks, m.Mark.Name)
		case "dtmf":
			c.dtmf = append(c.dtmf, m.DTMF.Digit)
		case "stop":
			c.stopped = true
		case "transfer_failed":
			c.failed = append(c.failed, m.Transfer)
		case "amd":
			c.amd = append(c.amd, m.AMD)
		}
		c.mu.Unlock()
	}
}

// stall stops reading for stallFor (c.mu held, as read holds it).
func (c *AssistantConn) stall() {
	c.stalled = time.Now()
	c.mu.Unlock()
	time.Sleep(c.stallFor)
	c.mu.Lock()
	c.resumed = time.Now()
}

// Stall returns when the stream stopped reading and when it read again
// (zero until then).
func (c *AssistantConn) Stall() (stalled, resumed time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled, c.resumed
}

// Send writes one JSON message to sipbridge.
func (c *AssistantConn) Send(v any) error {
	b, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *AssistantConn) sid() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streamID
}

// SpeakTone sends d of a freq Hz tone as μ-law 8 kHz media messages of 20 ms,
// paced in real time like a live runtime; it returns when all are sent.
func (c *AssistantConn) SpeakTone(freq float64, d time.Duration) error {
	g := tone.New(freq, 8000, 8000)
	pcm := make([]int16, 160)
	ulaw := make([]byte, 160)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	sid := c.sid()
	for sent := time.Duration(0); sent < d; sent += 20 * time.Millisecond {
		g.Read(pcm)
		audio.MulawEncode(ulaw, pcm)
		if err := c.Send(map[string]any{"event": "media", "streamSid": sid, "media": map[string]any{"payload": base64.StdEncoding.EncodeToString(ulaw)}}); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-c.closed:
			return net.ErrClosed
		}
	}
	return nil
}

// Mark sends a mark; sipbridge echoes it once the audio before it played.
func (c *AssistantConn) Mark(name string) error {
	return c.Send(map[string]any{"event": "mark", "streamSid": c.sid(), "mark": map[string]any{"name": name}})
}

// Clear asks sipbridge to drop the audio not yet played (barge-in).
func (c *AssistantConn) Clear() error {
	return c.Send(map[string]any{"event": "clear", "streamSid": c.sid()})
}

// Hangup asks sipbridge to end the call.
func (c *AssistantConn) Hangup() error { return c.Send(map[string]any{"event": "hangup"}) }

// Transfer asks sipbridge to transfer the call (a sip: URI or an E.164 number).
func (c *AssistantConn) Transfer(to string) error {
	return c.Send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": to}})
}

// Closed is closed when the websocket is gone.
func (c *AssistantConn) Closed() <-chan struct{} { return c.closed }

// Start returns the start message's "start" object (customParameters, mediaFormat, …).
func (c *AssistantConn) Start() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start
}

// Param returns start.customParameters[name].
func (c *AssistantConn) Param(name string) string {
	p, _ := c.Start()["customParameters"].(map[string]any)
	s, _ := p[name].(string)
	return s
}

// Events returns the event names received so far, in order.
func (c *AssistantConn) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// Frames returns how many media messages arrived.
func (c *AssistantConn) Frames() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// FramesSince returns how many media messages arrived after at.
func (c *AssistantConn) FramesSince(at time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ts := range c.times {
		if ts.After(at) {
			n++
		}
	}
	return n
}

// Audio returns the caller's audio so far, decoded to 8 kHz PCM.
func (c *AssistantConn) Audio() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return audio.AppendMulawDecode(nil, c.media)
}

// Marks returns the marks echoed back so far.
func (c *AssistantConn) Marks() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.marks...)
}

// DTMF returns the digits received so far.
func (c *AssistantConn) DTMF() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.dtmf...)
}

// TransferFailed returns the transfer objects ({to, reason}) of the
// transfer_failed messages received so far.
func (c *AssistantConn) TransferFailed() []map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]string(nil), c.failed...)
}

// AMD returns the amd objects of the amd messages received so far.
func (c *AssistantConn) AMD() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.amd...)
}

// Stopped reports whether a stop arrived.
func (c *AssistantConn) Stopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// CreateAssistant creates an assistant pointing at ta (201); it is deleted
// when t ends.
func (b *Bridge) CreateAssistant(t testing.TB, name string, ta *TestAssistant, extra map[string]any) string {
	t.Helper()
	in := map[string]any{"name": name, "stream_url": ta.URL()}
	for k, v := range extra {
		in[k] = v
	}
	var out struct {
		ID string `json:"id"`
	}
	b.API.Call(t, "POST", "/api/v1/assistants", in, http.StatusCreated, &out)
	t.Cleanup(func() { b.API.Do(t, "DELETE", "/api/v1/assistants/"+out.ID, nil) })
	return out.ID
}

// AddNumber registers a byo-sip-trunk number on a trunk with an assistant
// (201); it is released when t ends.
func (b *Bridge) AddNumber(t testing.TB, number, assistantID, trunkID string) {
	t.Helper()
	in := map[string]any{"phone_number": number, "provider": "byo-sip-trunk", "sip_trunk_id": trunkID}
	if assistantID != "" {
		in["assistant_id"] = assistantID
	}
	b.API.Call(t, "POST", "/api/v1/phone-numbers/purchase", in, http.StatusOK, nil)
	t.Cleanup(func() {
		if st, data := b.API.Do(t, "POST", "/api/v1/phone-numbers/release", map[string]any{"phone_number": number}); st != http.StatusOK {
			t.Errorf("cleanup: release %s: %d %s", number, st, data)
		}
	})
}

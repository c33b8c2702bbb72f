package fstest

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

// eslLog is an ESL client that keeps every event it reads, so a test can
// wait for one event and still compare the whole sequence afterwards.
type eslLog struct {
	t       *testing.T
	nc      net.Conn
	replies chan string
	events  chan ev
	seen    []ev

	mu   sync.Mutex
	wire []string // every frame in arrival order: "reply <body>" or the event kind
}

// wireOrder is what arrived so far, in order.
func (l *eslLog) wireOrder() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.wire)
}

func newESLLog(t *testing.T, s *Switch) *eslLog {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	l := &eslLog{t: t, nc: nc, replies: make(chan string, 16), events: make(chan ev, 4096)}
	go func() {
		defer close(l.replies)
		r := bufio.NewReader(nc)
		for {
			raw, err := readFrame(r)
			if err != nil {
				return
			}
			if isEventFrame(raw) {
				e, err := parseEvent(raw)
				if err != nil {
					e = ev{h: map[string]string{"Event-Name": "UNPARSABLE", "_body": err.Error()}}
				}
				l.mu.Lock()
				l.wire = append(l.wire, e.kind())
				l.mu.Unlock()
				l.events <- e
				continue
			}
			l.mu.Lock()
			l.wire = append(l.wire, "reply "+body(raw))
			l.mu.Unlock()
			l.replies <- raw
		}
	}()
	t.Cleanup(func() { nc.Close() })
	l.reply() // auth/request
	l.send("auth ClueCon\n\n")
	l.reply()
	l.send("event json ALL CUSTOM mod_audio_stream::connect mod_audio_stream::disconnect mod_audio_stream::error mod_audio_stream::json mod_audio_stream::play sofia::notify_refer\n\n")
	l.reply()
	return l
}

func (l *eslLog) send(cmd string) {
	if _, err := l.nc.Write([]byte(cmd)); err != nil {
		l.t.Fatal(err)
	}
}

func (l *eslLog) reply() string {
	l.t.Helper()
	select {
	case r, ok := <-l.replies:
		if !ok {
			l.t.Fatal("ESL connection closed")
		}
		return r
	case <-time.After(5 * time.Second):
		l.t.Fatal("no reply")
	}
	return ""
}

// api sends an api command and returns the whole reply frame.
func (l *eslLog) api(cmd string) string {
	l.t.Helper()
	l.send("api " + cmd + "\n\n")
	return l.reply()
}

// body is the body of an api/response frame.
func body(frame string) string {
	_, b, _ := strings.Cut(frame, "\n\n")
	return b
}

// wait reads events until one of kind (Event-Name or subclass) arrives.
func (l *eslLog) wait(kind string, timeout time.Duration) ev {
	l.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e := <-l.events:
			l.seen = append(l.seen, e)
			if e.kind() == kind {
				return e
			}
		case <-deadline:
			l.t.Fatalf("no %s within %v; seen %v", kind, timeout, kinds(l.seen))
		}
	}
}

// none asserts no event of kind arrives within d (others are kept).
func (l *eslLog) none(kind string, d time.Duration) {
	l.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-l.events:
			l.seen = append(l.seen, e)
			if e.kind() == kind {
				l.t.Fatalf("unexpected %s: %v", kind, e.h["_body"])
			}
		case <-deadline:
			return
		}
	}
}

func kinds(evs []ev) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.kind()
	}
	return out
}

// sequence is the channel's event sequence as compared with a recording:
// name (subclass for CUSTOM) and Channel-State, without HEARTBEAT,
// RE_SCHEDULE and API.
func sequence(evs []ev, uuid string) []string {
	var out []string
	for _, e := range evs {
		switch e.h["Event-Name"] {
		case "HEARTBEAT", "RE_SCHEDULE", "API", "BACKGROUND_JOB":
			continue
		}
		if e.h["Unique-ID"] != uuid {
			continue
		}
		out = append(out, e.kind()+"/"+e.h["Channel-State"])
	}
	return out
}

// recordedSequence is sequence() of a recording.
func recordedSequence(t *testing.T, rec string) []string {
	t.Helper()
	frames, err := recording.LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	var evs []ev
	id := ""
	for _, f := range frames {
		if f.Dir != "s2c" || !isEventFrame(f.Raw) {
			continue
		}
		e, err := parseEvent(f.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if id == "" && e.h["Event-Name"] == "CHANNEL_CREATE" {
			id = e.h["Unique-ID"]
		}
		evs = append(evs, e)
	}
	seq := sequence(evs, id)
	if len(seq) < 15 {
		t.Fatalf("%s: only %d channel events; the comparison would prove nothing", rec, len(seq))
	}
	return seq
}

// recordedAPIReply finds the first `api <prefix>…` command of a recording
// and returns the reply frame that followed it.
func recordedAPIReply(t *testing.T, rec, prefix string) string {
	t.Helper()
	frames, err := recording.LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if f.Dir != "c2s" || !strings.HasPrefix(f.Raw, "api "+prefix) {
			continue
		}
		for _, g := range frames[i+1:] {
			if g.Dir == "s2c" && !isEventFrame(g.Raw) {
				return g.Raw
			}
		}
	}
	t.Fatalf("%s: no api %s…", rec, prefix)
	return ""
}

// wsFrame is one message the test server received.
type wsFrame struct {
	typ  int
	data []byte
	at   time.Time
}

// wsPeer is one accepted connection of the test server.
type wsPeer struct {
	c      *websocket.Conn
	req    *http.Request
	frames chan wsFrame
	closed chan *websocket.CloseError // the client's close frame, or nil on a bare EOF
	mu     sync.Mutex
	pings  int
	rest   []wsFrame // frames closeInfo read past
}

// wsServer is a websocket server standing for sipbridge's endpoint.
type wsServer struct {
	srv   *httptest.Server
	url   string
	peers chan *wsPeer
}

func newWSServer(t *testing.T) *wsServer {
	t.Helper()
	w := &wsServer{peers: make(chan *wsPeer, 4)}
	up := websocket.Upgrader{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(rw, r, nil)
		if err != nil {
			return
		}
		p := &wsPeer{c: c, req: r, frames: make(chan wsFrame, 4096), closed: make(chan *websocket.CloseError, 1)}
		c.SetPingHandler(func(data string) error {
			p.mu.Lock()
			p.pings++
			p.mu.Unlock()
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		w.peers <- p
		for {
			typ, data, err := c.ReadMessage()
			if err != nil {
				ce, _ := err.(*websocket.CloseError)
				if ce != nil && ce.Code == websocket.CloseAbnormalClosure {
					ce = nil
				}
				p.closed <- ce
				close(p.frames)
				return
			}
			p.frames <- wsFrame{typ, data, time.Now()}
		}
	}))
	w.url = "ws://" + strings.TrimPrefix(w.srv.URL, "http://") + "/stream"
	t.Cleanup(w.srv.Close)
	return w
}

func (w *wsServer) accept(t *testing.T) *wsPeer {
	t.Helper()
	select {
	case p := <-w.peers:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("mod_audio_stream did not connect")
	}
	return nil
}

func (p *wsPeer) next(t *testing.T) wsFrame {
	t.Helper()
	select {
	case f, ok := <-p.frames:
		if !ok {
			t.Fatal("websocket closed")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no websocket frame")
	}
	return wsFrame{}
}

func (p *wsPeer) sendText(t *testing.T, msg string) {
	t.Helper()
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// closeInfo waits for the connection to end and returns the client's close
// frame (nil: no close frame).
func (p *wsPeer) closeInfo(t *testing.T) *websocket.CloseError {
	t.Helper()
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				return <-p.closed
			}
			p.rest = append(p.rest, f)
		case <-time.After(5 * time.Second):
			t.Fatal("websocket not closed")
		}
	}
}

// streamAudioMsg is what sipbridge sends back: base64 L16 at rate.
func streamAudioMsg(pcm []int16, rate int) string {
	raw := pcmBytes(pcm)
	b, _ := json.Marshal(map[string]any{"type": "streamAudio", "data": map[string]any{"audioDataType": "raw",
		"sampleRate": rate, "audioData": base64.StdEncoding.EncodeToString(raw)}})
	return string(b)
}

func pcmBytes(pcm []int16) []byte {
	raw := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
	}
	return raw
}

// wavFile writes a mono 16-bit WAV.
func wavFile(t *testing.T, path string, pcm []int16, rate int) {
	t.Helper()
	writeBytes(t, path, audiofile.WAV(rate, pcm))
}

// answeredCall places a call and answers it (inbound-answer-hangup).
func answeredCall(t *testing.T, s *Switch, l *eslLog, c InboundCall) string {
	t.Helper()
	if c.FromUser == "" {
		c.FromUser, c.RequestUser = "+14165550100", "9228"
	}
	id, err := s.Call(c)
	if err != nil {
		t.Fatal(err)
	}
	if r := body(l.api("uuid_answer " + id)); r != "+OK\n" {
		t.Fatalf("uuid_answer: %q", r)
	}
	l.wait("CHANNEL_ANSWER", 5*time.Second)
	return id
}

// mediaKinds are the events only the media side fires (CHANNEL_EXECUTE
// and _COMPLETE of the playback application count as such).
var mediaKinds = []string{"MEDIA_BUG_START", "MEDIA_BUG_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "PRIVATE_COMMAND",
	"RECORD_START", "RECORD_STOP", "CHANNEL_EXECUTE/playback", "CHANNEL_EXECUTE_COMPLETE/playback",
	"mod_audio_stream::connect", "mod_audio_stream::play", "mod_audio_stream::json", "mod_audio_stream::error",
	"mod_audio_stream::disconnect"}

func mediaKind(e ev) string {
	if a := e.h["Application"]; a != "" && strings.HasPrefix(e.kind(), "CHANNEL_EXECUTE") {
		return e.kind() + "/" + a
	}
	return e.kind()
}

// headerNames is the set of an event's header names, channel variables
// left out (their set depends on the call's history).
func headerNames(e ev) []string {
	var out []string
	for _, k := range e.keys {
		if !strings.HasPrefix(k, "variable_") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// checkHeaderNames: each media event kind present in both the recording
// and ours has the same header names (the order is not emulated).
func checkHeaderNames(t *testing.T, rec string, ours []ev) {
	t.Helper()
	frames, err := recording.LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, f := range frames {
		if f.Dir != "s2c" || !isEventFrame(f.Raw) {
			continue
		}
		e, err := parseEvent(f.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if k := mediaKind(e); slices.Contains(mediaKinds, k) && want[k] == nil {
			want[k] = headerNames(e)
		}
	}
	checked := 0
	done := map[string]bool{}
	for _, e := range ours {
		k := mediaKind(e)
		if w, ok := want[k]; ok && !done[k] {
			done[k] = true
			checked++
			if got := headerNames(e); !slices.Equal(got, w) {
				t.Errorf("%s headers\n got  %v\n want %v", k, got, w)
			}
		}
	}
	if checked == 0 {
		t.Errorf("%s: no media event compared", rec)
	}
}

// recordedWireAfter is what a recording shows on the wire after the
// first `api <prefix>…`: its reply and the next n frames of the kinds
// given (API and the other kinds left out), as wireOrder renders them.
func recordedWireAfter(t *testing.T, rec, prefix string, n int, kinds ...string) []string {
	t.Helper()
	frames, err := recording.LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, f := range frames {
		if f.Dir != "c2s" || !strings.HasPrefix(f.Raw, "api "+prefix) {
			continue
		}
		for _, g := range frames[i+1:] {
			if g.Dir != "s2c" || len(out) > n {
				continue
			}
			if !isEventFrame(g.Raw) {
				out = append(out, "reply "+body(g.Raw))
				continue
			}
			if e, _ := parseEvent(g.Raw); slices.Contains(kinds, e.kind()) {
				out = append(out, e.kind())
			}
		}
		return out
	}
	t.Fatalf("%s: no api %s", rec, prefix)
	return nil
}

// wireAfter is the same for our session: the frames after the reply that
// starts with want, filtered alike.
func wireAfter(wire []string, reply string, n int, kinds ...string) []string {
	var out []string
	for i, w := range wire {
		if w != "reply "+reply {
			continue
		}
		out = append(out, w)
		for _, x := range wire[i+1:] {
			if len(out) > n {
				break
			}
			if strings.HasPrefix(x, "reply ") || slices.Contains(kinds, x) {
				out = append(out, x)
			}
		}
		return out
	}
	return nil
}

// asRecorded sets the simulator up as the switch the call recordings were
// made on (fixtures README): a vanilla external profile, whose
// inbound-late-negotiation makes uuid_answer fire PROGRESS_MEDIA first,
// and a public context that ran park alone.
func asRecorded(o Options) Options {
	o.Dialplan = []string{"park"}
	return o
}

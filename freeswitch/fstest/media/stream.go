package media

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiostream"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/dialstring"
)

// mod_audio_stream (amigniter/mod_audio_stream, mod_audio_stream.c and
// audio_streamer_glue.cpp; websocket client libwsc), as recorded in
// audio-stream-*.jsonl and their websocket logs:
//
//   - start: "+OK Success", MEDIA_BUG_START (audio_stream), then the dial;
//     on the upgrade the metadata goes out as the first text frame and
//     CUSTOM ::connect {"status":"connected"} fires; then one binary frame
//     of raw L16 per 20 ms (mono: from the first frame on; mixed/stereo:
//     only while something is played to the caller, as the stereo
//     recording shows — mixed is not recorded and is assumed to behave
//     like stereo);
//   - a dial that fails: ::error {"status":"error","message":{"code":6,
//     "error":"Connection refused (system error 111)"}} and MEDIA_BUG_STOP,
//     no retry; the bug is gone, so a later stop answers -ERR;
//   - text from the server: a valid streamAudio becomes a file in the
//     temp dir and ::play with the data object (audioData removed, file
//     added); anything else, invalid streamAudio included, ::json with the
//     text as is (processMessage falls back to EVENT_JSON);
//   - a close frame from the server: ::disconnect with its code and reason;
//     the bug stays (no more frames) until stop or hangup;
//   - the connection lost without a close frame (BreakStream, a server
//     that dies): libwsc reports an IO error (code 1), so ::error and
//     MEDIA_BUG_STOP as for a failed dial;
//   - stop / hangup: the files written are deleted, the client sends close
//     1000 "Normal closure", no event of the module; MEDIA_BUG_STOP.
//
// Binary frames from the server are ignored; STREAM_HEART_BEAT sends a
// ping ("ping") every that many seconds; STREAM_BUFFER_SIZE, extra headers
// and TLS options are not emulated (20 ms frames always).

const (
	streamBug    = "audio_stream"
	streamSyntax = "<uuid> [start | stop | send_text | pause | resume | graceful-shutdown ] [wss-url | path] [mono | mixed | stereo] [8000 | 16000] [metadata]"
)

type audioStream struct {
	md *Media
	ch Channel
	m  *chanMedia

	url, mix  string
	rate      int
	meta      string
	heartBeat time.Duration
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{} // the dial/read goroutine ended

	evMu    sync.Mutex // held while deciding to fire and firing
	cleaned bool       // stop, hangup or failure: no more events

	mu       sync.Mutex // the websocket and what is sent on it
	ws       *websocket.Conn
	open     bool // upgraded, not closed by either side
	paused   bool
	broken   bool // BreakStream
	lastPing time.Time
	fileN    int
	files    []string
}

// apiAudioStream is uuid_audio_stream (mod_audio_stream.c stream_function).
func (md *Media) apiAudioStream(b Batch, args string) string {
	const fail = "-ERR Operation Failed\n"
	argv := dialstring.SeparateBlank(args, 6)
	// (The module tests "start" case-sensitively here and would crash on
	// "START" without a mix type; that answers the usage too.)
	if len(argv) < 2 || (strings.EqualFold(argv[1], "start") && len(argv) < 4) {
		return "-USAGE: " + streamSyntax + "\n"
	}
	ch, ok := md.h.Channel(argv[0])
	if !ok {
		return fail
	}
	m := md.of(ch)
	switch strings.ToLower(argv[1]) {
	case "stop":
		return md.streamStop(b, ch, m, argv)
	case "pause", "resume":
		m.mu.Lock()
		st := m.stream
		m.mu.Unlock()
		if st == nil {
			return fail
		}
		st.mu.Lock()
		st.paused = strings.EqualFold(argv[1], "pause")
		st.mu.Unlock()
		return "+OK Success\n"
	case "send_text":
		if len(argv) < 3 || !utf8.ValidString(argv[2]) {
			return ""
		}
		m.mu.Lock()
		st := m.stream
		m.mu.Unlock()
		if st == nil {
			return fail
		}
		st.writeText(argv[2])
		return "+OK Success\n"
	case "start":
		return md.streamStart(b, ch, m, argv)
	}
	return fail // "unsupported mod_audio_stream cmd" (graceful-shutdown too)
}

// streamStop is `uuid_audio_stream <uuid> stop [text]`.
func (md *Media) streamStop(b Batch, ch Channel, m *chanMedia, argv []string) string {
	const fail = "-ERR Operation Failed\n"
	var text *string
	if len(argv) > 2 {
		if !utf8.ValidString(argv[2]) {
			return ""
		}
		text = &argv[2]
	}
	m.mu.Lock()
	st := m.stream
	if st != nil {
		m.stream = nil
		m.dropBugLocked(streamBug)
	}
	m.mu.Unlock()
	if st == nil {
		return fail // audio-stream-error: stop after the failed dial
	}
	st.cleanup(text, false)
	md.event(b, ch, "MEDIA_BUG_STOP", "", map[string]any{"Media-Bug-Function": streamBug, "Media-Bug-Target": "N/A"}, "")
	return "+OK Success\n"
}

// streamStart is `uuid_audio_stream <uuid> start <url> <mix> [rate] [metadata]`.
func (md *Media) streamStart(b Batch, ch Channel, m *chanMedia, argv []string) string {
	const fail = "-ERR Operation Failed\n"
	a, reply, ok := audiostream.ParseStart(argv[2:])
	if !ok {
		return reply
	}
	hb := 0
	if v, ok := ch.Var("STREAM_HEART_BEAT"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			hb = n
		}
	}
	m.mu.Lock()
	if m.stream != nil {
		m.mu.Unlock()
		return fail // "bug already attached!"
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &audioStream{md: md, ch: ch, m: m, url: a.URL, mix: a.Mix, rate: a.Rate, meta: a.Meta,
		heartBeat: time.Duration(hb) * time.Second, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	m.stream = st
	m.bugs = append(m.bugs, streamBug)
	m.startLoopLocked()
	m.mu.Unlock()
	md.event(b, ch, "MEDIA_BUG_START", "", map[string]any{"Media-Bug-Function": streamBug, "Media-Bug-Target": "N/A"}, "")
	b.Then(func() {
		if !md.h.Go(st.run) {
			close(st.done)
		}
	})
	return "+OK Success\n"
}

func (m *chanMedia) dropBugLocked(name string) {
	for i, b := range m.bugs {
		if b == name {
			m.bugs = append(m.bugs[:i:i], m.bugs[i+1:]...)
			return
		}
	}
}

// run dials, then reads until the connection ends.
func (st *audioStream) run() {
	defer close(st.done)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: (&net.Dialer{}).DialContext}
	// libwsc's upgrade request (audio-stream-ws-mono-8k): an Origin of
	// http://host:port, no User-Agent, no extension or subprotocol offer.
	hdr := http.Header{"User-Agent": {""}}
	if u, err := url.Parse(st.url); err == nil {
		hdr.Set("Origin", "http://"+u.Host)
	}
	ws, resp, err := d.DialContext(st.ctx, st.url, hdr)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		code, msg := audiostream.ConnectError(err)
		st.fail(code, msg)
		return
	}
	st.evMu.Lock()
	if st.cleaned {
		st.evMu.Unlock()
		ws.Close()
		return
	}
	st.mu.Lock()
	st.ws, st.open, st.lastPing = ws, true, time.Now()
	if st.meta != "" { // send_initial_metadata, before the event
		ws.SetWriteDeadline(time.Now().Add(time.Second))
		ws.WriteMessage(websocket.TextMessage, []byte(st.meta))
	}
	st.mu.Unlock()
	st.md.event(nil, st.ch, "CUSTOM", "mod_audio_stream::connect", nil, `{"status":"connected"}`)
	st.evMu.Unlock()
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			st.readFailed(err)
			break
		}
		if typ == websocket.TextMessage {
			st.onText(data)
		}
	}
	ws.Close()
}

// fail is libwsc's error callback: ::error, then the module closes its
// bug (media_bug_close): MEDIA_BUG_STOP, the stream is gone.
func (st *audioStream) fail(code int, msg string) {
	st.evMu.Lock()
	defer st.evMu.Unlock()
	if st.cleaned {
		return
	}
	st.cleaned = true
	st.cancel()
	st.mu.Lock()
	st.open = false
	st.mu.Unlock()
	body, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Message struct {
			Code  int    `json:"code"`
			Error string `json:"error"`
		} `json:"message"`
	}{Status: "error", Message: struct {
		Code  int    `json:"code"`
		Error string `json:"error"`
	}{code, msg}})
	st.md.event(nil, st.ch, "CUSTOM", "mod_audio_stream::error", nil, string(body))
	m := st.m
	m.mu.Lock()
	attached := m.stream == st
	if attached {
		m.stream = nil
		m.dropBugLocked(streamBug)
	}
	m.mu.Unlock()
	st.deleteFiles()
	if attached {
		st.md.event(nil, st.ch, "MEDIA_BUG_STOP", "", map[string]any{"Media-Bug-Function": streamBug, "Media-Bug-Target": "N/A"}, "")
	}
}

// readFailed: a close frame → ::disconnect (the bug stays); a lost
// connection → ::error (IO) and the bug closes.
func (st *audioStream) readFailed(err error) {
	st.mu.Lock()
	broken := st.broken
	st.open = false
	st.mu.Unlock()
	var ce *websocket.CloseError
	if !broken && errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		st.evMu.Lock()
		defer st.evMu.Unlock()
		if st.cleaned {
			return
		}
		body, _ := json.Marshal(struct {
			Status  string `json:"status"`
			Message struct {
				Code   int    `json:"code"`
				Reason string `json:"reason"`
			} `json:"message"`
		}{Status: "disconnected", Message: struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		}{ce.Code, ce.Text}})
		st.md.event(nil, st.ch, "CUSTOM", "mod_audio_stream::disconnect", nil, string(body))
		return
	}
	msg := "Connection closed without WebSocket CLOSE (abnormal EOF)"
	if errors.Is(err, syscall.ECONNRESET) && !broken {
		msg = audiostream.SysErrorText(syscall.ECONNRESET)
	}
	st.fail(audiostream.WSCIO, msg)
}

// onText handles a text message from the server (eventCallback MESSAGE).
func (st *audioStream) onText(msg []byte) {
	st.evMu.Lock()
	defer st.evMu.Unlock()
	if st.cleaned {
		return
	}
	if body, ok := st.writeAudio(msg); ok {
		st.md.event(nil, st.ch, "CUSTOM", "mod_audio_stream::play", nil, body)
		return
	}
	st.md.event(nil, st.ch, "CUSTOM", "mod_audio_stream::json", nil, string(msg))
}

// writeAudio is processMessage: a valid streamAudio is written to
// <temp>/<uuid>_<n>.tmp<ext> and the ::play body returned.
func (st *audioStream) writeAudio(msg []byte) (string, bool) {
	sa, ok := audiostream.ParseMessage(msg)
	if !ok {
		return "", false
	}
	dir, err := st.md.h.TempDir()
	if err != nil {
		return "", false
	}
	st.mu.Lock()
	n := st.fileN
	st.fileN++
	st.mu.Unlock()
	path := filepath.Join(dir, fmt.Sprintf("%s_%d.tmp%s", st.ch.UUID(), n, sa.Ext))
	if err := os.WriteFile(path, sa.Audio, 0o644); err != nil {
		return "", false
	}
	st.mu.Lock()
	st.files = append(st.files, path)
	st.mu.Unlock()
	return sa.Body(path), true
}

func (st *audioStream) deleteFiles() {
	st.mu.Lock()
	files := st.files
	st.files = nil
	st.mu.Unlock()
	for _, f := range files {
		os.Remove(f)
	}
}

// cleanup is stream_session_cleanup: files deleted, the optional text
// sent, no more events, close 1000 "Normal closure"; abrupt (Close of the
// simulator) does not wait for the server's close.
func (st *audioStream) cleanup(text *string, abrupt bool) {
	st.evMu.Lock()
	st.cleaned = true
	st.evMu.Unlock()
	st.cancel()
	st.deleteFiles()
	st.mu.Lock()
	ws, open := st.ws, st.open
	st.open = false
	if ws != nil && open {
		if text != nil {
			ws.SetWriteDeadline(time.Now().Add(time.Second))
			ws.WriteMessage(websocket.TextMessage, []byte(*text))
		}
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "Normal closure"),
			time.Now().Add(time.Second))
	}
	st.mu.Unlock()
	if ws != nil {
		if abrupt {
			ws.NetConn().Close()
		} else {
			ws.SetReadDeadline(time.Now().Add(time.Second)) // libwsc waits for the close reply, then gives up
		}
	}
	<-st.done
}

// breakConn drops the TCP connection under the websocket (BreakStream).
func (st *audioStream) breakConn() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ws == nil || !st.open {
		return false
	}
	st.broken = true
	st.ws.NetConn().Close()
	return true
}

func (st *audioStream) writeText(text string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ws != nil && st.open {
		st.ws.SetWriteDeadline(time.Now().Add(time.Second))
		st.ws.WriteMessage(websocket.TextMessage, []byte(text))
	}
}

// frame builds this tick's binary frame (nil: nothing to send). caller8
// and caller16 are the caller's 20 ms; played is what FreeSWITCH wrote to
// the caller (8 kHz), playing false when nothing was.
func (st *audioStream) frame(caller8, caller16, played []int16, playing bool) []byte {
	st.mu.Lock()
	ok := st.open && !st.paused
	st.mu.Unlock()
	if !ok {
		return nil
	}
	n := st.rate / 50
	at := func(src []int16, i int) int16 { return src[i*len(src)/n] }
	var out []byte
	switch st.mix {
	case "mono":
		src := caller16
		if st.rate == 8000 {
			src = caller8
		}
		out = make([]byte, 2*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(out[2*i:], uint16(at(src, i)))
		}
	case "mixed":
		if !playing {
			return nil
		}
		out = make([]byte, 2*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(out[2*i:], uint16(clamp16(int(at(caller16, i))+int(at(played, i)))))
		}
	default: // stereo: left the caller, right what is played
		if !playing {
			return nil
		}
		out = make([]byte, 4*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(out[4*i:], uint16(at(caller16, i)))
			binary.LittleEndian.PutUint16(out[4*i+2:], uint16(at(played, i)))
		}
	}
	return out
}

func clamp16(v int) int16 {
	return int16(max(math.MinInt16, min(math.MaxInt16, v)))
}

// send writes one binary frame; false when it did not go out.
func (st *audioStream) send(frame []byte) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ws == nil || !st.open {
		return false
	}
	st.ws.SetWriteDeadline(time.Now().Add(time.Second))
	return st.ws.WriteMessage(websocket.BinaryMessage, frame) == nil
}

// heartbeat pings every STREAM_HEART_BEAT seconds (4-byte "ping" payload,
// as the websocket log shows at 14996 ms).
func (st *audioStream) heartbeat() {
	if st.heartBeat <= 0 {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ws == nil || !st.open || time.Since(st.lastPing) < st.heartBeat {
		return
	}
	st.lastPing = time.Now()
	st.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
}

// BreakStream drops the websocket of the channel's stream as a network
// failure would (no close frame). mod_audio_stream then gets libwsc's IO
// error: CUSTOM ::error {"code":1,"error":"Connection closed without
// WebSocket CLOSE (abnormal EOF)"} and MEDIA_BUG_STOP; no ::disconnect, no
// reconnect. False when no stream is connected.
func (md *Media) BreakStream(uuid string) bool {
	_, m, ok := md.channel(uuid)
	if !ok {
		return false
	}
	m.mu.Lock()
	st := m.stream
	m.mu.Unlock()
	return st != nil && st.breakConn()
}

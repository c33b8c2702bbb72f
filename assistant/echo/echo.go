// Package echo is the echo test assistant: a Twilio Media Streams server
// (the protocol sipbridge speaks to every assistant) that plays the
// caller's audio back after a delay and reads each DTMF digit back as its
// tone, so a number can be checked end to end before any AI is involved.
// `sipbridge echo-assistant` serves it.
package echo

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
)

// DefaultDelay is how long after the caller said something they hear it.
const DefaultDelay = 500 * time.Millisecond

// frameSamples is one 20 ms frame of μ-law 8 kHz.
const frameSamples = 160

// Options configure a Server; the zero value is a working default.
type Options struct {
	// Delay between a caller frame's arrival and its echo (0: DefaultDelay).
	Delay time.Duration
	// Log receives one line per stream start, digit and stop (nil: discarded).
	Log *slog.Logger
	// WriteTimeout bounds one websocket write (0: 5 s).
	WriteTimeout time.Duration
}

// Server serves the echo assistant on any path. It is an http.Handler.
type Server struct {
	o  Options
	up websocket.Upgrader
	wg sync.WaitGroup

	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{}
	closed bool
}

// New returns an echo assistant.
func New(o Options) *Server {
	if o.Delay <= 0 {
		o.Delay = DefaultDelay
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	return &Server{o: o, up: websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096},
		conns: map[*websocket.Conn]struct{}{}}
}

// ServeHTTP upgrades a websocket and runs one stream (one call) on it; a
// plain request gets a line saying what this server is.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUpgradeRequired)
		fmt.Fprintf(w, "sipbridge echo assistant: set an assistant's stream_url to ws://%s/stream\n", r.Host)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the request
	}
	ws.SetReadLimit(1 << 16) // a 20 ms media message is about 300 bytes
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.Close()
		return
	}
	s.conns[ws] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, ws)
		s.mu.Unlock()
		s.wg.Done()
	}()
	newSession(s.o, ws).run()
}

// Close closes every stream's websocket (http.Server.Close leaves them
// open) and refuses new ones; Wait then returns once their lines are
// logged.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for ws := range s.conns {
		ws.Close()
	}
}

// Wait returns when every stream has ended.
func (s *Server) Wait() { s.wg.Wait() }

// inbound is the part of a sipbridge message the echo reads.
type inbound struct {
	Event     string `json:"event"`
	StreamSID string `json:"streamSid"`
	Start     struct {
		StreamSID        string            `json:"streamSid"`
		CallSID          string            `json:"callSid"`
		CustomParameters map[string]string `json:"customParameters"`
	} `json:"start"`
	Media struct {
		Payload string `json:"payload"`
	} `json:"media"`
	DTMF struct {
		Digit string `json:"digit"`
	} `json:"dtmf"`
}

// frame is caller audio to send back at due.
type frame struct {
	due  time.Time
	sid  string
	ulaw []byte
}

// session is one stream: the reader mixes digit tones into the caller's
// frames and queues them; the writer sends each at its due time.
type session struct {
	o     Options
	ws    *websocket.Conn
	log   *slog.Logger
	queue chan frame
	done  chan struct{}

	sid     string // streamSid from start
	begun   time.Time
	overlay []int16 // digit tones still to mix into the caller's frames
	pcm     []int16

	inFrames, inBytes int
	dropped           int
	digits            strings.Builder

	mu                  sync.Mutex
	outFrames, outBytes int
}

func newSession(o Options, ws *websocket.Conn) *session {
	return &session{o: o, ws: ws, log: o.Log, queue: make(chan frame, 4096), done: make(chan struct{}),
		begun: time.Now(), pcm: make([]int16, frameSamples)}
}

func (s *session) run() {
	defer s.ws.Close()
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); s.write() }()
	stopped := s.read()
	close(s.done)
	<-writerDone
	s.mu.Lock()
	outFrames, outBytes := s.outFrames, s.outBytes
	s.mu.Unlock()
	msg := "echo: stream ended"
	if stopped {
		msg = "echo: stream stopped"
	}
	s.log.Info(msg, "media_frames_in", s.inFrames, "media_bytes_in", s.inBytes,
		"media_frames_out", outFrames, "media_bytes_out", outBytes, "frames_dropped", s.dropped,
		"digits", s.digits.String(), "duration_ms", time.Since(s.begun).Milliseconds())
}

// read handles sipbridge's messages until stop or the websocket closes; it
// reports whether a stop arrived.
func (s *session) read() bool {
	for {
		_, data, err := s.ws.ReadMessage()
		if err != nil {
			return false
		}
		var m inbound
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Event {
		case assistant.EventStart:
			s.started(m)
		case assistant.EventMedia:
			s.media(m.Media.Payload)
		case assistant.EventDTMF:
			s.digit(m.DTMF.Digit)
		case assistant.EventStop:
			return true
		}
	}
}

func (s *session) started(m inbound) {
	s.sid = m.Start.StreamSID
	if s.sid == "" {
		s.sid = m.StreamSID
	}
	p := m.Start.CustomParameters
	// Every later line of the stream names it and its call.
	s.log = s.o.Log.With("stream_sid", s.sid, "call_id", p[assistant.ParamCallID])
	s.log.Info("echo: stream started", "call_sid", m.Start.CallSID, "from", p[assistant.ParamFrom], "to", p[assistant.ParamTo],
		"delay_ms", s.o.Delay.Milliseconds())
}

// media queues a caller frame for its echo, with any pending digit tone
// mixed in.
func (s *session) media(payload string) {
	ulaw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil || len(ulaw) == 0 {
		return
	}
	s.inFrames++
	s.inBytes += len(ulaw)
	if len(s.overlay) > 0 {
		if cap(s.pcm) < len(ulaw) {
			s.pcm = make([]int16, len(ulaw))
		}
		pcm := s.pcm[:len(ulaw)]
		audio.MulawDecode(pcm, ulaw)
		n := mix(pcm, s.overlay)
		s.overlay = s.overlay[n:]
		audio.MulawEncode(ulaw, pcm)
	}
	select {
	case s.queue <- frame{due: time.Now().Add(s.o.Delay), sid: s.sid, ulaw: ulaw}:
	default:
		s.dropped++ // the writer is stuck: a slow or gone sipbridge
	}
}

// digit logs a key press and queues its tone behind any tone still
// playing, so the caller hears it where they pressed it, Delay later.
func (s *session) digit(d string) {
	tone := DigitTone(d, DigitToneLength)
	s.log.Info("echo: digit", "digit", d, "known", tone != nil)
	if tone == nil {
		return
	}
	s.digits.WriteString(d)
	s.overlay = append(s.overlay, tone...)
	s.overlay = append(s.overlay, make([]int16, 8*int(digitGap/time.Millisecond))...)
}

// write sends each queued frame at its due time until the reader ends.
func (s *session) write() {
	var buf []byte
	for {
		var f frame
		select {
		case f = <-s.queue:
		case <-s.done:
			return
		}
		if wait := time.Until(f.due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
		}
		buf = appendMedia(buf[:0], f.sid, f.ulaw)
		_ = s.ws.SetWriteDeadline(time.Now().Add(s.o.WriteTimeout))
		if err := s.ws.WriteMessage(websocket.TextMessage, buf); err != nil {
			s.ws.Close() // unblocks the reader
			return
		}
		s.mu.Lock()
		s.outFrames++
		s.outBytes += len(f.ulaw)
		s.mu.Unlock()
	}
}

// appendMedia appends a media message to dst.
func appendMedia(dst []byte, sid string, ulaw []byte) []byte {
	sidJSON, _ := json.Marshal(sid) // a string always marshals
	dst = append(dst, `{"event":"media","streamSid":`...)
	dst = append(dst, sidJSON...)
	dst = append(dst, `,"media":{"payload":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, ulaw)
	return append(dst, `"}}`...)
}

// mix adds the start of tone to pcm (saturating) and returns how many
// samples of tone it used.
func mix(pcm, tone []int16) int {
	n := min(len(pcm), len(tone))
	for i := range n {
		v := int32(pcm[i]) + int32(tone[i])
		pcm[i] = int16(max(-32768, min(32767, v)))
	}
	return n
}

package sip

import (
	"errors"
	"io"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
)

const (
	textMessage   = websocket.TextMessage
	binaryMessage = websocket.BinaryMessage
)

// streamIdle is how long the mod_audio_stream websocket may stay silent:
// caller frames come every 20 ms, so a few seconds without any is a broken
// stream.
const streamIdle = 5 * time.Second

// streamSink is one generation of a call's mod_audio_stream websocket.
type streamSink struct {
	s   *callSession
	gen int
}

// ServeStream hands the websocket to the call and pumps the caller's audio
// to the assistant until the websocket ends. This is the hot path: each
// 640-byte L16 16 kHz frame becomes 160 bytes of μ-law 8 kHz (or stays as
// it is for an l16_16k assistant), on this goroutine, handed to the media
// forwarder that writes it as one `media` message, with no allocation of
// ours.
func (k *streamSink) ServeStream(conn call.StreamConn) {
	s := k.s
	s.fsNotes.push(fsNote{gen: k.gen, conn: conn})
	conv := audio.NewFrameConverter()
	buf := make([]byte, 0, 2048) // one frame, reused: no allocation per frame
	onFrame := s.c.opts.OnFrame
	fwd := newMediaForwarder(s)
	var err error
	for {
		_ = conn.SetReadDeadline(time.Now().Add(streamIdle))
		var mt int
		var r io.Reader
		mt, r, err = conn.NextReader()
		if err != nil {
			break
		}
		if mt != binaryMessage {
			continue // the metadata text frame (the next NextReader discards it)
		}
		if buf, err = readAll(r, buf[:0]); err != nil {
			break
		}
		var arrived time.Time
		if onFrame != nil {
			arrived = time.Now()
		}
		st := s.asst.Load()
		if st == nil {
			continue
		}
		out := buf // l16_16k: the frame as it came (L16 LE 16 kHz)
		if st.AudioFormat() != assistant.AudioL16k16 {
			var cerr error
			if out, cerr = conv.Convert(buf); cerr != nil {
				continue
			}
		}
		fwd.push(out, arrived)
	}
	_ = conn.Close()
	s.fsNotes.push(fsNote{gen: k.gen, closed: true, err: err})
	fwd.close()
}

// mediaQueue is how many caller frames may wait for the assistant (500 ms).
// While a write to it is blocked (an assistant that stopped reading, once
// the connection's bounded send buffer is full, until the write deadline
// breaks the stream), later frames are dropped and counted: nothing queues
// without bound, and the mod_audio_stream reader is never held up.
const mediaQueue = 25

type mediaFrame struct {
	audio   []byte // μ-law 8 kHz, or L16 16 kHz for an l16_16k assistant
	arrived time.Time
}

// mediaForwarder writes the caller's frames to the call's assistant on a
// goroutine of its own, ended by close.
type mediaForwarder struct {
	s       *callSession
	queue   chan *mediaFrame
	free    chan *mediaFrame // mediaQueue frames, reused: no allocation per frame
	done    chan struct{}
	dropped int // push's, then close's
}

func newMediaForwarder(s *callSession) *mediaForwarder {
	f := &mediaForwarder{s: s, queue: make(chan *mediaFrame, mediaQueue), free: make(chan *mediaFrame, mediaQueue),
		done: make(chan struct{})}
	for range mediaQueue {
		f.free <- &mediaFrame{audio: make([]byte, 0, 640)}
	}
	go f.run()
	return f
}

// push queues a frame (copied), or drops it when mediaQueue frames wait.
func (f *mediaForwarder) push(audio []byte, arrived time.Time) {
	select {
	case m := <-f.free:
		m.audio, m.arrived = append(m.audio[:0], audio...), arrived
		f.queue <- m
	default:
		if f.dropped == 0 {
			f.s.log.Warn("the assistant is not taking the caller's audio: dropping frames", "queued_ms", mediaQueue*20)
		}
		f.dropped++
	}
}

func (f *mediaForwarder) run() {
	defer close(f.done)
	onFrame := f.s.c.opts.OnFrame
	for m := range f.queue {
		if st := f.s.asst.Load(); st != nil {
			_ = st.SendMedia(m.audio) // a broken assistant shows on its Messages
			if onFrame != nil {
				onFrame(time.Since(m.arrived))
			}
		}
		f.free <- m
	}
}

// close ends the forwarder once the frames queued are written (each
// write bounded by the stream's write deadline) and logs the drops.
func (f *mediaForwarder) close() {
	close(f.queue)
	<-f.done
	if f.dropped > 0 {
		f.s.log.Warn("caller audio dropped: the assistant did not take it in time", "frames_dropped", f.dropped)
	}
}

// maxFrame bounds one mod_audio_stream message (a 20 ms stereo 16 kHz frame
// is 1280 bytes).
const maxFrame = 64 << 10

var errFrameTooLarge = errors.New("mod_audio_stream frame too large")

// readAll reads a message into buf (grown as needed, up to maxFrame).
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxFrame {
				return buf, errFrameTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

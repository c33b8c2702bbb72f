package sip

import (
	"errors"
	"io"
	"sync/atomic"
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
	s.fsNotes.Push(fsNote{gen: k.gen, conn: conn})
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
	s.fsNotes.Push(fsNote{gen: k.gen, closed: true, err: err})
	fwd.close()
}

// mediaQueue is how many caller frames may wait for the assistant (500 ms).
// A full queue is not by itself an assistant that stopped reading: after
// the process was descheduled the reader takes the backlog of
// mod_audio_stream's socket in one burst, faster than the writer is
// scheduled. push then waits for the writer, unless its write has been
// blocked for stuckWrite (an assistant that stopped reading, once the
// connection's bounded send buffer is full, until the write deadline breaks
// the stream): then later frames are dropped and counted. Nothing queues
// without bound, and the mod_audio_stream reader is held up at most about
// stuckWrite by a stuck assistant.
const (
	mediaQueue = 25
	stuckWrite = 100 * time.Millisecond
)

type mediaFrame struct {
	audio   []byte // μ-law 8 kHz, or L16 16 kHz for an l16_16k assistant
	arrived time.Time
}

// mediaForwarder writes the caller's frames to the call's assistant on a
// goroutine of its own, ended by close.
type mediaForwarder struct {
	s       *callSession
	send    func(m *mediaFrame) // run's: the write to the assistant
	queue   chan *mediaFrame
	free    chan *mediaFrame // mediaQueue frames, reused: no allocation per frame
	done    chan struct{}
	writing atomic.Int64 // unix ns the write in progress began, 0 between writes
	wait    *time.Timer  // push's, reused
	dropped int          // push's, then close's
}

func newMediaForwarder(s *callSession) *mediaForwarder {
	f := &mediaForwarder{s: s}
	return f.start(f.toAssistant)
}

func (f *mediaForwarder) start(send func(m *mediaFrame)) *mediaForwarder {
	f.send, f.queue, f.free = send, make(chan *mediaFrame, mediaQueue), make(chan *mediaFrame, mediaQueue)
	f.done, f.wait = make(chan struct{}), time.NewTimer(time.Hour)
	f.wait.Stop()
	for range mediaQueue {
		f.free <- &mediaFrame{audio: make([]byte, 0, 640)}
	}
	go f.run()
	return f
}

// push queues a frame (copied); when mediaQueue frames wait, it waits for
// the writer while the writer is not stuck, else drops the frame.
func (f *mediaForwarder) push(audio []byte, arrived time.Time) {
	var m *mediaFrame
	select {
	case m = <-f.free:
	default:
		if m = f.awaitFree(); m == nil {
			if f.dropped == 0 {
				f.s.log.Warn("the assistant is not taking the caller's audio: dropping frames", "queued_ms", mediaQueue*20)
			}
			f.dropped++
			return
		}
	}
	m.audio, m.arrived = append(m.audio[:0], audio...), arrived
	f.queue <- m
}

// awaitFree returns a free frame once the writer frees one, or nil as soon
// as the writer's write has lasted stuckWrite.
func (f *mediaForwarder) awaitFree() *mediaFrame {
	defer f.wait.Stop()
	for {
		left := stuckWrite
		if began := f.writing.Load(); began != 0 {
			left -= time.Since(time.Unix(0, began))
		}
		if left <= 0 {
			return nil
		}
		f.wait.Reset(left)
		select {
		case m := <-f.free:
			return m
		case <-f.wait.C:
		}
	}
}

func (f *mediaForwarder) run() {
	defer close(f.done)
	for m := range f.queue {
		f.writing.Store(time.Now().UnixNano())
		f.send(m)
		f.writing.Store(0)
		f.free <- m
	}
}

// toAssistant writes a frame to the call's assistant.
func (f *mediaForwarder) toAssistant(m *mediaFrame) {
	if st := f.s.asst.Load(); st != nil {
		_ = st.SendMedia(m.audio) // a broken assistant shows on its Messages
		if onFrame := f.s.c.opts.OnFrame; onFrame != nil {
			onFrame(time.Since(m.arrived))
		}
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

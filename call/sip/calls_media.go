package sip

import (
	"io"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/forward"
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
		if buf, err = forward.ReadFrame(r, buf[:0]); err != nil {
			break
		}
		s.amd.Feed(buf) // the callee's audio, assistant or not (nil: no amd)
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
		fwd.Push(out, arrived)
	}
	_ = conn.Close()
	s.fsNotes.Push(fsNote{gen: k.gen, closed: true, err: err})
	fwd.Close()
}

// newMediaForwarder writes the caller's frames to the call's assistant.
func newMediaForwarder(s *callSession) *forward.Forwarder {
	return forward.New(func(m *forward.Frame) {
		if st := s.asst.Load(); st != nil {
			_ = st.SendMedia(m.Audio) // a broken assistant shows on its Messages
			if onFrame := s.c.opts.OnFrame; onFrame != nil {
				onFrame(time.Since(m.Arrived))
			}
		}
	}, s.log)
}

package sip

import (
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/forward"
)

const textMessage = websocket.TextMessage

// streamSink is one generation of a call's mod_audio_stream websocket.
type streamSink struct {
	s   *callSession
	gen int
}

// ServeStream hands the websocket to the call and pumps the caller's audio
// to the assistant until the websocket ends (forward.ReadFrames, then the
// media forwarder that writes each frame as one `media` message).
func (k *streamSink) ServeStream(conn call.StreamConn) {
	s := k.s
	s.fsNotes.Push(fsNote{gen: k.gen, conn: conn})
	fwd := newMediaForwarder(s)
	err := forward.ReadFrames(conn, forward.Source{Feed: s.amd.Feed, Timed: s.c.opts.OnFrame != nil,
		Target: func() (bool, bool) {
			st := s.asst.Load()
			return st != nil, st != nil && st.AudioFormat() == assistant.AudioL16k16
		}}, fwd)
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

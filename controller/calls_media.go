package controller

import (
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
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
// 640-byte L16 16 kHz frame becomes 160 bytes of μ-law 8 kHz in one
// `media` message, on this goroutine, with no allocation of ours.
func (k *streamSink) ServeStream(conn StreamConn) {
	s := k.s
	s.fsNotes.push(fsNote{gen: k.gen, conn: conn})
	conv := assistant.NewFrameConverter()
	var err error
	for {
		_ = conn.SetReadDeadline(time.Now().Add(streamIdle))
		var mt int
		var p []byte
		mt, p, err = conn.ReadMessage()
		if err != nil {
			break
		}
		if mt != binaryMessage {
			continue // the metadata text frame
		}
		st := s.asst.Load()
		if st == nil {
			continue
		}
		ulaw, cerr := conv.Convert(p)
		if cerr != nil {
			continue
		}
		_ = st.SendMedia(ulaw) // a broken assistant shows on its Messages
	}
	_ = conn.Close()
	s.fsNotes.push(fsNote{gen: k.gen, closed: true, err: err})
}

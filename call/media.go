package call

import (
	"io"
	"time"
)

// StreamConn is a media websocket opened to us: mod_audio_stream's, or a
// provider's media stream (a
// *websocket.Conn).
type StreamConn interface {
	NextReader() (messageType int, r io.Reader, err error)
	ReadMessage() (messageType int, p []byte, err error)
	WriteMessage(messageType int, data []byte) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

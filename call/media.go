package call

import (
	"io"
	"time"

	"github.com/gorilla/websocket"
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

// StreamClosedNormally reports whether a media websocket opened to us
// (StreamConn) ended with a normal close (1000): the far end hung up the
// stream on purpose. Anything else (no close frame, another code, a read
// error) is the stream failing, which both voice paths treat as a fault.
func StreamClosedNormally(err error) bool {
	return websocket.IsCloseError(err, websocket.CloseNormalClosure)
}

package callapi

import (
	"errors"
	"net/http"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// The mod_audio_stream websocket endpoint: FreeSWITCH connects to
// <STREAM_WS_BASE>/fs/stream/<call id>/?token=<per-call token> and sends the
// caller's audio; the token is checked before the upgrade.
// maxStreamMessage bounds one websocket message of a media stream: a 20 ms
// frame is 640 bytes, a provider's JSON media message a few hundred.
const maxStreamMessage = 64 << 10

var streamUpgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 16384,
	// mod_audio_stream sends an Origin of its own target; the per-call
	// token, not the origin, authenticates the stream.
	CheckOrigin: func(*http.Request) bool { return true },
}

func (s *Server) fsStream(c echo.Context) error {
	if s.calls == nil {
		return &httpapi.APIError{Status: http.StatusServiceUnavailable, Code: "not_configured", Message: "call control is not running"}
	}
	sink, err := s.calls.AuthorizeStream(c.Param("id"), c.QueryParam("token"))
	if err != nil {
		if errors.Is(err, call.ErrBadStreamToken) {
			s.log.Warn("mod_audio_stream websocket refused: unknown call or bad token", "call_id", c.Param("id"), "remote", c.RealIP())
		}
		return err
	}
	conn, err := streamUpgrader.Upgrade(c.Response(), c.Request(), nil)
	if err == nil {
		conn.SetReadLimit(maxStreamMessage) // no message of any stream comes near it
	}
	if err != nil {
		return nil // the upgrader answered the client already
	}
	sink.ServeStream(conn)
	return nil
}

package call

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"time"
)

// StreamConn is a media websocket opened to sipbridge (a *websocket.Conn):
// FreeSWITCH's mod_audio_stream on the SIP path, a provider's media stream
// on the hosted one.
type StreamConn interface {
	NextReader() (messageType int, r io.Reader, err error)
	ReadMessage() (messageType int, p []byte, err error)
	WriteMessage(messageType int, data []byte) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// TwilioAccountSID is the organization's account SID on sipbridge's
// Twilio-compatible call-control route
// (POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json), and what
// the `start` and `stop` messages to its assistants carry as accountSid,
// on either path: "AC" followed by the first 16 bytes, in lowercase hex, of
// SHA-256 over a fixed label and the organization id. It is stable, and it
// is not a secret: the route authenticates with one of the organization's
// API keys.
func TwilioAccountSID(orgID int64) string {
	sum := sha256.Sum256([]byte("sipbridge twilio-compatible account sid\x00" + strconv.FormatInt(orgID, 10)))
	return "AC" + hex.EncodeToString(sum[:16])
}

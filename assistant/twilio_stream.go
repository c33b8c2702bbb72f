// Package assistant is the Twilio Media Streams client a call's audio
// reaches its AI assistant through (Dial, Stream) and the messages it
// speaks. The audio itself (G.711, resampling, the caller-frame converter,
// playback chunking toward mod_audio_stream) is package audio.
//
// Caller audio arrives from mod_audio_stream as L16 LE 16 kHz frames of
// 640 bytes every 20 ms; audio.FrameConverter turns each into 160 bytes of
// μ-law 8 kHz for Stream.SendMedia (an assistant whose audio_format is
// l16_16k gets the frames as they are, StartInfo.AudioFormat). Audio from the assistant
// (Stream.Messages, media events) goes through audio.Playback, which emits
// mod_audio_stream `streamAudio` messages and tells when the assistant's
// marks have played.
package assistant

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

var (
	// ErrAssistantUnreachable means the websocket to the assistant could not
	// be opened (refused, timed out, TLS failure, upgrade rejected).
	ErrAssistantUnreachable = errors.New("assistant: unreachable")
	// ErrAssistantGone means an open stream broke: the assistant closed the
	// websocket, the connection dropped or a write missed its deadline.
	ErrAssistantGone = errors.New("assistant: connection lost")
	// ErrStreamClosed means the stream was closed (or stopped) by us.
	ErrStreamClosed = errors.New("assistant: stream closed")
	// ErrBadStreamURL means the stream URL is not an absolute ws:// or
	// wss:// URL.
	ErrBadStreamURL = errors.New("assistant: stream URL must be ws:// or wss://")
	// ErrInvalidDigit means SendDTMF got something other than 0-9, *, #, A-D.
	ErrInvalidDigit = errors.New("assistant: invalid DTMF digit")
	// ErrInvalidMark means SendMark got an empty name.
	ErrInvalidMark = errors.New("assistant: empty mark name")
)

// closeGrace bounds the polite close frame sent by Close.
const closeGrace = 250 * time.Millisecond

// Stream is one open Twilio Media Streams connection to an assistant. Send
// methods may be called from any goroutine (one mutex orders the writes);
// messages from the assistant arrive on Messages. Close ends the reader
// goroutine; the stream owns no other goroutine.
type Stream struct {
	conn    *websocket.Conn
	cfg     dialConfig
	log     *slog.Logger
	info    StartInfo
	sidJSON []byte
	started time.Time

	wmu     sync.Mutex
	seq     int64 // last sequenceNumber sent
	chunk   int64 // last media chunk sent
	wbuf    []byte
	stopped bool

	msgs       chan AssistantMessage
	closing    chan struct{}
	closeOnce  sync.Once
	readerDone chan struct{}

	errMu sync.Mutex
	err   error // why the stream broke; nil when we closed it first
}

// Dial opens a websocket to the assistant's stream URL (ws:// or wss://),
// sends `connected` and `start` (sequenceNumber 1) and starts reading the
// assistant's messages. Errors wrap ErrBadStreamURL, ErrAssistantUnreachable
// (the websocket could not be opened) or ErrAssistantGone (it broke while
// sending start). The URL's query and user info are never logged nor put in
// errors: they may hold credentials.
func Dial(ctx context.Context, streamURL string, start StartInfo, opts ...DialOption) (*Stream, error) {
	cfg := defaultDialConfig()
	for _, o := range opts {
		o(&cfg)
	}
	u, err := url.Parse(streamURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, ErrBadStreamURL
	}
	safeURL := redactURL(u)
	info := start.withDefaults()
	log := cfg.logger.With("stream_sid", info.StreamSID) // the caller's logger names the call

	dctx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	dialer := websocket.Dialer{
		HandshakeTimeout: cfg.connectTimeout,
		TLSClientConfig:  cfg.tlsConfig,
		NetDialContext:   cfg.netDial,
	}
	conn, resp, err := dialer.DialContext(dctx, streamURL, cfg.header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w: %s: upgrade answered HTTP %d: %w", ErrAssistantUnreachable, safeURL, resp.StatusCode, err)
		}
		// Refused, timed out, closed before the upgrade, TLS failure,
		// refused by the address policy: one message (it reaches the
		// call's events, which the tenant reads, and must not tell an open
		// port from a closed one); the log keeps the cause.
		log.Warn("assistant websocket not opened", "url", safeURL, "err", err)
		return nil, &dialError{url: safeURL, cause: err}
	}
	conn.SetReadLimit(cfg.readLimit)
	setSendBuffer(conn.NetConn(), cfg.sendBuffer)

	s := &Stream{
		conn:       conn,
		cfg:        cfg,
		log:        log,
		info:       info,
		sidJSON:    jsonString(info.StreamSID),
		wbuf:       make([]byte, 0, 512),
		msgs:       make(chan AssistantMessage, cfg.messageBuffer),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	if err := s.sendStart(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	go s.readLoop()
	log.Debug("assistant stream connected", "url", safeURL)
	return s, nil
}

// setSendBuffer bounds the kernel's send buffer of the connection (under
// TLS, of the TCP connection beneath): with the write deadline, it bounds
// how much caller audio waits for an assistant that stopped reading.
func setSendBuffer(c net.Conn, n int) {
	if n <= 0 {
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if b, ok := c.(interface{ SetWriteBuffer(int) error }); ok {
		_ = b.SetWriteBuffer(n)
	}
}

// dialError is a websocket to the assistant that could not be opened
// without an HTTP answer. Its message does not say why; errors.Is still
// reaches the cause (ErrAssistantUnreachable, context.DeadlineExceeded, …).
type dialError struct {
	url   string
	cause error
}

func (e *dialError) Error() string {
	return ErrAssistantUnreachable.Error() + ": " + e.url + ": could not connect"
}

func (e *dialError) Unwrap() []error { return []error{ErrAssistantUnreachable, e.cause} }

// sendStart sends `connected` and `start` and sets the media clock.
func (s *Stream) sendStart() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writeJSONLocked(s.info.connectedMessage()); err != nil {
		return err
	}
	s.seq++
	s.started = s.cfg.now()
	return s.writeJSONLocked(s.info.startMessage(s.seq))
}

// StreamSID returns the stream's SID as sent in `start`.
func (s *Stream) StreamSID() string { return s.info.StreamSID }

// AudioFormat returns StartInfo.AudioFormat: what SendMedia and the
// assistant's media carry ("" is mulaw_8k).
func (s *Stream) AudioFormat() string { return s.info.AudioFormat }

// CallSID returns the call SID sent in `start`.
func (s *Stream) CallSID() string { return s.info.CallSID }

// SendMedia sends caller audio in the stream's format (normally one 20 ms
// frame: 160 bytes of μ-law 8 kHz, or 640 bytes of L16 16 kHz with
// StartInfo.AudioFormat l16_16k) as a `media` message: sequenceNumber and
// chunk count up, timestamp is the milliseconds since `start`, all three
// as strings. It does not keep payload.
func (s *Stream) SendMedia(payload []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	s.seq++
	s.chunk++
	ts := max(s.cfg.now().Sub(s.started).Milliseconds(), 0)
	s.wbuf = appendMediaMessage(s.wbuf[:0], s.seq, s.chunk, ts, payload, s.sidJSON)
	return s.writeLocked(s.wbuf)
}

// SendDTMF reports a key the caller pressed: 0-9, *, #, A-D (a-d accepted).
func (s *Stream) SendDTMF(digit string) error {
	d := strings.ToUpper(digit)
	if len(d) != 1 || !strings.Contains("0123456789*#ABCD", d) {
		return fmt.Errorf("%w: %q", ErrInvalidDigit, digit)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	s.seq++
	return s.writeJSONLocked(DTMFMessage{
		Event:          EventDTMF,
		StreamSID:      s.info.StreamSID,
		SequenceNumber: strconv.FormatInt(s.seq, 10),
		DTMF:           DTMFPayload{Track: TwilioDTMFTrack, Digit: d},
	})
}

// SendMark tells the assistant that the audio it sent before its mark
// `name` has been played to the caller.
func (s *Stream) SendMark(name string) error {
	if name == "" {
		return ErrInvalidMark
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	s.seq++
	return s.writeJSONLocked(MarkMessage{
		Event:          EventMark,
		StreamSID:      s.info.StreamSID,
		SequenceNumber: strconv.FormatInt(s.seq, 10),
		Mark:           MarkPayload{Name: name},
	})
}

// SendTransferFailed tells the assistant that the transfer to `to` failed
// (reason says why) and the caller is back on its stream.
func (s *Stream) SendTransferFailed(to, reason string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	s.seq++
	return s.writeJSONLocked(TransferFailedMessage{
		Event:          EventTransferFailed,
		StreamSID:      s.info.StreamSID,
		SequenceNumber: strconv.FormatInt(s.seq, 10),
		Transfer:       TransferFailedPayload{To: to, Reason: reason},
	})
}

// SendTransferAnswered tells the assistant that the target of its warm
// transfer (to) answered: what it hears now is the target.
func (s *Stream) SendTransferAnswered(to string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	s.seq++
	return s.writeJSONLocked(TransferAnsweredMessage{
		Event:          EventTransferAnswered,
		StreamSID:      s.info.StreamSID,
		SequenceNumber: strconv.FormatInt(s.seq, 10),
		Transfer:       TransferPayload{To: to},
	})
}

// SendAMD tells the assistant what answered its outbound call (EventAMD).
func (s *Stream) SendAMD(p AMDPayload) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	s.seq++
	return s.writeJSONLocked(AMDMessage{
		Event:          EventAMD,
		StreamSID:      s.info.StreamSID,
		SequenceNumber: strconv.FormatInt(s.seq, 10),
		AMD:            p,
	})
}

// Stop sends the `stop` message; nothing more can be sent afterwards (the
// assistant's messages still arrive until Close). Call Close afterwards.
func (s *Stream) Stop() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	s.seq++
	s.stopped = true
	return s.writeJSONLocked(StopMessage{
		Event:          EventStop,
		SequenceNumber: strconv.FormatInt(s.seq, 10),
		StreamSID:      s.info.StreamSID,
		Stop:           StopPayload{AccountSID: s.info.AccountSID, CallSID: s.info.CallSID},
	})
}

// Messages delivers the assistant's messages in order. It is closed when the
// stream ends (Close, or the assistant went away: see Err). Messages that do
// not parse are logged and skipped.
func (s *Stream) Messages() <-chan AssistantMessage { return s.msgs }

// Done is closed when the stream has ended and its goroutine has returned.
func (s *Stream) Done() <-chan struct{} { return s.readerDone }

// Err returns why the stream ended: an error wrapping ErrAssistantGone, or
// nil while it is open or when it was closed by Close first.
func (s *Stream) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Close sends a websocket close frame (best effort, briefly), closes the
// connection and waits for the reader goroutine to return. It is safe to
// call more than once and from any goroutine.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		_ = s.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(closeGrace))
		_ = s.conn.Close()
	})
	<-s.readerDone
	return nil
}

// writableLocked reports why nothing can be sent, if so.
func (s *Stream) writableLocked() error {
	if err := s.Err(); err != nil {
		return err
	}
	select {
	case <-s.closing:
		return ErrStreamClosed
	default:
	}
	if s.stopped {
		return fmt.Errorf("%w: stop already sent", ErrStreamClosed)
	}
	return nil
}

func (s *Stream) writeJSONLocked(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("assistant: encode %T: %w", v, err)
	}
	return s.writeLocked(b)
}

// writeLocked writes one text message under the write deadline; a failed
// write breaks the stream.
func (s *Stream) writeLocked(b []byte) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.writeTimeout))
	if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		select {
		case <-s.closing:
			return ErrStreamClosed
		default:
		}
		return s.fail(err)
	}
	return nil
}

// fail records the first cause of a broken stream and closes the connection
// (which also ends the reader). It returns the recorded error.
func (s *Stream) fail(cause error) error {
	s.errMu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("%w: %w", ErrAssistantGone, cause)
	}
	err := s.err
	s.errMu.Unlock()
	_ = s.conn.Close()
	return err
}

func (s *Stream) readLoop() {
	defer close(s.readerDone)
	defer close(s.msgs)
	for {
		typ, data, err := s.conn.ReadMessage()
		if err != nil {
			select {
			case <-s.closing:
			default:
				err = s.fail(err)
				s.log.Debug("assistant stream ended", "err", err)
			}
			return
		}
		if typ != websocket.TextMessage {
			s.log.Warn("assistant sent a binary message; skipped", "bytes", len(data))
			continue
		}
		m, err := ParseAssistantMessage(data)
		if err != nil {
			if errors.Is(err, ErrUnknownEvent) {
				s.log.Debug("assistant message skipped", "err", err)
			} else {
				s.log.Warn("assistant message skipped", "err", err, "bytes", len(data))
			}
			continue
		}
		select {
		case s.msgs <- m:
		case <-s.closing:
			return
		}
	}
}

// redactURL keeps scheme, host and path: the query and user info may hold
// credentials.
func redactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// IsNormalClose reports whether a stream ended because the assistant closed
// it on purpose (close code 1000 normal or 1001 going away): the way a
// Twilio Media Streams server ends a call.
func IsNormalClose(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway)
}

package controller

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
)

// CheckStreamToken authorizes a Telnyx or Vonage media websocket before
// the upgrade: its URL carries ?call_id=…&token=… (the per-call token of a
// live call). Twilio streams carry no query (Twilio forbids one): they are
// authorized after the upgrade, from start.customParameters.
func (h *Hosted) CheckStreamToken(callID, token string) error {
	c := h.callByID(callID)
	if c == nil || c.provider == provider.NameTwilio || !tokenEqual(c.token, token) {
		return ErrBadStreamToken
	}
	return nil
}

// ServeStream relays one provider media websocket until the stream or the
// call ends, then closes conn. callID is the one CheckStreamToken accepted;
// empty means a Twilio stream, whose `start` must carry the call_id and
// token parameters of a live Twilio call (else the websocket is closed with
// 1008, policy violation).
func (h *Hosted) ServeStream(conn StreamConn, callID string) {
	defer conn.Close()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	var c *hostedCall
	var start streamEvent
	if callID == "" {
		c, start = h.twilioHandshake(conn)
		if c == nil {
			return
		}
	} else if c = h.callByID(callID); c == nil {
		return
	}
	c.mu.Lock()
	if c.ended || c.attached {
		c.mu.Unlock()
		c.log.Warn("media websocket refused: the call has one already or is over")
		return
	}
	c.attached = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	c.answered()
	c.event("stream_connected", nil)
	out := newProviderOut(c.provider, conn)
	out.streamID = start.streamID
	c.relay(conn, out)
}

// twilioHandshake reads connected and start and checks the call's token.
func (h *Hosted) twilioHandshake(conn StreamConn) (*hostedCall, streamEvent) {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < 3; i++ {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			return nil, streamEvent{}
		}
		if mt != websocket.TextMessage {
			break
		}
		ev, err := parseTwilioStream(data)
		if err != nil {
			break
		}
		if ev.kind != evStart {
			continue // connected
		}
		c := h.callByID(ev.params["call_id"])
		if c == nil || c.provider != provider.NameTwilio || !tokenEqual(c.token, ev.params["token"]) {
			break
		}
		_ = conn.SetReadDeadline(time.Time{})
		return c, ev
	}
	h.log.Warn("twilio media websocket refused: no start with a live call's token")
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "unknown call or bad token"))
	return nil, streamEvent{}
}

// hostedEndMark follows the last audio of an assistant that closed its
// stream normally; hostedEndWait bounds the wait for its echo.
const (
	hostedEndMark = "sipbridge-assistant-ended"
	hostedEndWait = 30 * time.Second
)

// relay bridges the provider stream and the assistant.
func (c *hostedCall) relay(conn StreamConn, out *providerOut) {
	quit := make(chan struct{})
	defer close(quit)
	events := make(chan streamEvent, 64)
	go readProvider(c.provider, conn, events, quit)

	st, err := c.dialAssistant()
	if err != nil {
		c.log.Warn("assistant unreachable", "err", err)
		c.event("assistant_unreachable", db.JSONMap{"error": err.Error()})
		c.fault("assistant unreachable", true)
		c.streamDone("assistant unreachable")
		return
	}
	c.event("assistant_connected", db.JSONMap{"stream_sid": st.StreamSID()})
	closeAssistant := func(stop bool) {
		if st == nil {
			return
		}
		if stop {
			_ = st.Stop()
		}
		_ = st.Close()
		st = nil
	}
	defer closeAssistant(true)
	sendMarks := func(marks []string) {
		for _, m := range marks {
			if st != nil {
				_ = st.SendMark(m)
			}
		}
	}
	// ending: the assistant closed its stream normally; the call is hung
	// up once the provider has played what it sent (hostedEndMark comes
	// back), or at endBy.
	var endBy <-chan time.Time
	hangupNow := func() {
		endBy = nil
		c.log.Info("assistant ended the call")
		_ = c.providerHangup(context.Background())
	}
	var tick <-chan time.Time
	if out.paced() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for {
		var msgs <-chan assistant.AssistantMessage
		if st != nil {
			msgs = st.Messages()
		}
		detach := c.detach
		if st == nil {
			detach = nil
		}
		select {
		case <-c.done:
			return
		case <-c.h.ctx.Done():
			return
		case <-detach:
			// Transferred: the caller now talks to someone else; the relay
			// waits for the stream to stop.
			closeAssistant(true)
		case ev := <-events:
			switch ev.kind {
			case evStart:
				if ev.streamID != "" {
					out.streamID = ev.streamID
				}
				if ev.encoding != "" && !telnyxCodecSupported(ev.encoding) {
					// Telnyx could not transcode the call to PCMU: its audio
					// is not passed on (it would reach the assistant as
					// noise); the assistant still speaks to the caller.
					c.log.Warn("telnyx stream in an unsupported codec: caller audio not forwarded", "encoding", ev.encoding)
					c.event("stream_codec_unsupported", db.JSONMap{"encoding": ev.encoding, "supported": "PCMU, PCMA"})
				}
			case evMedia:
				if st != nil {
					_ = st.SendMedia(ev.audio)
				}
			case evDTMF:
				c.event("dtmf", db.JSONMap{"digit": ev.digit})
				if st != nil {
					if err := st.SendDTMF(ev.digit); err != nil {
						c.log.Debug("dtmf not forwarded", "err", err)
					}
				}
			case evMark:
				if ev.mark == hostedEndMark && endBy != nil {
					hangupNow()
					continue
				}
				sendMarks([]string{ev.mark})
			case evStop, evClosed:
				reason := "the caller hung up"
				if ev.kind == evClosed {
					reason = "the provider closed the media stream"
					if ev.err != nil && !websocket.IsCloseError(ev.err, websocket.CloseNormalClosure) {
						c.log.Debug("provider stream closed", "err", ev.err)
					}
				}
				c.event("stream_stopped", db.JSONMap{"reason": reason})
				closeAssistant(true)
				c.streamDone(reason)
				return
			}
		case <-endBy:
			hangupNow()
		case m, ok := <-msgs:
			if !ok {
				err := st.Err()
				if assistant.IsNormalClose(err) && !c.isTransferred() {
					// The assistant's way to end the call: let the provider
					// play what it sent (a mark after it), then hang up.
					c.event("assistant_ended", db.JSONMap{"close": fmt.Sprint(err)})
					c.setReason("assistant ended the call")
					closeAssistant(false)
					marks, merr := out.mark(hostedEndMark)
					if merr != nil || slices.Contains(marks, hostedEndMark) {
						hangupNow()
					} else {
						endBy = time.After(hostedEndWait)
					}
					continue
				}
				c.log.Warn("assistant stream ended", "err", err)
				c.event("assistant_disconnected", db.JSONMap{"error": fmt.Sprint(err)})
				closeAssistant(false)
				if !c.isTransferred() {
					c.fault("assistant disconnected", false)
				}
				continue
			}
			switch m.Event {
			case assistant.EventMedia:
				if err := out.media(m.Payload); err != nil {
					c.log.Debug("media not sent to the provider", "err", err)
				}
			case assistant.EventMark:
				marks, err := out.mark(m.Mark)
				if err != nil {
					c.log.Debug("mark not sent to the provider", "err", err)
				}
				sendMarks(marks)
			case assistant.EventClear:
				marks, err := out.clear()
				if err != nil {
					c.log.Debug("clear not sent to the provider", "err", err)
				}
				sendMarks(marks)
			case assistant.EventTransfer:
				c.event("transfer_requested", db.JSONMap{"to": m.TransferTo, "by": "assistant"})
				if err := c.providerTransfer(context.Background(), m.TransferTo); err != nil {
					// Refused before the provider took the call away (our
					// checks, or its API's error): the stream is still up,
					// the conversation goes on.
					c.log.Warn("transfer failed", "to", m.TransferTo, "err", err)
					if err := st.SendTransferFailed(m.TransferTo, err.Error()); err != nil {
						c.log.Debug("transfer_failed not sent", "err", err)
					}
				}
			case assistant.EventHangup:
				c.event("hangup_requested", db.JSONMap{"by": "assistant", "immediate": m.Immediate})
				c.setReason("assistant hung up")
				closeAssistant(true)
				if m.Immediate {
					_ = c.providerHangup(context.Background())
					continue
				}
				// The provider plays what the assistant sent first: a mark
				// behind it, the hangup when it comes back (or at endBy).
				marks, merr := out.mark(hostedEndMark)
				if merr != nil || slices.Contains(marks, hostedEndMark) {
					hangupNow()
				} else {
					endBy = time.After(hostedEndWait)
				}
			}
		case <-tick:
			marks := out.tick()
			if endBy != nil && slices.Contains(marks, hostedEndMark) {
				hangupNow()
				continue
			}
			sendMarks(marks)
		}
	}
}

func (c *hostedCall) isTransferred() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transferred
}

func (c *hostedCall) dialAssistant() (*assistant.Stream, error) {
	if c.assistant == nil || c.assistant.StreamURL == "" {
		return nil, fmt.Errorf("%w: the assistant has no stream URL", assistant.ErrBadStreamURL)
	}
	timeout := c.h.opts.AssistantConnectTimeout
	ctx, cancel := context.WithTimeout(c.h.ctx, timeout)
	defer cancel()
	opts := append([]assistant.DialOption{assistant.WithConnectTimeout(timeout), assistant.WithLogger(c.log),
		assistant.WithNetDialContext(addressPolicy(c.h.opts.AddressPolicy).DialContext)}, c.h.opts.DialOptions...)
	c.mu.Lock()
	info := c.info
	info.Extra = make(map[string]string, len(c.info.Extra))
	for k, v := range c.info.Extra {
		info.Extra[k] = v
	}
	c.mu.Unlock()
	info.AccountSID = TwilioAccountSID(c.orgID)
	// call_id is sipbridge's id (info.CallID); the provider's own id of the
	// call, when known, is call_sid, as a SIP call's channel UUID is.
	if sid := c.providerSID(); sid != "" {
		info.Extra[assistant.ParamCallSID] = sid
	}
	return assistant.Dial(ctx, c.assistant.StreamURL, info, opts...)
}

// streamDone ends the call's part of the relay: a Twilio call's record
// closes now (its stream stops when the call ends or leaves the <Connect>);
// a Telnyx or Vonage record waits for the hangup webhook, at most
// HangupGrace.
func (c *hostedCall) streamDone(reason string) {
	c.setReason(reason)
	if c.provider == provider.NameTwilio {
		c.finish(finishInfo{cause: "NORMAL_CLEARING", reason: reason})
		return
	}
	if c.provider == provider.NameTelnyx && !c.isTransferred() {
		// Telnyx keeps a call up when its stream ends: without the stream
		// nobody talks to the caller, so end it rather than leave dead air.
		// (Vonage ends the call itself: the websocket was the NCCO's last
		// action.) A call already hung up answers an error, ignored.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.providerHangup(ctx); err != nil {
				c.log.Debug("telnyx hangup after the stream ended", "err", err)
			}
		}()
	}
	c.armTimer(c.h.opts.HangupGrace, "NORMAL_CLEARING", reason, false)
}

// readProvider reads the provider websocket and sends its events (Vonage
// audio and Telnyx PCMA converted to μ-law 8 kHz; Telnyx audio in a codec
// sipbridge does not decode is dropped) until it breaks or quit closes.
func readProvider(prov string, conn StreamConn, events chan<- streamEvent, quit <-chan struct{}) {
	var conv *assistant.FrameConverter
	telnyxEnc := telnyxStreamCodec
	if prov == provider.NameVonage {
		conv = assistant.NewFrameConverter()
	}
	send := func(ev streamEvent) bool {
		select {
		case events <- ev:
			return true
		case <-quit:
			return false
		}
	}
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			send(streamEvent{kind: evClosed, err: err})
			return
		}
		var ev streamEvent
		switch prov {
		case provider.NameTwilio:
			ev, err = parseTwilioStream(data)
		case provider.NameTelnyx:
			ev, err = parseTelnyxStream(data)
			if err == nil && ev.kind == evStart && ev.encoding != "" {
				telnyxEnc = ev.encoding
			}
			if err == nil && ev.kind == evMedia {
				ulaw, ok := telnyxToMulaw(telnyxEnc, ev.audio)
				if !ok {
					continue // refused at start (stream_codec_unsupported)
				}
				ev.audio = ulaw
			}
		case provider.NameVonage:
			ev, err = parseVonageStream(mt == websocket.BinaryMessage, data)
			if err == nil && ev.kind == evMedia {
				ulaw, cerr := conv.Convert(ev.audio)
				if cerr != nil {
					continue
				}
				ev.audio = append([]byte(nil), ulaw...)
			}
		}
		if err != nil || ev.kind == evIgnore {
			continue
		}
		if !send(ev) {
			return
		}
	}
}

// providerOut writes the assistant's audio, marks and clears to the
// provider in its format. Twilio and Telnyx queue the audio themselves and
// echo marks once the audio before them has played; Vonage has no marks:
// sipbridge paces its L16 frames at 20 ms and echoes a mark when the pacing
// reaches it (a clear drops the queue and echoes its marks at once).
type providerOut struct {
	prov     string
	conn     StreamConn
	streamID string

	up    *assistant.Upsampler8to16
	pcm8  []int16
	pcm16 []int16
	pend  []byte        // L16 bytes short of a whole frame
	queue []vonageFrame // frames and marks in play order

	paceStart time.Time // when the current run of audio started playing
	sentPaced int       // frames sent since paceStart
	dropped   int       // frames trimmed off a queue that grew past vonageMaxQueue
}

type vonageFrame struct {
	l16  []byte
	mark string
}

// vonageFrameBytes is 20 ms of L16 16 kHz.
const vonageFrameBytes = 640

func newProviderOut(prov string, conn StreamConn) *providerOut {
	o := &providerOut{prov: prov, conn: conn}
	if prov == provider.NameVonage {
		o.up = assistant.NewUpsampler8to16()
	}
	return o
}

func (o *providerOut) paced() bool { return o.prov == provider.NameVonage }

func (o *providerOut) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = o.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return o.conn.WriteMessage(websocket.TextMessage, b)
}

func (o *providerOut) media(ulaw []byte) error {
	payload := base64.StdEncoding.EncodeToString(ulaw)
	switch o.prov {
	case provider.NameTwilio:
		return o.writeJSON(map[string]any{"event": "media", "streamSid": o.streamID, "media": map[string]string{"payload": payload}})
	case provider.NameTelnyx:
		return o.writeJSON(map[string]any{"event": "media", "media": map[string]string{"payload": payload}})
	}
	o.pcm8 = assistant.AppendMulawDecode(o.pcm8[:0], ulaw)
	o.pcm16 = o.up.Process(o.pcm16[:0], o.pcm8)
	o.pend = assistant.AppendL16Bytes(o.pend, o.pcm16)
	for len(o.pend) >= vonageFrameBytes {
		o.queue = append(o.queue, vonageFrame{l16: append([]byte(nil), o.pend[:vonageFrameBytes]...)})
		o.pend = o.pend[vonageFrameBytes:]
	}
	o.trim()
	return nil
}

// vonageMaxQueue caps the audio waiting to be paced out to Vonage (30 s):
// an assistant sending faster than real time for ever must not grow it
// without bound.
const vonageMaxQueue = 30 * 50

// trim drops the oldest audio (never a mark) beyond vonageMaxQueue frames.
func (o *providerOut) trim() {
	audio := 0
	for _, f := range o.queue {
		if f.mark == "" {
			audio++
		}
	}
	if audio <= vonageMaxQueue {
		return
	}
	drop := audio - vonageMaxQueue
	kept := o.queue[:0]
	for _, f := range o.queue {
		if drop > 0 && f.mark == "" {
			drop--
			continue
		}
		kept = append(kept, f)
	}
	o.queue = kept
	o.dropped += audio - vonageMaxQueue
}

// mark sends a mark to the provider; for Vonage it returns the marks due
// now (nothing queued before it).
func (o *providerOut) mark(name string) ([]string, error) {
	switch o.prov {
	case provider.NameTwilio:
		return nil, o.writeJSON(map[string]any{"event": "mark", "streamSid": o.streamID, "mark": map[string]string{"name": name}})
	case provider.NameTelnyx:
		return nil, o.writeJSON(map[string]any{"event": "mark", "mark": map[string]string{"name": name}})
	}
	o.flushPartial()
	if len(o.queue) == 0 {
		return []string{name}, nil
	}
	o.queue = append(o.queue, vonageFrame{mark: name})
	return nil, nil
}

// flushPartial pads the audio short of a frame with silence (it precedes a
// mark: the mark must wait for it).
func (o *providerOut) flushPartial() {
	if len(o.pend) == 0 {
		return
	}
	f := make([]byte, vonageFrameBytes)
	copy(f, o.pend)
	o.queue = append(o.queue, vonageFrame{l16: f})
	o.pend = o.pend[:0]
}

// clear drops what is queued; Vonage's marks in the queue are returned
// (Twilio and Telnyx send theirs back themselves).
func (o *providerOut) clear() ([]string, error) {
	switch o.prov {
	case provider.NameTwilio:
		return nil, o.writeJSON(map[string]any{"event": "clear", "streamSid": o.streamID})
	case provider.NameTelnyx:
		return nil, o.writeJSON(map[string]any{"event": "clear"})
	}
	var marks []string
	for _, f := range o.queue {
		if f.mark != "" {
			marks = append(marks, f.mark)
		}
	}
	o.queue = o.queue[:0]
	o.pend = o.pend[:0]
	o.up.Reset()
	return marks, nil
}

// tick sends Vonage the frames due now (one per 20 ms since the audio
// started, so a late tick is caught up, at most vonageCatchUp at once) and
// returns the marks reached.
func (o *providerOut) tick() []string {
	now := time.Now()
	var marks []string
	takeMarks := func() {
		for len(o.queue) > 0 && o.queue[0].mark != "" {
			marks = append(marks, o.queue[0].mark)
			o.queue = o.queue[1:]
		}
	}
	takeMarks()
	if len(o.queue) == 0 {
		o.paceStart, o.sentPaced = time.Time{}, 0 // nothing to say: no debt
		return marks
	}
	if o.paceStart.IsZero() {
		o.paceStart, o.sentPaced = now, 0
	}
	due := int(now.Sub(o.paceStart)/vonageFrameTime) + 1 - o.sentPaced
	if due > vonageCatchUp {
		// Far behind (a stalled loop): catch up a little, forgive the rest.
		o.paceStart = now.Add(-time.Duration(o.sentPaced+vonageCatchUp-1) * vonageFrameTime)
		due = vonageCatchUp
	}
	for ; due > 0 && len(o.queue) > 0; due-- {
		f := o.queue[0]
		o.queue = o.queue[1:]
		o.sentPaced++
		_ = o.conn.SetWriteDeadline(now.Add(2 * time.Second))
		_ = o.conn.WriteMessage(websocket.BinaryMessage, f.l16)
		takeMarks()
	}
	return marks
}

const (
	vonageFrameTime = 20 * time.Millisecond
	vonageCatchUp   = 5
)

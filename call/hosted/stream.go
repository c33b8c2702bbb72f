package hosted

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/provider"
)

// CheckStreamToken authorizes a Telnyx or Vonage media websocket before
// the upgrade: its URL carries ?call_id=…&token=… (the per-call token of a
// live call). Twilio streams carry no query (Twilio forbids one): they are
// authorized after the upgrade, from start.customParameters.
func (h *Path) CheckStreamToken(callID, token string) error {
	c := h.callByID(callID)
	if c == nil || c.provider == provider.NameTwilio || !call.TokenEqual(c.token, token) {
		return call.ErrBadStreamToken
	}
	return nil
}

// ServeStream relays one provider media websocket until the stream or the
// call ends, then closes conn. callID is the one CheckStreamToken accepted;
// empty means a Twilio stream, whose `start` must carry the call_id and
// token parameters of a live Twilio call (else the websocket is closed with
// 1008, policy violation).
func (h *Path) ServeStream(conn call.StreamConn, callID string) {
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
	if !c.attachLocked() {
		state := c.life.State()
		c.mu.Unlock()
		c.log.Warn("media websocket refused: the call has one already, was transferred or is over", "state", state.String())
		return
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	c.answered()
	c.event(call.EventStreamConnected, nil)
	out := newProviderOut(c.provider, conn)
	out.streamID = start.streamID
	c.relay(conn, out)
}

// twilioHandshake reads connected and start and checks the call's token.
func (h *Path) twilioHandshake(conn call.StreamConn) (*hostedCall, streamEvent) {
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
		if c == nil || c.provider != provider.NameTwilio || !call.TokenEqual(c.token, ev.params["token"]) {
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

func (c *hostedCall) dialAssistant() (*assistant.Stream, error) {
	if c.assistant == nil || c.assistant.StreamURL == "" {
		return nil, fmt.Errorf("%w: the assistant has no stream URL", assistant.ErrBadStreamURL)
	}
	timeout := c.h.opts.AssistantConnectTimeout
	ctx, cancel := context.WithTimeout(c.h.ctx, timeout)
	defer cancel()
	opts := append([]assistant.DialOption{assistant.WithConnectTimeout(timeout), assistant.WithLogger(c.log),
		assistant.WithNetDialContext(call.AddressPolicy(c.h.opts.AddressPolicy).DialContext)}, c.h.opts.DialOptions...)
	c.mu.Lock()
	info := c.info
	info.Extra = make(map[string]string, len(c.info.Extra))
	for k, v := range c.info.Extra {
		info.Extra[k] = v
	}
	c.mu.Unlock()
	info.AccountSID = call.TwilioAccountSID(c.orgID)
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
// With wide (an l16_16k assistant) Vonage's L16 16 kHz is kept as it is
// (streamEvent.l16).
func readProvider(prov string, wide bool, conn call.StreamConn, events chan<- streamEvent, quit <-chan struct{}) {
	var conv *audio.FrameConverter
	telnyxEnc := telnyxStreamCodec
	if prov == provider.NameVonage {
		conv = audio.NewFrameConverter()
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
			if err == nil && ev.kind == evMedia && wide {
				ev.audio, ev.l16 = append([]byte(nil), ev.audio...), true
			} else if err == nil && ev.kind == evMedia {
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

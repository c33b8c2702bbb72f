package hosted

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
)

// hostedEndMark follows the last audio of an assistant that closed its
// stream normally; hostedEndWait bounds the wait for its echo.
const (
	hostedEndMark = "sipbridge-assistant-ended"
	hostedEndWait = 30 * time.Second
)

// hostedRelay bridges one call's provider stream and its assistant; only
// the stream goroutine (relay) touches it.
type hostedRelay struct {
	c   *hostedCall
	out *providerOut
	st  *assistant.Stream // nil once the assistant's part is over
	// endBy is set while the call ends after the provider has played what
	// the assistant sent (hostedEndMark comes back, or endBy fires).
	endBy <-chan time.Time
	// wide converts for an l16_16k assistant (nil for mulaw_8k).
	wide *widebandAssistant
}

// widebandAssistant: Twilio and Telnyx calls are μ-law 8 kHz here, so an
// l16_16k assistant gets them upsampled to L16 16 kHz, and its L16 16 kHz
// is filtered down to μ-law 8 kHz: the format it asked for, without the
// band a SIP call can bring. Vonage streams L16 16 kHz both ways: passed
// through as it is.
type widebandAssistant struct {
	up   *audio.Upsampler8to16
	down *audio.L16ToMulaw
	pcm  []int16
	le   []byte
}

// toAssistant returns the L16 16 kHz of the caller's μ-law (reused).
func (w *widebandAssistant) toAssistant(ulaw []byte) []byte {
	w.pcm = audio.AppendMulawDecode(w.pcm[:0], ulaw)
	n := len(w.pcm)
	w.pcm = w.up.Process(w.pcm, w.pcm[:n])
	w.le = audio.AppendL16Bytes(w.le[:0], w.pcm[n:])
	return w.le
}

// relay bridges the provider stream and the assistant.
func (c *hostedCall) relay(conn call.StreamConn, out *providerOut) {
	quit := make(chan struct{})
	defer close(quit)
	events := make(chan streamEvent, 64)
	go readProvider(c.provider, c.assistant.Config.AudioFormat == assistant.AudioL16k16, conn, events, quit)

	st, err := c.dialAssistant()
	if err != nil {
		c.log.Warn("assistant unreachable", "err", err)
		c.event(call.EventAssistantUnreachable, db.JSONMap{"error": err.Error()})
		c.fault("assistant unreachable", true)
		c.streamDone("assistant unreachable")
		return
	}
	c.event(call.EventAssistantConnected, db.JSONMap{"stream_sid": st.StreamSID()})
	r := &hostedRelay{c: c, out: out, st: st}
	if st.AudioFormat() == assistant.AudioL16k16 {
		r.wide = &widebandAssistant{up: audio.NewUpsampler8to16(), down: audio.NewL16ToMulaw()}
	}
	defer r.closeAssistant(true)
	r.run(events)
}

// run is the relay's loop: until the call ends, the stream stops or
// sipbridge stops.
func (r *hostedRelay) run(events <-chan streamEvent) {
	c := r.c
	var tick <-chan time.Time
	if r.out.paced() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for {
		var msgs <-chan assistant.AssistantMessage
		detach := c.detach
		if r.st != nil {
			msgs = r.st.Messages()
		} else {
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
			r.closeAssistant(true)
		case ev := <-events:
			if r.fromProvider(ev) {
				return
			}
		case <-r.endBy:
			r.hangupNow()
		case p := <-c.amdOut:
			r.sendAMD(p)
		case m, ok := <-msgs:
			if !ok {
				r.assistantClosed()
				continue
			}
			call.HandleAssistantMessage(m, r)
		case <-tick:
			marks := r.out.tick()
			if r.endBy != nil && slices.Contains(marks, hostedEndMark) {
				r.hangupNow()
				continue
			}
			r.sendMarks(marks)
		}
	}
}

// closeAssistant ends the assistant's part (with a stop first when asked).
func (r *hostedRelay) closeAssistant(stop bool) {
	if r.st == nil {
		return
	}
	if stop {
		_ = r.st.Stop()
	}
	_ = r.st.Close()
	r.st = nil
}

// sendMarks echoes the marks the provider reached to the assistant.
func (r *hostedRelay) sendMarks(marks []string) {
	for _, m := range marks {
		if r.st != nil {
			_ = r.st.SendMark(m)
		}
	}
}

// hangupNow asks the provider to end the call the assistant ended.
func (r *hostedRelay) hangupNow() {
	r.endBy = nil
	r.c.log.Info("assistant ended the call")
	_ = r.c.providerHangup(context.Background())
}

// hangupAfterPlayout hangs up once the provider has played what the
// assistant sent: a mark behind it, the hangup when it comes back (or at
// endBy).
func (r *hostedRelay) hangupAfterPlayout() {
	marks, err := r.out.mark(hostedEndMark)
	if err != nil || slices.Contains(marks, hostedEndMark) {
		r.hangupNow()
		return
	}
	r.endBy = time.After(hostedEndWait)
}

// fromProvider handles one event of the provider stream; it reports
// whether the stream is over.
func (r *hostedRelay) fromProvider(ev streamEvent) bool {
	c := r.c
	switch ev.kind {
	case evStart:
		if ev.streamID != "" {
			r.out.streamID = ev.streamID
		}
		if ev.encoding != "" && !telnyxCodecSupported(ev.encoding) {
			// Telnyx could not transcode the call to PCMU: its audio is
			// not passed on (it would reach the assistant as noise); the
			// assistant still speaks to the caller.
			c.log.Warn("telnyx stream in an unsupported codec: caller audio not forwarded", "encoding", ev.encoding)
			c.event(call.EventStreamCodecUnsupported, db.JSONMap{"encoding": ev.encoding, "supported": "PCMU, PCMA"})
		}
	case evMedia:
		switch {
		case r.st == nil:
		case ev.l16: // Vonage's own 16 kHz, for an l16_16k assistant
			_ = r.st.SendMedia(ev.audio)
		case r.wide != nil:
			_ = r.st.SendMedia(r.wide.toAssistant(ev.audio))
		default:
			_ = r.st.SendMedia(ev.audio)
		}
	case evDTMF:
		c.event(call.EventDTMF, db.JSONMap{"digit": ev.digit})
		if r.st != nil {
			if err := r.st.SendDTMF(ev.digit); err != nil {
				c.log.Debug("dtmf not forwarded", "err", err)
			}
		}
	case evMark:
		if ev.mark == hostedEndMark && r.endBy != nil {
			r.hangupNow()
			return false
		}
		r.sendMarks([]string{ev.mark})
	case evStop, evClosed:
		reason := "the caller hung up"
		if ev.kind == evClosed {
			reason = "the provider closed the media stream"
			if ev.err != nil && !call.StreamClosedNormally(ev.err) {
				c.log.Debug("provider stream closed", "err", ev.err)
			}
		}
		c.event(call.EventStreamStopped, db.JSONMap{"reason": reason})
		r.closeAssistant(true)
		c.streamDone(reason)
		return true
	}
	return false
}

// assistantClosed handles the end of the assistant's stream: a normal
// close is the assistant ending the call (after what it sent has played);
// anything else is a fault, unless the call was transferred.
func (r *hostedRelay) assistantClosed() {
	c := r.c
	err := r.st.Err()
	if assistant.IsNormalClose(err) && !c.isTransferred() {
		c.event(call.EventAssistantEnded, db.JSONMap{"close": fmt.Sprint(err)})
		c.setReason("assistant ended the call")
		r.closeAssistant(false)
		r.hangupAfterPlayout()
		return
	}
	c.log.Warn("assistant stream ended", "err", err)
	c.event(call.EventAssistantDisconnected, db.JSONMap{"error": fmt.Sprint(err)})
	r.closeAssistant(false)
	if !c.isTransferred() {
		c.fault("assistant disconnected", false)
	}
}

// The relay is its call's call.AssistantSink: call.HandleAssistantMessage
// dispatches the assistant's messages to the provider's stream and API.
var _ call.AssistantSink = (*hostedRelay)(nil)

// Event appends to the call's timeline.
func (r *hostedRelay) Event(typ string, detail db.JSONMap) { r.c.event(typ, detail) }

// PlayMedia sends the assistant's audio to the provider (an l16_16k
// assistant's as it is to Vonage, as μ-law 8 kHz to Twilio and Telnyx).
func (r *hostedRelay) PlayMedia(payload []byte) {
	if r.wide != nil && r.out.paced() {
		r.out.mediaL16(payload) // Vonage takes L16 16 kHz: sent as it came
		return
	}
	if r.wide != nil {
		payload = r.wide.down.Convert(payload)
	}
	if err := r.out.media(payload); err != nil {
		r.c.log.Debug("media not sent to the provider", "err", err)
	}
}

// Mark sends a mark to the provider (Vonage: queued behind the audio).
func (r *hostedRelay) Mark(name string) {
	marks, err := r.out.mark(name)
	if err != nil {
		r.c.log.Debug("mark not sent to the provider", "err", err)
	}
	r.sendMarks(marks)
}

// Clear drops the audio the provider has not played.
func (r *hostedRelay) Clear() {
	if r.wide != nil {
		r.wide.down.Reset()
	}
	marks, err := r.out.clear()
	if err != nil {
		r.c.log.Debug("clear not sent to the provider", "err", err)
	}
	r.sendMarks(marks)
}

// Transfer asks the provider to move the call (the provider decides how:
// a warm transfer is not supported).
func (r *hostedRelay) Transfer(to string, mode call.TransferMode) error {
	if mode == call.TransferWarm {
		return call.ErrWarmUnsupported
	}
	return r.c.providerTransfer(context.Background(), to)
}

// EndWarmTransfer: a hosted call has no warm transfer to end.
func (r *hostedRelay) EndWarmTransfer(complete bool) {
	r.c.log.Warn("transfer_complete or transfer_cancel without a warm transfer (hosted call)", "complete", complete)
}

// TransferRefused: refused before the provider took the call away (our
// checks, or its API's error): the stream is still up, the conversation
// goes on.
func (r *hostedRelay) TransferRefused(to string, err error) {
	r.c.log.Warn("transfer failed", "to", to, "err", err)
	if r.st == nil {
		return
	}
	if err := r.st.SendTransferFailed(to, err.Error()); err != nil {
		r.c.log.Debug("transfer_failed not sent", "err", err)
	}
}

// Hangup ends the call: at once, or once the provider has played what the
// assistant sent.
func (r *hostedRelay) Hangup(immediate bool) {
	r.c.setReason("assistant hung up")
	r.closeAssistant(true)
	if immediate {
		_ = r.c.providerHangup(context.Background())
		return
	}
	r.hangupAfterPlayout()
}

// SendDTMF presses keys through the provider's API: Telnyx
// (actions/send_dtmf) and Vonage (PUT /v1/calls/{uuid}/dtmf). Twilio can
// only by replacing the call's TwiML (<Play digits>), which ends the media
// stream: refused. It waits for the provider's answer (at most 5 s), as a
// transfer does.
func (r *hostedRelay) SendDTMF(digits string) error {
	c := r.c
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := c.h.client(ctx, c.orgID, c.assistant, c.provider)
	if err != nil {
		return err
	}
	ds, ok := p.(provider.DTMFSender)
	if !ok {
		return fmt.Errorf("%w (provider %s)", call.ErrDTMFUnsupported, c.provider)
	}
	if err := ds.SendDTMF(ctx, c.providerSID(), digits); err != nil {
		return fmt.Errorf("%w: %w", ErrProviderCall, err)
	}
	return nil
}

// DTMFRefused logs the refusal; the conversation goes on.
func (r *hostedRelay) DTMFRefused(digits string, err error) {
	r.c.log.Warn("dtmf refused", "digits", digits, "err", err)
}

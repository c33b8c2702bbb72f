package sip

import (
	"fmt"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/transfer"
	"github.com/sipbridge/sipbridge/db"
)

// assistantSink is the session as call.HandleAssistantMessage sees it:
// the assistant's audio goes to the playback pipe (or to files through
// mod_audio_stream), its transfer to a REFER or a bridge, its hangup to
// FreeSWITCH. It runs on the session's goroutine.
type assistantSink struct{ s *callSession }

func (k assistantSink) Event(typ string, detail db.JSONMap) { k.s.event(typ, detail) }

// PlayMedia plays the assistant's audio: μ-law 8 kHz, or with l16_16k
// L16 16 kHz, played at 16 kHz as files (.r16) and turned into the
// channel's G.711 for the pipe (which only a G.711 channel has).
func (k assistantSink) PlayMedia(payload []byte) {
	s := k.s
	wide := s.info.AudioFormat == assistant.AudioL16k16
	switch {
	case s.pipe != nil && wide:
		if s.down == nil {
			s.down = audio.NewL16ToMulaw()
		}
		s.pipe.Write(s.down.Convert(payload))
	case s.pipe != nil:
		s.pipe.Write(payload)
	case s.play != nil && wide:
		s.sendChunks(s.play.WriteL16(payload))
	case s.play != nil:
		s.sendChunks(s.play.Write(payload))
	}
}

func (k assistantSink) Mark(name string) {
	s := k.s
	if s.pipe != nil {
		s.pipe.Mark(name)
	} else if s.play != nil {
		s.sendChunks(s.play.Mark(name))
	}
}

func (k assistantSink) Clear() {
	s := k.s
	if s.pipe != nil {
		// The pipe holds at most pipeLead: no uuid_break, which would end
		// the call's one playback.
		s.sendMarks(s.pipe.Clear())
		if s.down != nil {
			s.down.Reset()
		}
		return
	}
	if s.play == nil {
		return
	}
	out := s.play.Clear()
	s.pending = nil
	if o, err := s.api("uuid_break " + s.mediaUUID() + " all"); err != nil {
		s.log.Debug("uuid_break", "err", err, "reply", o)
	}
	s.sendMarks(out.Marks)
}

func (k assistantSink) Transfer(to string, mode call.TransferMode) error {
	return k.s.transfer(to, string(mode))
}

// EndWarmTransfer is the assistant's transfer_complete or transfer_cancel.
func (k assistantSink) EndWarmTransfer(complete bool) {
	s := k.s
	switch {
	case s.warm == nil:
		s.log.Warn("transfer_complete or transfer_cancel without a warm transfer: ignored", "complete", complete)
	case complete:
		s.warmStep(transfer.AssistantComplete, "")
	default:
		s.warmStep(transfer.AssistantCancel, "cancelled by the assistant")
	}
}

// TransferRefused: refused before anything was tried (target, destination
// rules, address policy, a transfer already under way).
func (k assistantSink) TransferRefused(to string, err error) {
	s := k.s
	s.log.Warn("transfer refused", "to", to, "err", err)
	if s.stream != nil {
		if err := s.stream.SendTransferFailed(to, err.Error()); err != nil {
			s.log.Debug("transfer_failed not sent", "err", err)
		}
	}
}

func (k assistantSink) Hangup(immediate bool) {
	s := k.s
	s.closeAssistant(true)
	if s.transferPending() {
		// The transfer decides: the caller leaves with it, or, when it
		// fails, with no assistant left the call is hung up then (a warm
		// transfer's briefed target is bridged).
		s.warmStep(transfer.AssistantGone, "")
		return
	}
	if immediate {
		s.kill(causeNormal, "assistant hung up")
		return
	}
	// The goodbye the assistant sent before its hangup is heard to its end
	// first (at most hangupWait).
	s.endReason = "assistant hung up"
	s.endWhenPlayed = true
	s.endBy = s.c.opts.Now().Add(min(s.playbackLeft()+2*time.Second, hangupWait))
	s.endIfPlayed()
}

// SendDTMF presses the keys on the call's channel: RFC 2833
// telephone-events (the profile's dtmf-type) by uuid_send_dtmf, which
// answers "+OK <uuid> sent DTMF <digits>." once they are queued.
func (k assistantSink) SendDTMF(digits string) error {
	s := k.s
	o, err := s.api("uuid_send_dtmf " + s.uuid + " " + digits)
	if err != nil {
		return fmt.Errorf("uuid_send_dtmf: %w", err)
	}
	if !strings.HasPrefix(o, "+OK") {
		return fmt.Errorf("uuid_send_dtmf answered %q", strings.TrimSpace(o))
	}
	return nil
}

// DTMFRefused: bad digits, or the switch did not take them.
func (k assistantSink) DTMFRefused(digits string, err error) {
	k.s.log.Warn("dtmf refused", "digits", digits, "err", err)
}

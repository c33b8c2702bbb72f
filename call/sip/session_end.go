package sip

import (
	"os"
	"strconv"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/transfer"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// endIfPlayed ends a call whose assistant closed normally once the audio
// it sent has been heard (or at endBy).
func (s *callSession) endIfPlayed() {
	if !s.endWhenPlayed || s.ending() || s.transferred() || s.transferPending() {
		return
	}
	if s.c.opts.Now().Before(s.endBy) {
		switch {
		case s.pipe != nil:
			if !s.pipe.Idle() {
				return
			}
		case s.play != nil:
			s.sendChunks(s.play.Flush())
			if s.play.Outstanding() > 0 {
				return
			}
		}
	}
	reason := "assistant ended the call"
	if s.endReason != "" {
		reason = s.endReason
	}
	s.log.Info(reason)
	s.kill(causeNormal, reason)
}

// hangupWait bounds how long an assistant's hangup waits for the audio it
// sent before to be heard.
const hangupWait = 30 * time.Second

// kill hangs the channel up with a cause.
func (s *callSession) kill(cause, reason string) {
	if s.ending() {
		return
	}
	s.to(call.Ending)
	if s.endReason == "" {
		s.endReason = reason
	}
	if out, err := s.api("uuid_kill " + s.uuid + " " + cause); err != nil {
		s.log.Warn("uuid_kill failed", "err", err, "reply", out)
	}
}

// fault handles the assistant being unreachable or gone: transfer to the
// assistant's fallback number when it has one, otherwise hang up.
func (s *callSession) fault(reason string) {
	s.stopRingback()
	s.closeAssistant(false)
	if s.assistant != nil && s.assistant.FallbackTransferNumber != "" && !s.transferred() {
		s.log.Warn("assistant fault: transferring to the fallback number", "reason", reason, "to", s.assistant.FallbackTransferNumber)
		s.event(call.EventFallbackNumberTransfer, db.JSONMap{"reason": reason, "to": s.assistant.FallbackTransferNumber})
		if s.transfer(s.assistant.FallbackTransferNumber, "") == nil {
			return
		}
	}
	cause := causeNormal
	if !s.life.WasAnswered() {
		cause = causeUnavailable
	}
	s.log.Warn("assistant fault: hanging up", "reason", reason, "cause", cause)
	s.kill(cause, reason)
}

// streamFault handles mod_audio_stream failing (error, disconnect, no
// connect in time): restart the stream once, then end the call.
func (s *callSession) streamFault(reason string) {
	if s.ending() || s.transferred() {
		return
	}
	if s.briefLeg != "" { // the target's stream: the caller goes back
		s.event(call.EventStreamFailed, db.JSONMap{"reason": reason, "leg": s.briefLeg})
		s.warmStep(transfer.StreamFailed, "the audio stream to the target failed: "+reason)
		return
	}
	s.event(call.EventStreamFailed, db.JSONMap{"reason": reason, "restarts": s.restarts})
	s.closeFS()
	if s.restarts < 1 {
		s.restarts++
		s.log.Warn("audio stream failed: restarting it", "reason", reason)
		_, _ = s.api("uuid_audio_stream " + s.mediaUUID() + " stop")
		if s.pipe == nil {
			// Files mod_audio_stream wrote for the old stream: drop them.
			if s.play != nil {
				s.sendMarks(s.play.Clear().Marks)
			}
			_, _ = s.api("uuid_break " + s.mediaUUID() + " all")
		}
		s.startStream()
		return
	}
	s.log.Warn("audio stream failed again: ending the call", "reason", reason)
	s.kill(causeNormal, "audio stream failed: "+reason)
}

// closeFS closes the media stream's websocket, if any.
func (s *callSession) closeFS() {
	if s.fs != nil {
		_ = s.fs.Close()
		s.fs = nil
	}
}

// closeAssistant ends the assistant stream (with `stop` when it is still
// up).
func (s *callSession) closeAssistant(stop bool) {
	if s.stream == nil {
		return
	}
	s.asst.Store(nil)
	if stop {
		_ = s.stream.Stop()
	}
	_ = s.stream.Close()
	s.stream = nil
}

// finish closes the record when the channel is gone (e is its
// CHANNEL_HANGUP_COMPLETE, nil when it was lost).
func (s *callSession) finish(e *esl.Event) {
	s.warmStep(transfer.CallerGone, "")
	s.closeAssistant(true)
	if s.rec == nil {
		return
	}
	now := s.c.opts.Now().UTC()
	cause := "UNKNOWN"
	if e != nil {
		cause = e.Get("Hangup-Cause")
	}
	cols := map[string]any{"ended_at": now, "hangup_cause": cause}
	switch {
	case s.rec.Status == db.CallRefused:
	case s.life.WasAnswered():
		cols["status"] = db.CallCompleted
		dur := int(now.Sub(s.answeredAt).Round(time.Second) / time.Second)
		if e != nil {
			if b, err := strconv.Atoi(e.Get("variable_billsec")); err == nil {
				dur = b
			}
		}
		cols["duration_seconds"] = dur
	default:
		cols["status"] = db.CallFailed
	}
	if s.endReason != "" && s.rec.Status != db.CallRefused {
		cols["reason"] = s.endReason
	}
	if s.recordPath != "" {
		if st, err := os.Stat(s.recordPath); err == nil {
			s.recordBytes = st.Size()
		}
		cols["recording_bytes"] = s.recordBytes
	}
	s.end()
	s.update(cols)
	s.event(call.EventHangup, db.JSONMap{"cause": cause, "reason": s.endReason})
	s.notifyFinish(cols)
	s.log.Info("call ended", "cause", cause, "reason", s.endReason)
}

// cleanup releases what the call still holds.
func (s *callSession) cleanup() {
	if s.pipe != nil {
		s.pipe.Remove()
	}
	s.closeAssistant(false)
	s.closeFS()
	// Streams still attaching are refused by the token check; close any
	// that raced in.
	for _, n := range s.fsNotes.Drain() {
		if n.conn != nil {
			_ = n.conn.Close()
		}
	}
	s.mu.Lock()
	s.token = ""
	s.mu.Unlock()
}

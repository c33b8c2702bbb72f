package sip

import (
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/transfer"
	"github.com/sipbridge/sipbridge/call/sip/trunkdial"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// A warm transfer on FreeSWITCH (transfer.Warm decides each step): the
// caller's audio stream is stopped and it hears the hold audio; the
// target is originated through the trunks and parked (startBridge); once
// it answers, a new audio stream starts on the target's leg, for the same
// assistant stream, and the assistant's audio plays there (as files:
// briefLeg is the channel of the media while it is set); then uuid_bridge
// (complete) or the target hung up and the caller's stream started again
// (give back).

// startWarm puts the caller on hold and dials the target.
func (s *callSession) startWarm(p *transfer.Plan) {
	w := transfer.NewWarm(p, s.c.opts.HoldAudio)
	s.warm = w
	if s.stream == nil {
		w.Step(transfer.AssistantGone) // nobody to brief: bridged on answer
	}
	s.detachCaller()
	s.playHold()
	s.event(call.EventHoldStarted, db.JSONMap{"to": p.To, "audio": w.Hold})
	s.startBridge(p)
}

// detachCaller stops the assistant's media on the caller's channel: its
// audio stream (a new token: a late websocket of the old one is refused),
// what is playing or queued (marks echoed), the pipe. Until the stream
// starts again (on the target, or on the caller after a give back) the
// assistant's audio goes nowhere.
func (s *callSession) detachCaller() {
	_, _ = s.api("uuid_audio_stream " + s.uuid + " stop")
	s.newStreamToken()
	s.closeFS()
	s.streamUntil = time.Time{}
	if s.pipe != nil {
		s.sendMarks(s.pipe.Clear())
	}
	if s.play != nil {
		s.sendMarks(s.play.Clear().Marks)
	}
	s.play, s.pending = nil, nil
	_, _ = s.api("uuid_break " + s.uuid + " all")
	if s.pipe != nil {
		s.pipe.Remove()
		s.pipe, s.down = nil, nil
	}
}

// warmDialDone: the target's originate returned (answered, or nobody did).
func (s *callSession) warmDialDone(r request) {
	w := s.warm
	if w == nil || w.Plan.DialID != r.dial || w.Phase != transfer.WarmDialing {
		killAnswered(s.c, r.out) // a dial given up meanwhile
		return
	}
	leg, final, cause, answered := trunkdial.Reply(r.out, r.err)
	_, trunk := s.dialAttempts(leg, final)
	if !answered {
		s.warmStep(transfer.DialFailed, "no answer from "+r.to+": "+cause)
		return
	}
	w.Leg = leg
	s.c.addLeg(leg, s)
	s.event(call.EventTargetAnswered, trunkdial.Detail(db.JSONMap{"to": r.to, "leg": leg}, trunk))
	s.warmStep(transfer.TargetAnswered, "")
}

// warmStep moves the warm transfer on and does what it says.
func (s *callSession) warmStep(in transfer.WarmInput, reason string) {
	w := s.warm
	if w == nil {
		return
	}
	switch w.Step(in) {
	case transfer.Brief:
		s.briefLeg = w.Leg
		s.startStream() // on the target's leg
		if s.stream != nil {
			if err := s.stream.SendTransferAnswered(w.Plan.To); err != nil {
				s.log.Debug("transfer_answered not sent", "err", err)
			}
		}
	case transfer.Complete:
		s.warmComplete(w)
	case transfer.GiveBack:
		s.warmGiveBack(w, reason, in == transfer.AssistantCancel)
	case transfer.Abandon:
		s.warm, s.briefLeg = nil, ""
		s.dropTarget(w)
	case transfer.Ignore:
		if in == transfer.AssistantComplete {
			s.log.Warn("transfer_complete before the target answered: ignored", "to", w.Plan.To)
		}
	}
}

// dropTarget hangs the target's leg up, or stops dialling it.
func (s *callSession) dropTarget(w *transfer.Warm) {
	if w.Leg == "" {
		s.c.cancelDial(w.Plan.DialID)
		return
	}
	if out, err := s.api("uuid_kill " + w.Leg + " " + causeNormal); err != nil {
		s.log.Debug("uuid_kill of the transfer target", "err", err, "reply", out)
	}
}

// warmComplete bridges the caller to the briefed target and releases the
// assistant.
func (s *callSession) warmComplete(w *transfer.Warm) {
	s.warm, s.briefLeg = nil, ""
	_, _ = s.api("uuid_audio_stream " + w.Leg + " stop")
	_, _ = s.api("uuid_break " + w.Leg + " all")
	s.closeAssistant(true)
	if s.ending() {
		s.markTransferred()
	} else {
		s.to(call.Transferred)
	}
	s.closeFS()
	_, _ = s.api("uuid_break " + s.uuid + " all") // the hold audio
	if out, err := s.api("uuid_bridge " + s.uuid + " " + w.Leg); err != nil {
		s.event(call.EventTransferFailed, db.JSONMap{"to": w.Plan.To, "mode": "warm", "error": strings.TrimSpace(out)})
		s.dropTarget(w)
		s.kill(causeNormal, "bridge failed")
		return
	}
	s.endReason = "transferred to " + w.Plan.To + " (warm)"
	s.event(call.EventTransferCompleted, db.JSONMap{"to": w.Plan.To, "leg": w.Leg})
	s.event(call.EventTransferred, db.JSONMap{"to": w.Plan.To, "leg": w.Leg, "mode": "warm"})
}

// warmGiveBack ends a warm transfer that did not happen: the target is
// hung up, the hold stops and the caller is back with the assistant
// (told by transfer_failed), or hung up when the assistant is gone.
func (s *callSession) warmGiveBack(w *transfer.Warm, reason string, cancelled bool) {
	s.warm, s.briefLeg = nil, ""
	s.dropTarget(w)
	if cancelled {
		s.event(call.EventTransferCancelled, db.JSONMap{"to": w.Plan.To})
	} else {
		s.event(call.EventTransferFailed, db.JSONMap{"to": w.Plan.To, "mode": "warm", "reason": reason})
	}
	if s.ending() {
		return
	}
	s.closeFS()
	s.resume(w.Plan)
	if s.stream == nil {
		s.kill(causeNormal, "warm transfer to "+w.Plan.To+" failed: "+reason)
		return
	}
	_, _ = s.api("uuid_break " + s.uuid + " all") // the hold audio
	s.startPipe()
	s.startStream()
	s.log.Warn("warm transfer not completed: the caller is back with the assistant", "to", w.Plan.To, "reason", reason)
	if err := s.stream.SendTransferFailed(w.Plan.To, reason); err != nil {
		s.log.Debug("transfer_failed not sent", "err", err)
	}
}

// warmLegEvent follows the target's leg of a warm transfer.
func (s *callSession) warmLegEvent(e *esl.Event) {
	switch e.Name() {
	case "CHANNEL_HANGUP":
		s.warmStep(transfer.TargetGone, "the target hung up ("+e.Get("Hangup-Cause")+")")
	case "PLAYBACK_STOP":
		s.onPlaybackStop(e.Get("Playback-File-Path"))
	case "CUSTOM", "DTMF":
		if e.UUID() != s.briefLeg {
			return
		}
		if e.Name() == "DTMF" {
			s.onDTMF(e)
			return
		}
		s.handleCustom(e)
	}
}

// mediaUUID is the channel the assistant's media is on: the caller's, or
// the target's while the assistant briefs it.
func (s *callSession) mediaUUID() string {
	if s.briefLeg != "" {
		return s.briefLeg
	}
	return s.uuid
}

// playHold plays the hold audio to the caller.
func (s *callSession) playHold() {
	if err := s.playOn(s.uuid, s.warm.Hold); err != nil {
		s.log.Warn("hold audio not played", "err", err)
	}
}

// holdEnded plays a hold audio file again when it was played to its end
// (not broken) while the caller is still on hold; a tone_stream loops by
// itself (loops=-1), and FreeSWITCH's endless_playback would not stop at a
// uuid_break.
func (s *callSession) holdEnded(e *esl.Event) {
	if s.warm != nil && s.isHold(e.Get("Playback-File-Path")) && e.Get("Playback-Status") == "done" {
		s.playHold()
	}
}

// isHold tells the hold audio's Playback-File-Path.
func (s *callSession) isHold(path string) bool {
	return path != "" && strings.Contains(transfer.HoldAudio(s.c.opts.HoldAudio), path)
}

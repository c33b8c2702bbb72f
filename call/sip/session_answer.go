package sip

import (
	"os"
	"path/filepath"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
)

// ringbackTone is the ringback of answer_mode early_ringback: 2 s of
// 440 + 480 Hz every 6 s (the North American ringback), until the answer.
const ringbackTone = "tone_stream://%(2000,4000,440,480);loops=-1"

// earlyRingback, for an assistant with answer_mode early_ringback,
// pre-answers the inbound call (the caller gets a 183 with SDP) and plays
// a ringback tone as early media while the assistant connects.
func (s *callSession) earlyRingback() {
	if s.assistant.AnswerMode != db.AnswerEarlyRingback {
		return
	}
	if out, err := s.api("uuid_pre_answer " + s.uuid); err != nil {
		s.log.Warn("uuid_pre_answer failed: no early media", "err", err, "reply", out)
		return
	}
	if err := s.playFile(ringbackTone); err != nil {
		s.log.Warn("ringback not played", "err", err)
	}
	s.ringback = true
	s.event(call.EventEarlyMedia, db.JSONMap{"ringback": true})
}

// stopRingback ends the ringback (uuid_break all: the tone, and anything
// queued behind it) before the answer or the fault path.
func (s *callSession) stopRingback() {
	if !s.ringback {
		return
	}
	s.ringback = false
	if out, err := s.api("uuid_break " + s.uuid + " all"); err != nil {
		s.log.Debug("uuid_break of the ringback", "err", err, "reply", out)
	}
}

// playWelcome plays the assistant's welcome_audio from the answer. It is
// queued before the assistant's playback (the pipe, or the first
// streamAudio file), so the assistant's audio follows it: what the
// assistant sends meanwhile waits, and is heard, marks included, once the
// welcome audio has played to its end. A `clear` drops the assistant's
// audio, not the welcome audio.
func (s *callSession) playWelcome() {
	name := s.assistant.WelcomeAudio
	if name == "" {
		return
	}
	dir := s.c.opts.WelcomeAudioDir
	path := filepath.Join(dir, name)
	reason := ""
	switch st, err := os.Stat(path); {
	case dir == "" || !filepath.IsLocal(name):
		reason = "WELCOME_AUDIO_DIR is not configured, or the path leaves it"
	case err != nil || !st.Mode().IsRegular():
		reason = "no such file under WELCOME_AUDIO_DIR"
	default:
		if err := s.playFile(path); err != nil {
			reason = "playback: " + err.Error()
		}
	}
	if reason != "" {
		s.log.Warn("welcome audio not played", "file", name, "reason", reason)
		s.event(call.EventWelcomeAudio, db.JSONMap{"file": name, "skipped": reason})
		return
	}
	s.event(call.EventWelcomeAudio, db.JSONMap{"file": name})
}

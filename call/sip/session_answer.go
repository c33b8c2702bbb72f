package sip

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
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
	s.waitRingbackStopped()
}

// waitRingbackStopped waits (at most ringbackStopWait) until the
// ringback's playback, once started, has ended: FreeSWITCH's playback runs
// the private commands queued meanwhile (the welcome audio, the pipe)
// nested inside itself and resumes after them, so the caller would hear
// the ringback again when the pipe ends. A ringback not started
// ringbackStartWait after the uuid_break never starts (uuid_break all
// dropped it from the queue). The events stay queued for the loop.
func (s *callSession) waitRingbackStopped() {
	seen := func(name string) bool {
		return s.events.has(func(e *esl.Event) bool { return e.Name() == name && isRingback(e.Get("Playback-File-Path")) })
	}
	begin := time.Now()
	for time.Since(begin) < ringbackStopWait {
		if seen("PLAYBACK_STOP") || !seen("PLAYBACK_START") && time.Since(begin) > ringbackStartWait {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.log.Warn("the ringback did not stop in time", "wait_ms", ringbackStopWait.Milliseconds())
}

// How long stopRingback waits for the ringback to start, and to stop.
const ringbackStartWait, ringbackStopWait = 40 * time.Millisecond, time.Second

// isRingback tells the ringback's Playback-File-Path.
func isRingback(path string) bool { return path != "" && strings.Contains(ringbackTone, path) }

// notAssistantAudio: a playback that is neither the pipe nor a streamAudio
// file (the ringback, the welcome audio), whose end concerns no mark.
func (s *callSession) notAssistantAudio(path string) bool {
	return isRingback(path) || s.assistant != nil && s.assistant.WelcomeAudio != "" && strings.HasSuffix(path, "/"+s.assistant.WelcomeAudio)
}

// playWelcome plays the assistant's welcome_audio from the answer, queued
// before the assistant's playback (the pipe, or the first streamAudio
// file): the assistant's audio, marks included, follows it once played to
// its end. A `clear` drops the assistant's audio, not the welcome audio.
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

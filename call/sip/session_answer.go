package sip

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/trunk"
)

// ringbackTone is the ringback of answer_mode early_ringback: 2 s of
// 440 + 480 Hz every 6 s (the North American ringback), until the answer.
const ringbackTone = "tone_stream://%(2000,4000,440,480);loops=-1"

// trunkMedia sets the media of the trunk the call came in on (its codecs
// and srtp: trunk.InboundMediaVars) before anything answers it, and
// sipbridge_call_id, which ties the channel to the call's record when
// another sipbridge process adopts the call (Calls.Adopt).
func (s *callSession) trunkMedia(t *db.SIPTrunk) {
	cmd := "uuid_setvar " + s.uuid + " sipbridge_call_id " + s.id
	if media := trunk.InboundMediaVars(t); media != "" {
		cmd = "uuid_setvar_multi " + s.uuid + " sipbridge_call_id=" + s.id + ";" + media
	}
	if out, err := s.api(cmd); err != nil {
		s.log.Warn("trunk media settings or sipbridge_call_id not set", "err", err, "reply", out)
	}
}

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

// stopRingback ends the ringback before the answer (or the fault path)
// and returns once FreeSWITCH reports it ended, so that nothing queued
// after it (the welcome audio, the pipe) can play before or around it.
//
// A uuid_break is only sure to stop a playback that has started:
// FreeSWITCH clears the channel's break flag as it runs an application
// (switch_core_session_exec), so a uuid_break landing after the switch
// took the queued playback but before the playback began is lost, and the
// ringback (loops=-1) would play on. Under load that window, and the
// delivery of PLAYBACK_START over the Event Socket, take longer than any
// fixed guess. So: wait until the ringback's PLAYBACK_START (it was queued
// first, it runs next), break it, and break it again until its
// PLAYBACK_STOP comes (the last frame of the tone was written before it).
// A ringback that never starts (a channel gone) is dropped from the queue
// by uuid_break all.
func (s *callSession) stopRingback() {
	if !s.ringback {
		return
	}
	s.ringback = false
	begin := time.Now()
	if !s.waitRingback("PLAYBACK_START", ringbackStartWait) {
		s.breakRingback()
		if !s.hungUp() {
			s.log.Warn("the ringback did not start in time: dropped from the queue", "wait_ms", ringbackStartWait.Milliseconds())
		}
		return
	}
	for {
		if !s.breakRingback() || s.waitRingback("PLAYBACK_STOP", ringbackBreakEvery) || s.hungUp() {
			return
		}
		if time.Since(begin) > ringbackStartWait+ringbackStopWait {
			s.log.Warn("the ringback did not stop in time", "wait_ms", time.Since(begin).Milliseconds())
			return
		}
	}
}

// breakRingback sends uuid_break all (the tone, and anything queued
// behind it); false when the channel is gone.
func (s *callSession) breakRingback() bool {
	out, err := s.api("uuid_break " + s.uuid + " all")
	if err != nil {
		s.log.Debug("uuid_break of the ringback", "err", err, "reply", out)
	}
	return err == nil
}

// waitRingback waits at most d for the ringback's event name (its
// PLAYBACK_START or PLAYBACK_STOP) in the session's events, which stay
// queued for the loop; false when it did not come or the channel hung up.
func (s *callSession) waitRingback(name string, d time.Duration) bool {
	seen := func(e *esl.Event) bool { return e.Name() == name && isRingback(e.Get("Playback-File-Path")) }
	for end := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		switch {
		case s.events.Has(seen):
			return true
		case s.hungUp() || time.Now().After(end):
			return false
		}
	}
}

// hungUp tells whether the channel's hangup is among the queued events
// (nothing will play on it any more).
func (s *callSession) hungUp() bool {
	return s.events.Has(func(e *esl.Event) bool {
		return (e.Name() == "CHANNEL_HANGUP" || e.Name() == "CHANNEL_HANGUP_COMPLETE") && e.Get("Unique-ID") == s.uuid
	})
}

// How long stopRingback waits for the ringback to start, then to stop; a
// uuid_break is sent again each ringbackBreakEvery until it stops.
const ringbackStartWait, ringbackStopWait, ringbackBreakEvery = 2 * time.Second, time.Second, 100 * time.Millisecond

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

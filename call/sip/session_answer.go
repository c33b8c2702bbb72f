package sip

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/ringback"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/trunk"
)

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
	if err := s.playFile(ringback.Tone); err != nil {
		s.log.Warn("ringback not played", "err", err)
	}
	s.ringback = true
	s.event(call.EventEarlyMedia, db.JSONMap{"ringback": true})
}

// stopRingback ends the ringback before the answer (or the fault path)
// and returns once FreeSWITCH reports it ended (ringback.Stop).
func (s *callSession) stopRingback() {
	if !s.ringback {
		return
	}
	s.ringback = false
	ringback.Stop(ringbackChannel{s}, s.log)
}

// ringbackChannel is the caller's channel as ringback.Stop sees it: the
// session's queued events, which stay queued for the loop.
type ringbackChannel struct{ s *callSession }

func (c ringbackChannel) Break() bool {
	out, err := c.s.api("uuid_break " + c.s.uuid + " all")
	if err != nil {
		c.s.log.Debug("uuid_break of the ringback", "err", err, "reply", out)
	}
	return err == nil
}

func (c ringbackChannel) Seen(name string) bool {
	return c.s.events.Has(func(e *esl.Event) bool { return e.Name() == name && ringback.Is(e.Get("Playback-File-Path")) })
}

func (c ringbackChannel) HungUp() bool { return c.s.hungUp() }

// hungUp tells whether the channel's hangup is among the queued events
// (nothing will play on it any more).
func (s *callSession) hungUp() bool {
	return s.events.Has(func(e *esl.Event) bool {
		return (e.Name() == "CHANNEL_HANGUP" || e.Name() == "CHANNEL_HANGUP_COMPLETE") && e.Get("Unique-ID") == s.uuid
	})
}

// notAssistantAudio: a playback that is neither the pipe nor a streamAudio
// file (the ringback, the welcome audio), whose end concerns no mark.
func (s *callSession) notAssistantAudio(path string) bool {
	return ringback.Is(path) || s.isHold(path) || s.assistant != nil && s.assistant.WelcomeAudio != "" && strings.HasSuffix(path, "/"+s.assistant.WelcomeAudio)
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

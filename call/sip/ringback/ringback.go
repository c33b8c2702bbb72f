// Package ringback stops the ringback tone an inbound call hears as early
// media (answer_mode early_ringback) for sure, before anything else plays
// on its channel. The call's session (call/sip) starts it and says what its
// channel does (Channel).
package ringback

import (
	"log/slog"
	"strings"
	"time"
)

// Tone is the ringback of answer_mode early_ringback: 2 s of 440 + 480 Hz
// every 6 s (the North American ringback), until the answer.
const Tone = "tone_stream://%(2000,4000,440,480);loops=-1"

// Is tells the ringback's Playback-File-Path.
func Is(path string) bool { return path != "" && strings.Contains(Tone, path) }

// Channel is the call's channel as Stop sees it.
type Channel interface {
	// Break sends uuid_break all (the tone, and anything queued behind
	// it); false when the channel is gone.
	Break() bool
	// Seen tells whether the ringback's event name (PLAYBACK_START or
	// PLAYBACK_STOP) is among the channel's queued events.
	Seen(name string) bool
	// HungUp tells whether the channel's hangup is among them.
	HungUp() bool
}

// How long Stop waits for the ringback to start, then to stop; a
// uuid_break is sent again each BreakEvery until it stops.
const StartWait, StopWait, BreakEvery = 2 * time.Second, time.Second, 100 * time.Millisecond

// Stop ends the ringback and returns once FreeSWITCH reports it ended, so
// that nothing queued after it (the welcome audio, the pipe) can play
// before or around it.
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
func Stop(ch Channel, log *slog.Logger) {
	begin := time.Now()
	if !wait(ch, "PLAYBACK_START", StartWait) {
		ch.Break()
		if !ch.HungUp() {
			log.Warn("the ringback did not start in time: dropped from the queue", "wait_ms", StartWait.Milliseconds())
		}
		return
	}
	for {
		if !ch.Break() || wait(ch, "PLAYBACK_STOP", BreakEvery) || ch.HungUp() {
			return
		}
		if time.Since(begin) > StartWait+StopWait {
			log.Warn("the ringback did not stop in time", "wait_ms", time.Since(begin).Milliseconds())
			return
		}
	}
}

// wait waits at most d for the ringback's event name; false when it did
// not come or the channel hung up.
func wait(ch Channel, name string, d time.Duration) bool {
	for end := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		switch {
		case ch.Seen(name):
			return true
		case ch.HungUp() || time.Now().After(end):
			return false
		}
	}
}

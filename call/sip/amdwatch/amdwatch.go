// Package amdwatch runs answering machine detection (audio/amd) on one
// outbound call: the call's mod_audio_stream reader feeds it the callee's
// frames (L16 16 kHz, mono 16k) as they arrive, and it reports what the
// detector made known, with what the call's amd_action makes of it, to the
// call's own goroutine, which tells the assistant, writes the timeline and
// hangs up.
//
// Reports, in order, at most two per call:
//
//   - the decision (human, machine or unknown), once; with amd_action
//     hangup a machine's report asks for the hangup;
//   - with amd_action wait_beep and a machine: the beep, once it has ended
//     (Beep true), or that none came within amd.DefaultBeepWait of audio
//     (Beep false), so that the assistant can leave its message.
//
// Once it has nothing more to report the watch stops analysing: Feed costs
// an atomic load from then on.
package amdwatch

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio/amd"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
)

// HangupReason is the record's reason for a call amd_action hangup ended.
const HangupReason = call.AMDHangupReason

// Report is one thing the detector made known.
type Report struct {
	Result amd.Result
	Cause  amd.Cause
	// MS is the ms of the callee's audio heard (from the start of the
	// media stream, shortly after the answer) when the decision was made,
	// or for a beep report when the beep was found to have ended (or the
	// wait for it ended).
	MS int
	// BeepReport: this is wait_beep's second report; Beep is whether a
	// beep was heard, Tone the beep itself.
	BeepReport bool
	Beep       bool
	Tone       amd.Beep
	// Hangup: amd_action hangup and a machine: the call is to be hung up.
	Hangup bool
}

// Message is the report as the assistant's amd event carries it.
func (r Report) Message() assistant.AMDPayload {
	p := assistant.AMDPayload{Result: string(r.Result), MS: r.MS}
	if r.BeepReport {
		beep := r.Beep
		p.Beep = &beep
	}
	return p
}

// Detail is the report as the call's amd timeline event holds it.
func (r Report) Detail() db.JSONMap {
	d := db.JSONMap{"result": string(r.Result), "ms": r.MS}
	switch {
	case !r.BeepReport:
		d["cause"] = string(r.Cause)
	case r.Beep:
		d["beep"], d["beep_hz"], d["beep_start_ms"], d["beep_duration_ms"] = true, int(r.Tone.Hz+0.5), r.Tone.MS, r.Tone.DurationMS
	default:
		d["beep"] = false
	}
	if r.Hangup {
		d["action"] = call.AMDHangup
	}
	return d
}

// Watch is one call's detection.
type Watch struct {
	action string
	report func(Report)
	done   atomic.Bool // nothing more to report: Feed returns at once

	mu sync.Mutex // Feed's: a stream's restart may overlap its end
	d  *amd.Detector
}

// New starts the detection of a call whose amd_action is action ("" is
// call.AMDNone, anything not in call.AMDActions an error); report is
// called from Feed's goroutine with each report, and must not block.
func New(action string, report func(Report)) (*Watch, error) {
	if action == "" {
		action = call.AMDNone
	}
	if !slices.Contains(call.AMDActions, action) {
		return nil, fmt.Errorf("amd_action %q: not one of %v", action, call.AMDActions)
	}
	d, err := amd.New(amd.Options{SampleRate: amd.DefaultSampleRate})
	if err != nil {
		return nil, err
	}
	return &Watch{action: action, report: report, d: d}, nil
}

// Feed analyses a frame of the callee's audio (L16 little endian, 16 kHz
// mono, as mod_audio_stream sends it). A nil Watch, or one done, ignores it.
func (w *Watch) Feed(le []byte) {
	if w == nil || w.done.Load() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done.Load() {
		return
	}
	ev := w.d.Feed(le)
	dec, decided := w.d.Decision()
	if ev&amd.Decided != 0 {
		w.report(Report{Result: dec.Result, Cause: dec.Cause, MS: dec.MS,
			Hangup: w.action == call.AMDHangup && dec.Result == amd.Machine})
	}
	if !decided {
		return
	}
	if w.action != call.AMDWaitBeep || dec.Result != amd.Machine {
		w.done.Store(true)
		return
	}
	if b, heard := w.d.Beep(); heard || w.d.Done() {
		w.report(Report{Result: amd.Machine, Cause: dec.Cause, MS: w.d.MS(), BeepReport: true, Beep: heard, Tone: b})
		w.done.Store(true)
	}
}

// Done reports that the watch has nothing more to report.
func (w *Watch) Done() bool { return w == nil || w.done.Load() }

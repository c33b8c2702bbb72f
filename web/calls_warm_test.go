package web_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/call/sip/transfer"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/internal/tone"
	"gorm.io/gorm"
)

// warmTarget is where the warm transfers of these tests go.
const warmTarget = "+14165550199"

// warmCall is a live call whose assistant has asked for a warm transfer
// to warmTarget: the caller is on hold and the target is being dialled.
type warmCall struct {
	ce   *callEnv
	uuid string
	ac   *assistantConn
	rec  *db.Call
}

// startWarm places a call on the env's trunk and has its assistant ask
// for a warm transfer once the caller's audio flows; dial sets the far
// end's behaviour first (nil: it answers).
func startWarm(t *testing.T, g *gorm.DB, dial *fstest.DialOutcome, opts ...func(*sip.CallsOptions)) *warmCall {
	t.Helper()
	ce := newCallEnvOn(t, callEnvConfig{DB: g}, opts...)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	if dial != nil {
		ce.sw.SetDialOutcome(ce.trunk.GatewayName, *dial)
	}
	uuid, ac, rec := ce.liveCall()
	if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() > 5 }) {
		t.Fatal("no caller audio at the assistant")
	}
	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": warmTarget, "mode": "warm"}})
	ce.waitCommand("uuid_audio_stream "+uuid+" stop", 3*time.Second)
	ce.waitCommand("originate ", 3*time.Second)
	return &warmCall{ce: ce, uuid: uuid, ac: ac, rec: rec}
}

// answered waits for transfer_answered at the assistant and returns the
// target's leg, whose audio stream has started.
func (w *warmCall) answered(t *testing.T) string {
	t.Helper()
	if !waitUntil(5*time.Second, func() bool { ev, _, _, _, _, _, _ := w.ac.snapshot(); return slices.Contains(ev, "transfer_answered") }) {
		t.Fatalf("no transfer_answered at the assistant; commands %q", w.ce.sw.Commands())
	}
	att := w.ce.sw.DialAttempts()
	if len(att) != 1 || !att[0].Answered {
		t.Fatalf("dial attempts %+v", att)
	}
	leg := att[0].UUID
	w.ce.waitCommand("uuid_audio_stream "+leg+" start ", 2*time.Second)
	return leg
}

// heldThenBack checks what the caller was played: the hold audio from
// the request, and (back) the assistant's stream started again on its
// channel afterwards.
func (w *warmCall) heldThenBack(t *testing.T, back bool) {
	t.Helper()
	// Asked for (it may not have started before a quick give back broke it).
	if len(w.ce.commandsWith("sendmsg "+w.uuid+" execute playback "+transfer.DefaultHold)) != 1 {
		t.Errorf("the hold tone was not played to the caller once; commands %q", w.ce.sw.Commands())
	}
	starts := w.ce.commandsWith("uuid_audio_stream " + w.uuid + " start ")
	if back && len(starts) != 2 || !back && len(starts) != 1 {
		t.Errorf("the caller's stream started %d times, want %d (back: %v)", len(starts), map[bool]int{true: 2, false: 1}[back], back)
	}
}

// timeline checks the call's timeline holds want and none of not.
func (w *warmCall) timeline(t *testing.T, want, not []string) {
	t.Helper()
	evs, err := w.ce.store.CallEvents(t.Context(), w.ce.orgA, w.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
		if e.Type == "transfer_requested" && e.Detail["mode"] != "warm" {
			t.Errorf("transfer_requested %v, want mode warm", e.Detail)
		}
	}
	for _, ev := range want {
		if !slices.Contains(types, ev) {
			t.Errorf("timeline %q lacks %s", types, ev)
		}
	}
	for _, ev := range not {
		if slices.Contains(types, ev) {
			t.Errorf("timeline %q has %s", types, ev)
		}
	}
}

// back checks the assistant got transfer_failed with reason and the
// conversation goes on: the caller's audio reaches the assistant again.
func (w *warmCall) back(t *testing.T, reason string) {
	t.Helper()
	if !waitUntil(5*time.Second, func() bool { return len(w.ac.transferFailed()) > 0 }) {
		t.Fatal("no transfer_failed at the assistant")
	}
	if f := w.ac.transferFailed()[0]; f.To != warmTarget || !strings.Contains(f.Reason, reason) {
		t.Errorf("transfer_failed %+v, want to %s, reason with %q", f, warmTarget, reason)
	}
	n := w.ac.mediaCount()
	if !waitUntil(3*time.Second, func() bool { return w.ac.mediaCount() > n+5 }) {
		t.Error("the caller's audio does not reach the assistant after the failed warm transfer")
	}
	w.heldThenBack(t, true)
	if len(w.ce.commandsWith("uuid_bridge ")) != 0 {
		t.Error("a failed warm transfer bridged the caller")
	}
	w.hangupOnce(t)
}

// hangupOnce hangs the caller up: the record closes once, and no channel
// (the target's included) is left.
func (w *warmCall) hangupOnce(t *testing.T) *db.Call {
	t.Helper()
	w.ce.sw.Hangup(w.uuid, "NORMAL_CLEARING")
	rec := w.ce.waitCall(w.uuid, db.CallCompleted, 3*time.Second)
	if !waitUntil(2*time.Second, func() bool { return len(w.ce.sw.Channels()) == 0 }) {
		t.Errorf("channels left: %v", w.ce.sw.Channels())
	}
	// The hangup entry follows the record's update.
	waitUntil(time.Second, func() bool { return len(w.ce.timelineOf(w.rec.ID, "hangup")) > 0 })
	time.Sleep(100 * time.Millisecond)
	if n := len(w.ce.timelineOf(w.rec.ID, "hangup")); n != 1 {
		t.Errorf("%d hangup entries, want 1", n)
	}
	return rec
}

// The assistant briefs the answered target (its audio plays on the
// target's leg, not to the caller, who hears the hold tone), then
// completes: caller and target are bridged and the assistant released.
func TestWarmTransferComplete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		w := startWarm(t, g, nil)
		leg := w.answered(t)
		w.ac.speak(1000, 400)
		if !waitUntil(3*time.Second, func() bool { return toneIn(w.ce.sw.Heard(leg), 1000) }) {
			t.Fatalf("the target did not hear the assistant's briefing; its playbacks %q", w.ce.sw.Playbacks(leg))
		}
		// From the hold on, the caller is played nothing else.
		got := w.ce.sw.Playbacks(w.uuid)
		if i := slices.IndexFunc(got, isHold); i < 0 || slices.ContainsFunc(got[i:], func(p string) bool { return !isHold(p) }) {
			t.Errorf("the caller's playbacks %q: want the hold tone and nothing after it", got)
		}
		// The target's keys reach the assistant too.
		if err := w.ce.sw.SendDTMF(leg, "7"); err != nil {
			t.Fatal(err)
		}
		if !waitUntil(2*time.Second, func() bool { _, _, _, _, dtmf, _, _ := w.ac.snapshot(); return slices.Contains(dtmf, "7") }) {
			t.Error("the target's DTMF did not reach the assistant")
		}
		_ = w.ac.send(map[string]any{"event": "transfer_complete"})
		w.ce.waitCommand("uuid_bridge "+w.uuid+" "+leg, 3*time.Second)
		if w.ce.sw.Bridged(w.uuid) != leg {
			t.Fatalf("caller bridged to %q, want the target %s", w.ce.sw.Bridged(w.uuid), leg)
		}
		select {
		case <-w.ac.closed:
		case <-time.After(2 * time.Second):
			t.Fatal("the assistant's stream stayed open after transfer_complete")
		}
		if _, _, _, _, _, _, stopped := w.ac.snapshot(); !stopped {
			t.Error("the assistant got no stop")
		}
		w.heldThenBack(t, false)
		rec := w.hangupOnce(t)
		if rec.Reason != "transferred to "+warmTarget+" (warm)" {
			t.Errorf("reason %q", rec.Reason)
		}
		w.timeline(t, []string{"transfer_requested", "hold_started", "target_answered", "transfer_completed", "transferred"},
			[]string{"transfer_failed", "transfer_cancelled"})
	})
}

// The assistant cancels after the briefing: the target is hung up and
// the caller is back with the assistant.
func TestWarmTransferCancel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		w := startWarm(t, g, nil)
		leg := w.answered(t)
		_ = w.ac.send(map[string]any{"event": "transfer_cancel"})
		w.ce.waitCommand("uuid_kill "+leg, 3*time.Second)
		w.back(t, "cancelled")
		w.timeline(t, []string{"hold_started", "target_answered", "transfer_cancelled"}, []string{"transfer_completed", "transferred"})
	})
}

// The target declines (486), or rings out on the leg timeout: the caller
// is back with the assistant, told why.
func TestWarmTransferDeclinedOrRingsOut(t *testing.T) {
	for _, c := range []struct {
		name, reason string
		dial         fstest.DialOutcome
	}{
		{"declined", "USER_BUSY", fstest.DialOutcome{Result: fstest.DialBusy}},
		{"rings out", "no answer from", fstest.DialOutcome{Result: fstest.DialNoAnswer}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
				w := startWarm(t, g, &c.dial)
				w.back(t, c.reason)
				w.timeline(t, []string{"hold_started", "transfer_failed"}, []string{"target_answered", "transferred"})
			})
		})
	}
}

// The target hangs up during the briefing: the caller is back with the
// assistant.
func TestWarmTransferTargetHangsUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		w := startWarm(t, g, nil)
		leg := w.answered(t)
		w.ce.sw.Hangup(leg, "NORMAL_CLEARING")
		w.back(t, "the target hung up")
		w.timeline(t, []string{"target_answered", "transfer_failed"}, []string{"transferred"})
	})
}

// The caller hangs up during the briefing: the target is hung up too and
// the record is closed once.
func TestWarmTransferCallerHangsUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		w := startWarm(t, g, nil)
		leg := w.answered(t)
		rec := w.hangupOnce(t)
		if len(w.ce.commandsWith("uuid_kill "+leg)) == 0 {
			t.Errorf("the target's leg was not hung up; commands %q", w.ce.sw.Commands())
		}
		if rec.EndedAt == nil || len(w.ce.commandsWith("uuid_bridge ")) != 0 {
			t.Errorf("record %+v", rec)
		}
		w.timeline(t, []string{"target_answered"}, []string{"transferred", "transfer_completed"})
	})
}

// The assistant hangs up during the briefing: the target was briefed, the
// caller and the target are bridged.
func TestWarmTransferAssistantLeavesBriefed(t *testing.T) {
	w := startWarm(t, nil, nil)
	leg := w.answered(t)
	_ = w.ac.send(map[string]any{"event": "hangup"})
	w.ce.waitCommand("uuid_bridge "+w.uuid+" "+leg, 3*time.Second)
	rec := w.hangupOnce(t)
	if rec.Reason != "transferred to "+warmTarget+" (warm)" {
		t.Errorf("reason %q", rec.Reason)
	}
	w.timeline(t, []string{"target_answered", "transfer_completed"}, []string{"transfer_failed"})
}

// The caller hangs up while the target still rings: the dial is
// cancelled, no leg is left and the record is closed once.
func TestWarmTransferCallerHangsUpWhileRinging(t *testing.T) {
	w := startWarm(t, nil, &fstest.DialOutcome{Result: fstest.DialNoAnswer})
	if !waitUntil(2*time.Second, func() bool { return len(w.ce.sw.DialAttempts()) > 0 }) {
		t.Fatal("no leg dialled")
	}
	w.hangupOnce(t)
	if len(w.ce.commandsWith("hupall ORIGINATOR_CANCEL sipbridge_dial ")) == 0 {
		t.Errorf("the ringing target was not cancelled; commands %q", w.ce.sw.Commands())
	}
	w.timeline(t, []string{"hold_started"}, []string{"target_answered", "transferred"})
}

// The API's mode: warm is taken (the caller goes on hold), an unknown
// mode is refused naming mode.
func TestWarmTransferAPI(t *testing.T) {
	ce := newCallEnv(t)
	ce.loadTrunks()
	ce.allowCountries("CA")
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, _, rec := ce.liveCall()
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": warmTarget, "mode": "lukewarm"}); r.Status != 400 || r.errField() != "mode" {
		t.Fatalf("unknown mode: %d %s", r.Status, r.Raw)
	}
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "sip:alice@pbx.example.com", "mode": "warm"}); r.Status != 400 || r.errField() != "mode" {
		t.Fatalf("warm to a URI without a number: %d %s", r.Status, r.Raw)
	}
	ce.mustDo("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": warmTarget, "mode": "warm"}, 202)
	ce.waitCommand("uuid_audio_stream "+uuid+" stop", 3*time.Second)
	if !waitUntil(3*time.Second, func() bool { return len(ce.timelineOf(rec.ID, "target_answered")) == 1 }) {
		t.Fatalf("the target did not answer; commands %q", ce.sw.Commands())
	}
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": warmTarget, "mode": "warm"}); r.Status != 409 {
		t.Fatalf("a second transfer during the briefing: %d %s", r.Status, r.Raw)
	}
}

// A hold audio file (TRANSFER_HOLD_AUDIO) is played again each time it
// ends while the caller waits (the target ringing, then being briefed),
// and no more once the transfer is over.
func TestWarmTransferHoldFileLoops(t *testing.T) {
	hold := filepath.Join(t.TempDir(), "hold.wav")
	if err := os.WriteFile(hold, audiofile.WAV(8000, tone.Generate(600, 8000, 200, 8000)), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWarm(t, nil, nil, func(o *sip.CallsOptions) { o.HoldAudio = hold })
	holds := func() int {
		return len(slices.DeleteFunc(w.ce.sw.Playbacks(w.uuid), func(p string) bool { return p != hold }))
	}
	w.answered(t)
	if !waitUntil(3*time.Second, func() bool { return holds() >= 4 }) {
		t.Fatalf("the 200 ms hold file played %d times, want it again and again: %q", holds(), w.ce.sw.Playbacks(w.uuid))
	}
	_ = w.ac.send(map[string]any{"event": "transfer_complete"})
	w.ce.waitCommand("uuid_bridge "+w.uuid, 3*time.Second)
	time.Sleep(100 * time.Millisecond)
	n := holds()
	time.Sleep(500 * time.Millisecond)
	if holds() != n {
		t.Fatalf("the hold file went on after the transfer: %d plays, then %d", n, holds())
	}
	if len(w.ce.timelineOf(w.rec.ID, "hold_started")) != 1 || w.ce.timelineOf(w.rec.ID, "hold_started")[0]["audio"] != hold {
		t.Errorf("hold_started %v, want the file", w.ce.timelineOf(w.rec.ID, "hold_started"))
	}
}

// isHold tells the default hold tone's playback path.
func isHold(path string) bool { return strings.Contains(transfer.DefaultHold, path) }

// toneIn tells whether pcm (8 kHz) holds 200 ms of freq somewhere.
func toneIn(pcm []int16, freq float64) bool {
	for i := 0; i+1600 <= len(pcm); i += 160 {
		w := pcm[i : i+1600]
		if tone.RMS(w) > 300 && tone.DominantFrequency(w, 8000, 440, 600, freq) == freq {
			return true
		}
	}
	return false
}

// A provider-hosted call has no warm transfer: the API answers 501
// naming mode, the assistant gets transfer_failed and keeps the caller;
// no transfer reaches the provider.
func TestWarmTransferHosted(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA00000000000000000000000000000031"
	rec, _, ac := twilioStreamedCall(t, he, sid, "MZ31")
	if r := he.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", he.keyA, map[string]any{"to": warmTarget, "mode": "warm"}); r.Status != 501 || r.errField() != "mode" {
		t.Fatalf("warm on a hosted call: %d %s", r.Status, r.Raw)
	}
	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": warmTarget, "mode": "warm"}})
	if !waitUntil(2*time.Second, func() bool { return len(ac.transferFailed()) > 0 }) {
		t.Fatal("the assistant was not told transfer_failed")
	}
	if f := ac.transferFailed()[0]; f.To != warmTarget || !strings.Contains(f.Reason, "warm") {
		t.Fatalf("transfer_failed %+v", f)
	}
	if _, ok := he.twilio.WaitCallUpdate(sid, "Twiml", 200*time.Millisecond); ok {
		t.Fatalf("a warm transfer reached Twilio: %+v", he.twilio.CallUpdates())
	}
	select {
	case <-ac.closed:
		t.Fatal("the assistant's stream was closed")
	default:
	}
}

package amdwatch

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/sipbridge/sipbridge/audio/amd"
	"github.com/sipbridge/sipbridge/audio/amd/amdtest"
	"github.com/sipbridge/sipbridge/call"
)

// feed renders an answer and feeds it to a new watch with action in
// 20 ms frames (640 bytes, as mod_audio_stream sends them), returning the
// reports, the rendering, and the frame after which the watch was done
// (-1: never).
func feed(t *testing.T, action string, a amdtest.Answer) ([]Report, amdtest.Rendered, int) {
	t.Helper()
	r, err := a.Render()
	if err != nil {
		t.Fatal(err)
	}
	var got []Report
	w, err := New(action, func(rep Report) { got = append(got, rep) })
	if err != nil {
		t.Fatal(err)
	}
	le, doneAt := r.L16(), -1
	for i := 0; i+640 <= len(le); i += 640 {
		w.Feed(le[i : i+640])
		if doneAt < 0 && w.Done() {
			doneAt = i / 640
		}
	}
	return got, r, doneAt
}

// TestDecisionAndActions: a voicemail greeting is reported once as a
// machine (with a hangup for amd_action hangup), a "Hello?" as a human
// (never hung up); without wait_beep the watch stops at the decision.
func TestDecisionAndActions(t *testing.T) {
	machine := amdtest.Answer{Greeting: "machine_mark", LeadMS: 300, BeepGapMS: 300, BeepMS: 400, TailMS: 2000}
	human := amdtest.Answer{Greeting: "human_hello_us", LeadMS: 300, TailMS: 4000}
	for _, c := range []struct {
		action string
		a      amdtest.Answer
		want   amd.Result
		hangup bool
	}{
		{"", machine, amd.Machine, false},
		{call.AMDNone, machine, amd.Machine, false},
		{call.AMDHangup, machine, amd.Machine, true},
		{call.AMDHangup, human, amd.Human, false},
		{call.AMDWaitBeep, human, amd.Human, false},
		{call.AMDNone, amdtest.Answer{TailMS: 6000}, amd.Unknown, false},
	} {
		got, r, doneAt := feed(t, c.action, c.a)
		if len(got) != 1 || got[0].Result != c.want || got[0].Hangup != c.hangup || got[0].BeepReport {
			t.Errorf("%q %s: reports %+v, want one %s (hangup %v)", c.action, c.a.Greeting, got, c.want, c.hangup)
			continue
		}
		rep := got[0]
		if c.want != amd.Unknown && (rep.MS < 300 || rep.MS > r.GreetingEnd+800) {
			t.Errorf("%q %s: decided at %d ms (greeting 300–%d ms)", c.action, c.a.Greeting, rep.MS, r.GreetingEnd)
		}
		if doneAt != rep.MS/amd.FrameMS-1 {
			t.Errorf("%q %s: done after frame %d, decided at %d ms: want done at the decision", c.action, c.a.Greeting, doneAt, rep.MS)
		}
	}
}

// TestWaitBeep: amd_action wait_beep on a voicemail reports the machine,
// then the beep once it has ended; a voicemail without a beep is reported
// beep false once amd.DefaultBeepWait of audio has passed.
func TestWaitBeep(t *testing.T) {
	got, r, doneAt := feed(t, call.AMDWaitBeep, amdtest.Answer{Greeting: "machine_office_f", LeadMS: 500, BeepGapMS: 600, BeepMS: 300, BeepHz: 850, TailMS: 3000})
	if len(got) != 2 || got[0].Result != amd.Machine || got[0].BeepReport || !got[1].BeepReport || !got[1].Beep || got[1].Hangup {
		t.Fatalf("reports %+v, want the machine, then its beep", got)
	}
	b := got[1]
	if b.MS < r.BeepEnd || b.MS > r.BeepEnd+100 || b.Tone.MS < r.BeepAt-40 || b.Tone.MS > r.BeepAt+40 || int(b.Tone.Hz+0.5) < 830 || int(b.Tone.Hz+0.5) > 870 {
		t.Errorf("beep report %+v; the beep played %d–%d ms at 850 Hz", b, r.BeepAt, r.BeepEnd)
	}
	if doneAt != b.MS/amd.FrameMS-1 {
		t.Errorf("done after frame %d, the beep reported at %d ms", doneAt, b.MS)
	}

	got, _, _ = feed(t, call.AMDWaitBeep, amdtest.Answer{Greeting: "machine_number_gb", LeadMS: 300, TailMS: 28000})
	wait := int(amd.DefaultBeepWait.Milliseconds())
	if len(got) != 2 || !got[1].BeepReport || got[1].Beep || got[1].MS != wait {
		t.Fatalf("reports %+v, want the machine, then no beep at %d ms", got, wait)
	}
}

// TestReportShapes: what the assistant and the timeline are told.
func TestReportShapes(t *testing.T) {
	for _, c := range []struct {
		r           Report
		message, tl string
	}{
		{Report{Result: amd.Machine, Cause: amd.CauseLongGreeting, MS: 2300, Hangup: true},
			`{"result":"machine","ms":2300}`, `{"action":"hangup","cause":"long_greeting","ms":2300,"result":"machine"}`},
		{Report{Result: amd.Human, Cause: amd.CauseShortGreeting, MS: 1400},
			`{"result":"human","ms":1400}`, `{"cause":"short_greeting","ms":1400,"result":"human"}`},
		{Report{Result: amd.Machine, MS: 5120, BeepReport: true, Beep: true, Tone: amd.Beep{MS: 4780, DurationMS: 300, Hz: 849.7}},
			`{"result":"machine","beep":true,"ms":5120}`, `{"beep":true,"beep_duration_ms":300,"beep_hz":850,"beep_start_ms":4780,"ms":5120,"result":"machine"}`},
		{Report{Result: amd.Machine, MS: 30000, BeepReport: true},
			`{"result":"machine","beep":false,"ms":30000}`, `{"beep":false,"ms":30000,"result":"machine"}`},
	} {
		m, _ := json.Marshal(c.r.Message())
		d, _ := json.Marshal(c.r.Detail())
		if string(m) != c.message || string(d) != c.tl {
			t.Errorf("%+v: message %s timeline %s, want %s and %s", c.r, m, d, c.message, c.tl)
		}
	}
}

// TestFeedFromTwoReaders: a stream restart's reader may overlap the old
// one's last frames; the watch still decides once. A nil watch (amd off)
// takes frames too.
func TestFeedFromTwoReaders(t *testing.T) {
	r, err := amdtest.Answer{Greeting: "machine_mark", LeadMS: 300, TailMS: 1000}.Render()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []Report
	w, _ := New(call.AMDHangup, func(rep Report) { mu.Lock(); got = append(got, rep); mu.Unlock() })
	le := r.L16()
	var wg sync.WaitGroup
	for half := range 2 {
		wg.Go(func() {
			for i := half * 640; i+640 <= len(le); i += 1280 {
				w.Feed(le[i : i+640])
			}
		})
	}
	wg.Wait()
	if len(got) != 1 || !w.Done() {
		t.Errorf("reports %+v (done %v), want one decision", got, w.Done())
	}
	var off *Watch
	off.Feed(le[:640])
	if !off.Done() {
		t.Error("a nil watch is not done")
	}
}

// TestNewRefusesUnknownAction: only call.AMDActions (and "") start a watch.
func TestNewRefusesUnknownAction(t *testing.T) {
	if w, err := New("voicemail", func(Report) {}); w != nil || err == nil {
		t.Error("an unknown amd_action was taken")
	}
}

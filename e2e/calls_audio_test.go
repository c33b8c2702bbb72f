package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"caller_audio", testCallerAudio})
}

// callerTone is the caller's test tone: 1004 Hz, telephony's milliwatt
// test frequency (not a divisor of 8000, so no two frames are alike).
const callerTone = 1004.0

// testCallerAudio: what the caller says reaches the assistant, also while
// the assistant speaks. sipp plays RTP from a capture made here (1 s of
// silence, 3 s of a 1004 Hz tone, then the RFC 4733 digits 7 and #); when
// the tone starts the assistant answers with 2.5 s of its own 1000 Hz
// (barge-in: both talk at once). The assistant hears the caller's tone on
// ≥ 98 % of the 20 ms frames from the first to the last that carry it (a
// playback start that zeroes caller frames, as each file of
// PLAYBACK_MODE=files does, fails this), for the tone's whole length (150
// frames, ±3), and gets a `dtmf` event for each digit in order; the call's
// timeline records them.
func testCallerAudio(t *testing.T, b *Bridge) {
	requireRawSocket(t)
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Audio Ear", asst, nil)
	tr := b.ipTrunk(t, "Audio PBX", srcAudio, srcAudio+":5060", nil)
	b.addNumberOn(t, "+16478493000", asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	const toneFor = 3 * time.Second
	track := newRTPTrack().Silence(time.Second).Tone(callerTone, toneFor).Silence(300*time.Millisecond).
		DTMF('7', 120*time.Millisecond).Silence(200*time.Millisecond).DTMF('#', 120*time.Millisecond).Silence(500 * time.Millisecond)
	pcap := writeTrack(t, "caller-tone-dtmf.pcap", track)
	c := toUser("+14165550401", "+16478493000")
	c.PCAP, c.HoldMs = pcap, int((track.Duration() + 300*time.Millisecond).Milliseconds())
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcAudio, Remote: b.SW.remote(), Calls: 1, Timeout: 20 * time.Second, Data: c})

	ac := asst.ByParam(t, "from", "+14165550401", 5*time.Second)
	testkit.Eventually(t, 5*time.Second, "the caller's tone at the assistant", func() bool {
		return analyseTone(ac.Audio(), callerTone).Span() > 0
	}, nil)
	if err := speakBurst(ac, toneHz, 2500); err != nil {
		t.Fatal(err)
	}
	if code := uac.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	testkit.Eventually(t, 5*time.Second, "the stream's stop", ac.Stopped, nil)
	run := analyseTone(ac.Audio(), callerTone)
	want := int(toneFor / frame20ms)
	t.Logf("the assistant heard: %s", run)
	if run.Ratio() < 0.98 || run.Span() < want-3 || run.Span() > want+3 {
		t.Errorf("the assistant heard %s; want the %.0f Hz tone on ≥ 98 %% of a run of %d±3 frames", run, callerTone, want)
	}
	if got := ac.DTMF(); !slices.Equal(got, []string{"7", "#"}) {
		t.Errorf("the assistant got dtmf %q, want [7 #] (events %q)", got, ac.Events())
	}
	rec := b.waitRecord(t, "the call record closed", 5*time.Second, func(c CallRecord) bool { return c.From == "+14165550401" && c.EndedAt != nil })
	var digits []string
	for _, e := range b.callEvents(t, rec.ID) {
		if e.Type == "dtmf" {
			d, _ := e.Detail["digit"].(string)
			digits = append(digits, d)
		}
	}
	if !slices.Equal(digits, []string{"7", "#"}) {
		t.Errorf("the call's timeline has dtmf %q, want [7 #]", digits)
	}
}

package e2e

import (
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
)

// testAssistantAudioLoop: an answered call carries audio both ways through
// the real switch. The caller (sipp) echoes every RTP packet it receives, so
// a 1000 Hz tone the assistant speaks (SpeakTone, μ-law in real time) is
// played to the caller by FreeSWITCH and comes back to the assistant as the
// caller's audio; before it speaks the assistant hears no tone.
func testAssistantAudioLoop(t *testing.T, b *Bridge) {
	sw := b.SW
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Echo Listener", asst, nil)
	pbx := b.CreateTrunk(t, map[string]any{"name": "PBX Echo", "gateway": "127.0.0.9:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.9/32"}})
	b.AddNumber(t, "+16478491002", asstID, pbx.ID)
	b.WaitApplied(t, pbx.ID, 10*time.Second)

	uac := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: "127.0.0.9", Remote: sw.remote(), Calls: 1, Timeout: 30 * time.Second,
		Data: call{From: "+14165550109", To: "+16478491002"}, Args: []string{"-rtp_echo"}})
	ac := asst.Next(t, 10*time.Second)
	rec := b.WaitCall(t, "the call in progress", 10*time.Second, func(c Call) bool { return c.ResolvedDID == "+16478491002" && c.Status == "in-progress" })
	if got := ac.Param("to"); got != "+16478491002" {
		t.Errorf("start.customParameters.to = %q", got)
	}
	waitFor(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 25 }, nil)
	quiet := ac.Audio()
	if lvl := assistant.ToneLevel(quiet, 8000, 1000); lvl > 300 {
		t.Errorf("before the assistant speaks it already hears 1000 Hz at level %.0f", lvl)
	}

	spoke := time.Now()
	if err := ac.SpeakTone(1000, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var heard []int16
	waitFor(t, 5*time.Second, "the assistant's own 1000 Hz tone back through the caller's echo", func() bool {
		audio := ac.Audio()
		heard = audio[len(quiet):]
		return len(heard) >= 4000 && assistant.DominantFrequency(heard, 8000, 440, 1000, 2000) == 1000 &&
			assistant.ToneLevel(heard, 8000, 1000) > 1000
	}, func() string {
		return "level " + jsonString(assistant.ToneLevel(heard, 8000, 1000)) + " over " + jsonString(len(heard)) + " samples"
	})
	t.Logf("the tone came back within %v (level %.0f)", time.Since(spoke).Round(10*time.Millisecond), assistant.ToneLevel(heard, 8000, 1000))

	b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, 202, nil)
	if code := uac.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
}

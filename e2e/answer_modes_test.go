package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// An assistant's answer_mode and welcome_audio on the real switch, heard
// at the caller's RTP port (testdata/uac-rtp-sink.xml).
func init() {
	addScenario(scenario{"early_ringback", testEarlyRingback}, scenario{"welcome_audio", testWelcomeAudio})
}

// testEarlyRingback: answer_mode early_ringback. sipp gets a 183 with SDP
// before the 200 OK and the caller hears the ringback in between, then the
// assistant; once with an assistant slow to connect (600 ms), once with one
// that connects at once (the ringback is stopped as it starts).
func testEarlyRingback(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asst.OnStart = speakThenHangUp(300)
	asstID := b.CreateAssistant(t, "Early Ringback", asst, map[string]any{"answer_mode": "early_ringback"})
	pbx := b.CreateTrunk(t, map[string]any{"name": "PBX Ringback", "gateway": "127.0.0.5:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.5/32"}})
	b.AddNumber(t, "+16478492018", asstID, pbx.ID)
	b.WaitApplied(t, pbx.ID, 10*time.Second)
	b.SW.WaitQuiet(t, 300*time.Millisecond, 10*time.Second)

	for _, delay := range []time.Duration{600 * time.Millisecond, 0} {
		asst.AcceptDelay = delay
		c := placeSinkCall(t, b, "+14165550118", "+16478492018")
		c.wait(t)
		invite, ok, progress, sdp := sippCallTimes(c.uac)
		ring, heard := c.sink.first(sinkRingback), c.sink.first(sinkAssist)
		t.Logf("assistant connecting in %v: 183 %v after the INVITE (SDP %v), 200 OK %v after it; ringback from %v, the assistant %v after the 200 OK; heard %s",
			delay, progress.Sub(invite).Round(time.Millisecond), sdp, ok.Sub(invite).Round(time.Millisecond),
			ring.Sub(invite).Round(time.Millisecond), heard.Sub(ok).Round(time.Millisecond), c.sink.runs())
		if progress.IsZero() || !sdp || !progress.Before(ok) {
			t.Fatalf("want a 183 with SDP before the 200 OK: 183 %v (SDP %v), 200 %v", progress, sdp, ok)
		}
		if heard.IsZero() || heard.Before(ok) {
			t.Fatalf("the assistant was not heard after the answer: %s", c.sink.runs())
		}
		if delay > 0 && (ring.IsZero() || !ring.Before(ok) || ok.Sub(ring) < delay/2) {
			t.Fatalf("want the ringback heard before the 200 OK while the assistant connects (%v): ringback at %v, 200 at %v", delay, ring, ok)
		}
		if p := c.sink.countAfter(sinkRingback, ok.Add(60*time.Millisecond)); p > 0 {
			t.Fatalf("the ringback went on %d packets after the answer: %s", p, c.sink.runs())
		}
	}
}

// testWelcomeAudio: welcome_audio plays from the answer and the
// assistant, which speaks at once, is heard after it.
func testWelcomeAudio(t *testing.T, b *Bridge) {
	dir := filepath.Join(b.Dir, "var", "welcome") // WELCOME_AUDIO_DIR's default under SIPBRIDGE_VAR_DIR
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello.wav"), audiofile.WAV(8000, tone.Generate(sinkWelcome, 8000, 500, 8000)), 0o644); err != nil {
		t.Fatal(err)
	}
	asst := StartAssistant(t)
	asst.OnStart = speakThenHangUp(300)
	asstID := b.CreateAssistant(t, "Welcome Audio", asst, map[string]any{"welcome_audio": "hello.wav"})
	pbx := b.CreateTrunk(t, map[string]any{"name": "PBX Welcome", "gateway": "127.0.0.5:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.5/32"}})
	b.AddNumber(t, "+16478492019", asstID, pbx.ID)
	b.WaitApplied(t, pbx.ID, 10*time.Second)
	b.SW.WaitQuiet(t, 300*time.Millisecond, 10*time.Second)

	c := placeSinkCall(t, b, "+14165550119", "+16478492019")
	c.wait(t)
	_, ok, _, _ := sippCallTimes(c.uac)
	welcome, heard := c.sink.first(sinkWelcome), c.sink.first(sinkAssist)
	t.Logf("after the 200 OK: the welcome audio from %v, the assistant from %v; heard %s",
		welcome.Sub(ok).Round(time.Millisecond), heard.Sub(ok).Round(time.Millisecond), c.sink.runs())
	if welcome.IsZero() || heard.IsZero() || !welcome.Before(heard) {
		t.Fatalf("want the welcome audio, then the assistant: %s", c.sink.runs())
	}
	if n := c.sink.count(sinkWelcome); n < 22 {
		t.Errorf("the welcome audio was heard for %d packets, want its 500 ms (25)", n)
	}
	if n := c.sink.countAfter(sinkWelcome, heard); n > 0 {
		t.Errorf("the welcome audio went on (%d packets) after the assistant was heard: %s", n, c.sink.runs())
	}
	if n := c.sink.count(sinkAssist); n < 13 {
		t.Errorf("the assistant's 300 ms were heard for %d packets, want ≥ 13: %s", n, c.sink.runs())
	}
}

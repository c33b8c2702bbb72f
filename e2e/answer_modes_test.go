package e2e

import (
	"fmt"
	"net/http"
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
	addScenario(scenario{"early_ringback", testEarlyRingback}, scenario{"welcome_audio", testWelcomeAudio},
		scenario{"welcome_audio_outbound", testWelcomeAudioOutbound})
}

// srcWelcomeOut lets in the carrier of welcome_audio_outbound (unused
// inbound, but every IP-auth trunk names its addresses).
const srcWelcomeOut = "127.0.0.23"

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
	writeWelcome(t, b)
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
	checkWelcomeHeard(t, c.sink, ok)
}

// writeWelcome writes hello.wav, 500 ms of the welcome tone, under the
// bridge's WELCOME_AUDIO_DIR.
func writeWelcome(t *testing.T, b *Bridge) {
	t.Helper()
	dir := filepath.Join(b.Dir, "var", "welcome") // WELCOME_AUDIO_DIR's default under SIPBRIDGE_VAR_DIR
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello.wav"), audiofile.WAV(8000, tone.Generate(sinkWelcome, 8000, 500, 8000)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkWelcomeHeard: the sink heard the whole welcome audio from the
// answer (ok: the 200 OK), then the assistant's 300 ms, and nothing of
// the welcome audio after the assistant began.
func checkWelcomeHeard(t *testing.T, sink *rtpSink, ok time.Time) {
	t.Helper()
	welcome, heard := sink.first(sinkWelcome), sink.first(sinkAssist)
	t.Logf("after the 200 OK: the welcome audio from %v, the assistant from %v; heard %s",
		welcome.Sub(ok).Round(time.Millisecond), heard.Sub(ok).Round(time.Millisecond), sink.runs())
	if welcome.IsZero() || heard.IsZero() || !welcome.Before(heard) {
		t.Fatalf("want the welcome audio, then the assistant: %s", sink.runs())
	}
	if n := sink.count(sinkWelcome); n < 22 {
		t.Errorf("the welcome audio was heard for %d packets, want its 500 ms (25)", n)
	}
	if n := sink.countAfter(sinkWelcome, heard); n > 0 {
		t.Errorf("the welcome audio went on (%d packets) after the assistant was heard: %s", n, sink.runs())
	}
	if n := sink.count(sinkAssist); n < 13 {
		t.Errorf("the assistant's 300 ms were heard for %d packets, want ≥ 13: %s", n, sink.runs())
	}
}

// testWelcomeAudioOutbound: on a call the assistant places, the callee
// hears the welcome audio from its answer, then the assistant (which
// speaks the moment its stream starts, then hangs up). The callee is
// sipp; its answer's SDP names a port the test listens on.
func testWelcomeAudioOutbound(t *testing.T, b *Bridge) {
	writeWelcome(t, b)
	asst := StartAssistant(t)
	asst.OnStart = speakThenHangUp(300)
	asstID := b.CreateAssistant(t, "Welcome Outbound", asst, map[string]any{"welcome_audio": "hello.wav"})
	sink := startRTPSink(t, "127.0.0.1")
	callee := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 1, Timeout: 30 * time.Second,
		Data: uasData{Code: 200, MediaPort: sink.port()}})
	go sink.talkTo(callee, "INVITE ")
	tr := b.ipTrunk(t, "Welcome Out", srcWelcomeOut, fmt.Sprintf("%s:%d", callee.IP, callee.Port), nil)
	const from, to = "+16478495023", "+12125550623"
	b.addNumberOn(t, from, asstID, tr.ID)
	b.SW.WaitQuiet(t, 300*time.Millisecond, 10*time.Second)

	var res struct {
		CallID string `json:"call_id"`
	}
	b.API.Call(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": to, "wait": true}, http.StatusOK, &res)
	if code := callee.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("the callee's sipp exited %d (%s): %s", code, sippExit(code), callee.Report())
	}
	sink.conn.Close()
	ok := sippSentAt(callee, "SIP/2.0 200")
	if ok.IsZero() {
		t.Fatalf("no 200 OK in the callee's trace: %s", callee.Messages())
	}
	checkWelcomeHeard(t, sink, ok)
	if first := sink.first(sinkWelcome); first.Before(ok) {
		t.Errorf("the welcome audio was heard %v before the answer", ok.Sub(first))
	}
	b.WaitCall(t, "the record completed", 5*time.Second, func(c Call) bool { return c.ID == res.CallID && c.EndedAt != nil })
	var played bool
	for _, e := range b.callEvents(t, res.CallID) {
		played = played || e.Type == "welcome_audio" && e.Detail["file"] == "hello.wav" && e.Detail["skipped"] == nil
	}
	if !played {
		t.Errorf("timeline %q: want welcome_audio for hello.wav, played", eventTypes(b.callEvents(t, res.CallID)))
	}
}

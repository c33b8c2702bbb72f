package web_test

import (
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/internal/tone"
)

func decodeMulaw(frames [][]byte) []int16 {
	var pcm []int16
	for _, f := range frames {
		pcm = audio.AppendMulawDecode(pcm, f)
	}
	return pcm
}

// The end-to-end path: a PBX INVITE to extension 9228 with a
// Diversion reaches the assistant of +16478491000, which hears the caller's
// tone as μ-law 8 kHz every 20 ms, speaks back (::play + sendmsg playback),
// gets its mark after playback, is barged in on (clear → uuid_break), gets
// DTMF, and the call leaves a complete record and a recording only its
// organization can download.
func TestInboundCallReachesAssistant(t *testing.T) {
	ce := newCallEnv(t)
	ce.assistant.RecordingEnabled = true
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.addNumber("+16478491010", ce.assistant.ID) // 9228 alone would be ambiguous: the Diversion decides

	call := ce.pbxCall(map[string][]string{
		"Diversion":    {"<sip:+16478491000@pbx.example.com>;reason=unconditional"},
		"X-Custom-Tag": {"abc123"},
	})
	uuid, err := ce.sw.Call(call)
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)

	// 1. The caller's audio: μ-law 8 kHz, 160 bytes every 20 ms, 440 Hz.
	if !waitUntil(4*time.Second, func() bool { return ac.mediaCount() >= 60 }) {
		t.Fatalf("assistant got %d media messages; logs:\n%s", ac.mediaCount(), tail(ce.logs.String(), 4000))
	}
	events, media, stamps, _, _, start, _ := ac.snapshot()
	if events[0] != "connected" || events[1] != "start" {
		t.Fatalf("first messages %v, want connected, start", events[:2])
	}
	params, _ := start["customParameters"].(map[string]any)
	want := map[string]string{"from": "+14165550100", "to": "+16478491000", "direction": "inbound", "call_sid": uuid,
		"call_id":      ce.waitCall(uuid, db.CallInProgress, time.Second).ID,
		"assistant_id": ce.assistant.ID, "welcome_message": "Hello from Acme", "X-Custom-Tag": "abc123"}
	for k, v := range want {
		if params[k] != v {
			t.Errorf("customParameters[%q] = %v, want %q (all: %v)", k, params[k], v, params)
		}
	}
	mf, _ := start["mediaFormat"].(map[string]any)
	if mf["encoding"] != "audio/x-mulaw" || mf["sampleRate"] != float64(8000) || mf["channels"] != float64(1) {
		t.Errorf("mediaFormat %v", mf)
	}
	for i, m := range media {
		if len(m) != 160 {
			t.Fatalf("media %d has %d bytes, want 160 (20 ms of μ-law 8 kHz)", i, len(m))
		}
	}
	// Cadence: the timestamps advance 20 ms a frame, as the frames arrive.
	var gaps []int
	for i := 1; i < len(stamps); i++ {
		gaps = append(gaps, stamps[i]-stamps[i-1])
	}
	slices.Sort(gaps)
	if med := gaps[len(gaps)/2]; med < 15 || med > 25 {
		t.Fatalf("median media gap %d ms, want ≈20 (gaps %v)", med, gaps)
	}
	pcm := decodeMulaw(media[10:])
	if f := tone.DominantFrequency(pcm, 8000, 300, 440, 660, 1000, 2000, 3400); f != 440 {
		t.Fatalf("the assistant hears %v Hz, want the caller's 440 Hz", f)
	}

	// 2. The assistant speaks: 600 ms of 1000 Hz then a mark.
	ac.speak(1000, 600)
	_ = ac.send(map[string]any{"event": "mark", "streamSid": "MZ1", "mark": map[string]any{"name": "greeting-done"}})
	ce.waitCommand("sendmsg "+uuid+" execute playback ", 3*time.Second)
	if !waitUntil(4*time.Second, func() bool { _, _, _, marks, _, _, _ := ac.snapshot(); return slices.Contains(marks, "greeting-done") }) {
		t.Fatalf("the mark did not come back after playback; commands %q", ce.sw.Commands())
	}
	heard := ce.sw.Heard(uuid)
	if len(heard) < 8000*5/10 {
		t.Fatalf("the caller heard %d samples of the 600 ms reply", len(heard))
	}
	if f := tone.DominantFrequency(heard, 8000, 440, 1000, 2000); f != 1000 {
		t.Fatalf("the caller hears %v Hz, want the assistant's 1000 Hz", f)
	}
	for _, c := range ce.commandsWith("sendmsg " + uuid + " execute playback ") {
		if !strings.HasSuffix(c, ".tmp.r8") {
			t.Fatalf("playback %q is not a streamAudio file", c)
		}
	}

	// 3. Barge-in: a long reply, cleared while it plays.
	before := len(ce.sw.Heard(uuid))
	ac.speak(1000, 4000)
	n := len(ce.commandsWith("sendmsg " + uuid + " execute playback "))
	if !waitUntil(3*time.Second, func() bool { return len(ce.commandsWith("sendmsg "+uuid+" execute playback ")) > n }) {
		t.Fatal("the long reply was not played")
	}
	time.Sleep(300 * time.Millisecond)
	_ = ac.send(map[string]any{"event": "clear", "streamSid": "MZ1"})
	ce.waitCommand("uuid_break "+uuid+" all", 2*time.Second)
	time.Sleep(1500 * time.Millisecond)
	if got := len(ce.sw.Heard(uuid)) - before; got >= 8000*3 {
		t.Fatalf("after clear the caller still heard %d samples of a 4 s reply", got)
	}

	// 4. DTMF reaches the assistant.
	if err := ce.sw.SendDTMF(uuid, "5#"); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, d, _, _ := ac.snapshot(); return len(d) == 2 }) {
		t.Fatal("DTMF did not reach the assistant")
	}
	if _, _, _, _, d, _, _ := ac.snapshot(); d[0] != "5" || d[1] != "#" {
		t.Fatalf("dtmf %v", d)
	}

	// 5. The caller hangs up: stop to the assistant, a closed record.
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	rec := ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
	if rec.HangupCause != "NORMAL_CLEARING" || rec.AnsweredAt == nil || rec.ResolvedDID != "+16478491000" || rec.DIDSource != "diversion" {
		t.Fatalf("record %+v", rec)
	}
	select {
	case <-ac.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the assistant's websocket outlived the call")
	}
	if _, _, _, _, _, _, stopped := ac.snapshot(); !stopped {
		t.Fatal("the assistant got no stop")
	}
	if !waitUntil(2*time.Second, func() bool { return ce.calls.Active() == 0 && callGoroutines() == "" }) {
		t.Fatalf("%d sessions still live; goroutines of the call:\n%s", ce.calls.Active(), callGoroutines())
	}
	r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
	for _, ev := range []string{"routed", "assistant_connected", "answered", "recording_started", "stream_connected", "dtmf", "hangup"} {
		if !strings.Contains(r.Raw, `"type":"`+ev+`"`) {
			t.Errorf("timeline lacks %s: %s", ev, r.Raw)
		}
	}

	// 6. The recording: a stereo WAV for its organization only.
	res := ce.getRaw("/api/v1/calls/"+rec.ID+"/recording", ce.keyA)
	if res.status != 200 || !strings.HasPrefix(res.body, "RIFF") || res.body[8:12] != "WAVE" {
		t.Fatalf("recording: %d %q", res.status, tail(res.body, 64))
	}
	if ch := uint16(res.body[22]) | uint16(res.body[23])<<8; ch != 2 {
		t.Fatalf("recording has %d channels, want 2 (caller left, assistant right)", ch)
	}
	if res := ce.getRaw("/api/v1/calls/"+rec.ID+"/recording", ce.keyB); res.status != 404 {
		t.Fatalf("org B downloads org A's recording: %d", res.status)
	}
}

// callGoroutines returns the stacks of goroutines still running call
// control code (a session, a stream reader, a bridge originate), "" when
// none: none may outlive its call.
func callGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "sipbridge/call/sip.(*callSession)") || strings.Contains(g, "sipbridge/call/sip.(*streamSink)") ||
			strings.Contains(g, "sipbridge/assistant.(*Stream)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

type rawResp struct {
	status int
	body   string
}

func (ce *callEnv) getRaw(path, key string) rawResp {
	ce.t.Helper()
	req, _ := http.NewRequest("GET", ce.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ce.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawResp{res.StatusCode, string(b)}
}

// The assistant drops mid-call: the call goes to the assistant's fallback
// number (a sip: URI: REFER without the inbound headers) within 2 s.
func TestAssistantDroppedMidCallTransfersToFallback(t *testing.T) {
	ce := newCallEnv(t)
	ce.assistant.FallbackTransferNumber = "sip:+12125557654@pbx.example.com"
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() > 10 }) {
		t.Fatal("no media")
	}
	dropped := time.Now()
	_ = ac.ws.Close()
	cmd := ce.waitCommand("uuid_deflect "+uuid+" ", 2*time.Second)
	if time.Since(dropped) > 2*time.Second || !strings.HasSuffix(cmd, " sip:+12125557654@pbx.example.com") {
		t.Fatalf("fallback %q after %v", cmd, time.Since(dropped))
	}
	if c := ce.commandsWith("uuid_setvar " + uuid + " exclude_outgoing_extra_header"); len(c) == 0 {
		t.Fatal("the inbound headers were not excluded from the REFER")
	}
	rec := ce.waitCall(uuid, db.CallCompleted, 5*time.Second)
	r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
	for _, ev := range []string{"assistant_disconnected", "fallback_transfer", "refer_accepted"} {
		if !strings.Contains(r.Raw, `"type":"`+ev+`"`) {
			t.Errorf("timeline lacks %s: %s", ev, r.Raw)
		}
	}
}

// mod_audio_stream failing mid-call: the stream is restarted once with a
// new token, and a second failure ends the call cleanly.
func TestAudioStreamFailureRestartsOnceThenEnds(t *testing.T) {
	ce := newCallEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() > 10 }) {
		t.Fatal("no media")
	}
	first := ce.commandsWith("uuid_audio_stream " + uuid + " start")
	if !ce.sw.BreakStream(uuid) {
		t.Fatal("BreakStream found no stream")
	}
	if !waitUntil(3*time.Second, func() bool { return len(ce.commandsWith("uuid_audio_stream "+uuid+" start")) == 2 }) {
		t.Fatalf("stream not restarted: %q", ce.sw.Commands())
	}
	starts := ce.commandsWith("uuid_audio_stream " + uuid + " start")
	if starts[1] == first[0] {
		t.Fatal("the restarted stream reuses the old token")
	}
	n := ac.mediaCount()
	if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() > n+10 }) {
		t.Fatal("no caller audio after the restart")
	}
	if !waitUntil(2*time.Second, func() bool { return ce.sw.BreakStream(uuid) }) {
		t.Fatal("no stream to break the second time")
	}
	ce.waitCommand("uuid_kill "+uuid+" NORMAL_CLEARING", 3*time.Second)
	rec := ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
	if !strings.Contains(rec.Reason, "audio stream failed") {
		t.Fatalf("reason %q", rec.Reason)
	}
}

// A mod_audio_stream websocket with a wrong token is refused before the
// upgrade.
func TestStreamEndpointRefusesBadToken(t *testing.T) {
	ce := newCallEnv(t)
	res := ce.getRaw("/fs/stream/00000000-0000-0000-0000-000000000000/?token=nope", "")
	if res.status != 403 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
}

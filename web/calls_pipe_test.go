package web_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// toneRuns returns the runs of freq in pcm (8 kHz) as [start, end) in
// 10 ms windows.
func toneRuns(pcm []int16, freq float64) [][2]int {
	var runs [][2]int
	in := false
	for w := 0; (w+1)*80 <= len(pcm); w++ {
		win := pcm[w*80 : (w+1)*80]
		on := tone.RMS(win) > 500 && tone.DominantFrequency(win, 8000, 440, freq) == freq
		switch {
		case on && !in:
			runs = append(runs, [2]int{w, w + 1})
		case on:
			runs[len(runs)-1][1] = w + 1
		}
		in = on
	}
	return runs
}

func pipeEnv(t *testing.T) *callEnv {
	dir := t.TempDir()
	return newCallEnv(t, func(o *sip.CallsOptions) { o.PlaybackDir = dir })
}

// With a playback directory, the assistant's reply reaches the caller as
// one uninterrupted run (one playback of the call's pipe for the
// whole call, never a stall), the mark comes back once it was heard, the
// caller's tone keeps reaching the assistant whole while it speaks, and a
// clear silences the caller without uuid_break.
func TestPipePlaybackIsGaplessOnTheSimulator(t *testing.T) {
	ce := pipeEnv(t)
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(map[string][]string{"Diversion": {"<sip:+16478491000@pbx.example.com>"}}))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() >= 10 }) {
		t.Fatal("no caller audio")
	}
	bc := ce.waitCommand("sendmsg "+uuid+" execute playback ", 2*time.Second)
	if !strings.HasSuffix(bc, ".PCMU") {
		t.Fatalf("playback %q, want the call's .PCMU pipe", bc)
	}

	// 1. A 1 s reply sent at once, then a mark.
	heardBefore := len(ce.sw.Heard(uuid))
	mediaBefore := ac.mediaCount()
	ac.speak(1000, 1000)
	sent := time.Now()
	_ = ac.send(map[string]any{"event": "mark", "streamSid": "MZ1", "mark": map[string]any{"name": "reply-1"}})
	if !waitUntil(4*time.Second, func() bool { _, _, _, m, _, _, _ := ac.snapshot(); return slices.Contains(m, "reply-1") }) {
		t.Fatal("the mark did not come back")
	}
	if d := time.Since(sent); d < 950*time.Millisecond {
		t.Fatalf("mark echoed %v after a 1 s reply was sent: before it was heard", d)
	}
	runs := toneRuns(ce.sw.Heard(uuid)[heardBefore:], 1000)
	if len(runs) != 1 || runs[0][1]-runs[0][0] < 99 {
		t.Fatalf("the caller heard the 1 s reply as runs %v (10 ms windows), want one run of ≥ 990 ms", runs)
	}
	if n := ce.sw.PlaybackStalls(uuid); n != 0 {
		t.Fatalf("the channel waited on the pipe %d times", n)
	}
	// The caller's 440 Hz reached the assistant whole meanwhile.
	_, media, _, _, _, _, _ := ac.snapshot()
	for i, f := range media[mediaBefore:] {
		pcm := audio.AppendMulawDecode(nil, f)
		if tone.RMS(pcm) < 500 {
			t.Fatalf("caller frame %d after the reply started is silent: playback ate the caller's audio", i)
		}
	}

	// 2. Barge-in: a 4 s reply cleared after 300 ms.
	heardBefore = len(ce.sw.Heard(uuid))
	ac.speak(1000, 4000)
	time.Sleep(300 * time.Millisecond)
	_ = ac.send(map[string]any{"event": "clear", "streamSid": "MZ1"})
	time.Sleep(600 * time.Millisecond)
	runs = toneRuns(ce.sw.Heard(uuid)[heardBefore:], 1000)
	total := 0
	for _, r := range runs {
		total += r[1] - r[0]
	}
	if total > 40 || total < 15 {
		t.Fatalf("cleared after 300 ms, the caller heard %d ms of the reply (runs %v), want 150–400", total*10, runs)
	}
	if c := ce.commandsWith("uuid_break " + uuid); len(c) != 0 {
		t.Fatalf("clear sent %q: that would end the call's one playback", c)
	}
	if c := ce.commandsWith("sendmsg " + uuid + " execute playback "); len(c) != 1 {
		t.Fatalf("playbacks %q, want exactly one for the whole call", c)
	}
	ce.sw.Hangup(uuid, "NORMAL_CLEARING")
	ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
}

// An assistant that closes its websocket normally (1000) after speaking
// ends the call: its reply is heard to the end first, then the call is
// hung up with reason "assistant ended the call" (not a fault: no fallback
// transfer even though the assistant has a fallback number).
func TestAssistantNormalCloseEndsCallAfterItsAudio(t *testing.T) {
	ce := pipeEnv(t)
	ce.assistant.FallbackTransferNumber = "+16475550199"
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(map[string][]string{"Diversion": {"<sip:+16478491000@pbx.example.com>"}}))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	ce.waitCommand("sendmsg "+uuid+" execute playback ", 2*time.Second)
	heardBefore := len(ce.sw.Heard(uuid))
	ac.speak(1000, 1500)
	closed := time.Now()
	ac.wmu.Lock()
	_ = ac.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	ac.wmu.Unlock()

	rec := ce.waitCall(uuid, db.CallCompleted, 5*time.Second)
	if rec.Reason != "assistant ended the call" {
		t.Fatalf("reason %q, want \"assistant ended the call\"", rec.Reason)
	}
	if d := time.Since(closed); d < 1400*time.Millisecond {
		t.Fatalf("the call ended %v after the close: before the 1.5 s reply was heard", d)
	}
	runs := toneRuns(ce.sw.Heard(uuid)[heardBefore:], 1000)
	if len(runs) != 1 || runs[0][1]-runs[0][0] < 149 {
		t.Fatalf("the caller heard the last reply as runs %v, want one run of ≥ 1490 ms", runs)
	}
	if c := ce.commandsWith("uuid_transfer"); len(c) != 0 {
		t.Fatalf("a normal close must not transfer to the fallback: %q", c)
	}
	if c := ce.commandsWith("originate"); len(c) != 0 {
		t.Fatalf("a normal close must not dial the fallback: %q", c)
	}
}

package web_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// answerEnv is the call path with playback pipes and a WELCOME_AUDIO_DIR
// holding hello.wav: 500 ms of 600 Hz.
func answerEnv(t *testing.T) *callEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "greetings"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "greetings", "hello.wav"), audiofile.WAV(8000, tone.Generate(600, 8000, 500, 8000)), 0o644); err != nil {
		t.Fatal(err)
	}
	pipes := t.TempDir()
	return newCallEnvOn(t, callEnvConfig{WelcomeAudioDir: dir}, func(o *sip.CallsOptions) { o.PlaybackDir = pipes })
}

// answer_mode and welcome_audio: stored and shown; a bad value is a 400
// naming its field and changes nothing.
func TestAssistantAnswerFieldsAPI(t *testing.T) {
	ce := answerEnv(t)
	path := "/api/v1/assistants/" + ce.assistant.ID
	got := ce.mustDo("GET", path, ce.keyA, nil, 200)
	if !strings.Contains(got.Raw, `"answer_mode":"assistant_ready"`) || !strings.Contains(got.Raw, `"welcome_audio":""`) {
		t.Fatalf("a new assistant: %s", got.Raw)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"answer_mode": "ring_forever"}, "answer_mode"},
		{map[string]any{"answer_mode": ""}, "answer_mode"},
		{map[string]any{"welcome_audio": "../hello.wav"}, "welcome_audio"},
		{map[string]any{"welcome_audio": "greetings/../../etc/passwd.wav"}, "welcome_audio"},
		{map[string]any{"welcome_audio": "/etc/hello.wav"}, "welcome_audio"},
		{map[string]any{"welcome_audio": "greetings/hello.mp3"}, "welcome_audio"},
		{map[string]any{"welcome_audio": "greetings/.hidden.wav"}, "welcome_audio"},
		{map[string]any{"welcome_audio": "greetings/hello world.wav"}, "welcome_audio"},
		{map[string]any{"welcome_audio": "greetings/missing.wav"}, "welcome_audio"},
		{map[string]any{"welcome_audio": "greetings"}, "welcome_audio"},
	} {
		r := ce.do("PUT", path, ce.keyA, c.body)
		if r.Status != 400 || r.errField() != c.field || r.errCode() != "validation_failed" {
			t.Errorf("PUT %v: %d %s, want 400 field %q", c.body, r.Status, r.Raw, c.field)
		}
	}
	if after := ce.mustDo("GET", path, ce.keyA, nil, 200).Raw; after != got.Raw {
		t.Fatal("a rejected request changed the assistant")
	}
	r := ce.mustDo("PUT", path, ce.keyA, map[string]any{"answer_mode": "early_ringback", "welcome_audio": "greetings/hello.wav"}, 200)
	if !strings.Contains(r.Raw, `"answer_mode":"early_ringback"`) || !strings.Contains(r.Raw, `"welcome_audio":"greetings/hello.wav"`) {
		t.Fatalf("after update: %s", r.Raw)
	}
	a, err := ce.store.GetAssistant(t.Context(), ce.assistant.OrgID, ce.assistant.ID)
	if err != nil || a.AnswerMode != db.AnswerEarlyRingback || a.WelcomeAudio != "greetings/hello.wav" {
		t.Fatalf("stored %+v %v", a, err)
	}
	r = ce.mustDo("PUT", path, ce.keyA, map[string]any{"welcome_audio": ""}, 200)
	if !strings.Contains(r.Raw, `"welcome_audio":""`) {
		t.Fatalf("cleared: %s", r.Raw)
	}
}

// early_ringback: the call is pre-answered (183 with SDP) and hears a
// ringback tone while the assistant connects; the ringback is stopped
// before the answer, and the assistant is then heard through the pipe.
func TestEarlyRingbackThenAnswer(t *testing.T) {
	ce := answerEnv(t)
	ce.assistant.AnswerMode = db.AnswerEarlyRingback
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(map[string][]string{"Diversion": {"<sip:+16478491000@pbx.example.com>"}}))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	rec := ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
	ce.waitCommand("sendmsg "+uuid+" execute playback /", 2*time.Second) // the pipe
	cmds := ce.sw.Commands()
	at := func(prefix string) int {
		return slices.IndexFunc(cmds, func(c string) bool { return strings.HasPrefix(c, prefix) })
	}
	pre, ring := at("uuid_pre_answer "+uuid), at("sendmsg "+uuid+" execute playback tone_stream://%(2000,4000,440,480);loops=-1")
	brk, ans := at("uuid_break "+uuid+" all"), at("uuid_answer "+uuid)
	if pre < 0 || ring < pre || brk < ring || ans < brk {
		t.Fatalf("want uuid_pre_answer, the ringback, uuid_break all, uuid_answer in order; commands %q", cmds)
	}
	if !ce.sw.PreAnswered(uuid) {
		t.Fatal("the channel was not pre-answered")
	}
	heard := len(ce.sw.Heard(uuid))
	ac.speak(1000, 600)
	if !waitUntil(3*time.Second, func() bool { return len(toneRuns(ce.sw.Heard(uuid)[heard:], 1000)) > 0 }) {
		t.Fatalf("the caller did not hear the assistant after the ringback; commands %q", ce.sw.Commands())
	}
	if ev := ce.timelineOf(rec.ID, "early_media"); len(ev) != 1 {
		t.Errorf("timeline early_media %v, want one", ev)
	}
}

// early_ringback when FreeSWITCH refuses the pre-answer: uuid_pre_answer
// answers "-ERROR\n" (FreeSWITCH 1.11.1's reply for a channel it cannot
// find), an api body the Event Socket client returns as a *CommandError.
// No ringback is queued, no early_media is recorded, a warning is logged,
// and the call is answered as with answer_mode assistant_ready.
func TestEarlyRingbackPreAnswerRefused(t *testing.T) {
	ce := answerEnv(t)
	ce.assistant.AnswerMode = db.AnswerEarlyRingback
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.sw.FailNext("uuid_pre_answer ", "-ERROR\n")
	uuid, err := ce.sw.Call(ce.pbxCall(map[string][]string{"Diversion": {"<sip:+16478491000@pbx.example.com>"}}))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	rec := ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
	ce.waitCommand("sendmsg "+uuid+" execute playback /", 2*time.Second) // the pipe
	if n := len(ce.commandsWith("uuid_pre_answer " + uuid)); n != 1 {
		t.Fatalf("uuid_pre_answer sent %d times, want 1; commands %q", n, ce.sw.Commands())
	}
	if ring := ce.commandsWith("sendmsg " + uuid + " execute playback tone_stream://"); len(ring) != 0 {
		t.Fatalf("a ringback was queued after a refused pre-answer: %q", ring)
	}
	if len(ce.commandsWith("uuid_answer "+uuid)) != 1 || ce.sw.PreAnswered(uuid) {
		t.Fatalf("want the call answered once, never pre-answered; commands %q", ce.sw.Commands())
	}
	if ev := ce.timelineOf(rec.ID, "early_media"); len(ev) != 0 {
		t.Errorf("timeline early_media %v after a refused pre-answer, want none", ev)
	}
	if logs := ce.logs.String(); !strings.Contains(logs, `"level":"WARN","msg":"uuid_pre_answer failed: no early media"`) {
		t.Errorf("no warning for the refused pre-answer; logs:\n%s", tail(logs, 4000))
	}
	heard := len(ce.sw.Heard(uuid))
	ac.speak(1000, 600)
	if !waitUntil(3*time.Second, func() bool { return len(toneRuns(ce.sw.Heard(uuid)[heard:], 1000)) > 0 }) {
		t.Fatalf("the caller did not hear the assistant; commands %q", ce.sw.Commands())
	}
}

// welcome_audio: the file plays from the answer, queued before the
// assistant's pipe; the assistant's reply, sent at once, is heard after
// it, whole.
func TestWelcomeAudioBeforeTheAssistant(t *testing.T) {
	ce := answerEnv(t)
	ce.assistant.WelcomeAudio = "greetings/hello.wav"
	if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(map[string][]string{"Diversion": {"<sip:+16478491000@pbx.example.com>"}}))
	if err != nil {
		t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	ac.speak(1000, 400)
	rec := ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
	var welcome, reply [][2]int
	waitUntil(4*time.Second, func() bool {
		h := ce.sw.Heard(uuid)
		welcome, reply = toneRuns(h, 600), toneRuns(h, 1000)
		return len(reply) > 0 && reply[len(reply)-1][1]-reply[0][0] >= 38 && len(h) > (reply[len(reply)-1][1]+5)*80
	})
	if len(welcome) != 1 || welcome[0][1]-welcome[0][0] < 48 {
		t.Fatalf("welcome runs (10 ms windows) %v, want one of 500 ms; reply %v", welcome, reply)
	}
	if len(reply) != 1 || reply[0][0] < welcome[0][1] || reply[0][1]-reply[0][0] < 38 {
		t.Fatalf("reply runs %v, want one of 400 ms after the welcome %v", reply, welcome)
	}
	cmds := ce.commandsWith("sendmsg " + uuid + " execute playback ")
	if len(cmds) != 2 || !strings.HasSuffix(cmds[0], "/greetings/hello.wav") || !strings.HasSuffix(cmds[1], ".PCMU") {
		t.Fatalf("playbacks %q, want the welcome audio, then the pipe", cmds)
	}
	if ev := ce.timelineOf(rec.ID, "welcome_audio"); len(ev) != 1 || ev[0]["file"] != "greetings/hello.wav" || ev[0]["skipped"] != nil {
		t.Errorf("timeline welcome_audio %v", ev)
	}
}

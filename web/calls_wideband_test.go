package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
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

// An l16_16k assistant gets the caller's 16 kHz frames as mod_audio_stream
// sent them (640 bytes, audio/l16 16000 in start.mediaFormat), a 6 kHz tone
// in them intact, which μ-law 8 kHz cannot carry; its 16 kHz reply is heard
// by the caller, through the G.711 pipe or as .r16 files.
func TestWidebandAssistant(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files bool
	}{{"pipe", false}, {"files", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ce := newCallEnv(t, func(o *sip.CallsOptions) {
				if !tc.files {
					o.PlaybackDir = dir
				}
			})
			ce.assistant.Config.AudioFormat = "l16_16k"
			if err := ce.store.SaveAssistant(t.Context(), ce.assistant, db.AssistantSecrets{}); err != nil {
				t.Fatal(err)
			}
			ce.addNumber("+16478491000", ce.assistant.ID)
			in := ce.pbxCall(nil)
			in.CallerAudio = tone.New(6000, 16000, 8000).Read
			uuid, err := ce.sw.Call(in)
			if err != nil {
				t.Fatal(err)
			}
			ac := ce.asst.next(3 * time.Second)
			if !waitUntil(3*time.Second, func() bool { return ac.mediaCount() >= 25 }) {
				t.Fatal("no media")
			}
			_, media, _, _, _, start, _ := ac.snapshot()
			if mf, _ := start["mediaFormat"].(map[string]any); mf["encoding"] != "audio/l16" || mf["sampleRate"] != float64(16000) || mf["channels"] != float64(1) {
				t.Errorf("start.mediaFormat %v, want audio/l16 16000 1", mf)
			}
			var pcm []int16
			for _, m := range media[5:] {
				if len(m) != 640 {
					t.Fatalf("a media payload of %d bytes, want 640 (20 ms of L16 16 kHz)", len(m))
				}
				for i := 0; i+1 < len(m); i += 2 {
					pcm = append(pcm, int16(uint16(m[i])|uint16(m[i+1])<<8))
				}
			}
			if f := tone.DominantFrequency(pcm, 16000); math.Abs(f-6000) > 5 {
				t.Errorf("the assistant heard %.0f Hz, want the caller's 6000 Hz", f)
			}

			heard := len(ce.sw.Heard(uuid))
			reply := tone.L16(tone.Generate(1000, 16000, 600, 8000))
			for i := 0; i < len(reply); i += 640 {
				_ = ac.send(map[string]any{"event": "media", "media": map[string]any{"payload": base64.StdEncoding.EncodeToString(reply[i:min(i+640, len(reply))])}})
			}
			// 50 windows of 10 ms: files leave gaps between chunks (README).
			if !waitUntil(5*time.Second, func() bool {
				total := 0
				for _, r := range toneRuns(ce.sw.Heard(uuid)[heard:], 1000) {
					total += r[1] - r[0]
				}
				return total >= 50
			}) {
				t.Fatalf("the caller did not hear the 16 kHz reply at 1 kHz (runs %v)", toneRuns(ce.sw.Heard(uuid)[heard:], 1000))
			}
			if tc.files {
				plays := ce.sw.Playbacks(uuid)
				if len(plays) == 0 || !strings.HasSuffix(plays[0], ".r16") {
					t.Errorf("playbacks %q, want .r16 files", plays)
				}
			}
			ce.sw.Hangup(uuid, "NORMAL_CLEARING")
			ce.waitCall(uuid, db.CallCompleted, 3*time.Second)
		})
	}
}

// On a hosted call (μ-law 8 kHz at the provider) an l16_16k assistant still
// speaks L16 16 kHz: the caller's audio reaches it upsampled (640 bytes a
// 20 ms frame, audio/l16 announced), its reply reaches Twilio as μ-law.
func TestTwilioWidebandAssistant(t *testing.T) {
	he := newHostedEnv(t)
	he.assistant.Config.AudioFormat = "l16_16k"
	if err := he.store.SaveAssistant(t.Context(), he.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	const sid, msid = "CA0000000000000000000000000000000b", "MZ0000000000000000000000000000000b"
	rec, streamURL, token := he.twilioAnswer(sid)
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	tw.sendJSON(map[string]any{"event": "start", "sequenceNumber": "1", "streamSid": msid,
		"start": map[string]any{"streamSid": msid, "accountSid": "AC0123456789abcdef0123456789abcdef", "callSid": sid,
			"tracks": []string{"inbound"}, "customParameters": map[string]string{"call_id": rec.ID, "token": token},
			"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
	ac := he.asst.next(3 * time.Second)
	for _, f := range mulawTone(440, 25) {
		tw.sendJSON(map[string]any{"event": "media", "streamSid": msid, "media": map[string]any{"track": "inbound", "payload": base64.StdEncoding.EncodeToString(f)}})
	}
	if !waitMedia(ac, 25, 3*time.Second) {
		t.Fatalf("assistant got %d media frames", ac.mediaCount())
	}
	_, media, _, _, _, start, _ := ac.snapshot()
	if mf, _ := start["mediaFormat"].(map[string]any); mf["encoding"] != "audio/l16" || mf["sampleRate"] != float64(16000) {
		t.Errorf("start.mediaFormat %v, want audio/l16 16000", mf)
	}
	var pcm []int16
	for _, m := range media {
		if len(m) != 640 {
			t.Fatalf("a media payload of %d bytes, want 640", len(m))
		}
		for i := 0; i+1 < len(m); i += 2 {
			pcm = append(pcm, int16(uint16(m[i])|uint16(m[i+1])<<8))
		}
	}
	if f := tone.EstimateFrequency(pcm[1600:], 16000); math.Abs(f-440) > 5 {
		t.Errorf("the assistant heard %.1f Hz at 16 kHz, want 440", f)
	}
	reply := tone.L16(tone.Generate(880, 16000, 200, 8000))
	for i := 0; i < len(reply); i += 640 {
		_ = ac.send(map[string]any{"event": "media", "media": map[string]any{"payload": base64.StdEncoding.EncodeToString(reply[i : i+640])}})
	}
	var back [][]byte
	for len(back) < 10 {
		_, m, _ := tw.next(2*time.Second, "media")
		p, _ := base64.StdEncoding.DecodeString(m["media"].(map[string]any)["payload"].(string))
		back = append(back, p)
	}
	if n := len(bytes.Join(back, nil)); n != 1600 {
		t.Errorf("Twilio got %d bytes of μ-law for 200 ms, want 1600", n)
	}
	if f := heardFrequency(back, 2); math.Abs(f-880) > 5 {
		t.Errorf("Twilio got %.1f Hz, want 880", f)
	}
}

// Vonage streams L16 16 kHz: an l16_16k assistant gets it as it comes
// (a 6 kHz tone intact) and its 16 kHz reply reaches Vonage as it was sent
// (a 5 kHz tone), paced in 640-byte frames.
func TestVonageWidebandAssistant(t *testing.T) {
	he := newHostedEnv(t)
	he.assistant.Config.AudioFormat = "l16_16k"
	if err := he.store.SaveAssistant(t.Context(), he.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	const uuid = "63f61863-4a51-4f6b-86e1-46edebcf9357"
	q := url.Values{"uuid": {uuid}, "conversation_uuid": {"CON-2"}, "from": {strings.TrimPrefix(callerNumber, "+")}, "to": {strings.TrimPrefix(vonageNumber, "+")}}
	st, body := he.post(http.MethodGet, "/vonage-webhook?"+q.Encode(), "", nil, http.Header{"Authorization": {"Bearer " + vonageGETJWT(t, he.vonageSecret, q.Encode())}})
	if st != 200 {
		t.Fatalf("answer: %d %s", st, body)
	}
	rec := he.waitCall(uuid, db.CallInProgress, time.Second)
	var ncco []struct {
		Endpoint []struct {
			URI string `json:"uri"`
		} `json:"endpoint"`
	}
	if err := json.Unmarshal([]byte(body), &ncco); err != nil || len(ncco) == 0 || len(ncco[0].Endpoint) == 0 {
		t.Fatalf("NCCO %s: %v", body, err)
	}
	vg := dialProvider(t, ncco[0].Endpoint[0].URI)
	vg.sendJSON(map[string]any{"event": "websocket:connected", "content-type": "audio/l16;rate=16000", "call_id": rec.ID})
	ac := he.asst.next(3 * time.Second)
	gen := tone.New(6000, 16000, 8000)
	for range 25 {
		if err := vg.ws.WriteMessage(websocket.BinaryMessage, gen.L16Frame(320)); err != nil {
			t.Fatal(err)
		}
	}
	if !waitMedia(ac, 25, 3*time.Second) {
		t.Fatalf("assistant got %d frames", ac.mediaCount())
	}
	_, media, _, _, _, _, _ := ac.snapshot()
	var pcm []int16
	for _, m := range media {
		if len(m) != 640 {
			t.Fatalf("a media payload of %d bytes, want 640", len(m))
		}
		pcm = audio.AppendL16Samples(pcm, m)
	}
	if share := tone.PowerShare(pcm, 16000, 6000); share < 0.9 {
		t.Errorf("6 kHz holds %.2f of what the assistant heard, want ≥ 0.9", share)
	}
	reply := tone.L16(tone.Generate(5000, 16000, 200, 8000))
	for i := 0; i < len(reply); i += 333 { // payloads that end inside a sample
		_ = ac.send(map[string]any{"event": "media", "media": map[string]any{"payload": base64.StdEncoding.EncodeToString(reply[i:min(i+333, len(reply))])}})
	}
	var back []int16
	for range 10 {
		_, _, b := vg.next(2*time.Second, "binary")
		if len(b) != 640 {
			t.Fatalf("frame of %d bytes", len(b))
		}
		back = audio.AppendL16Samples(back, b)
	}
	if !slices.Equal(back, tone.Generate(5000, 16000, 200, 8000)) {
		t.Errorf("Vonage did not get the assistant's 16 kHz reply as it was sent (%.0f Hz)", tone.EstimateFrequency(back, 16000))
	}
}

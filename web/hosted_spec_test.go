package web_test

import (
	"encoding/base64"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/internal/tone"
	"github.com/sipbridge/sipbridge/provider/vonage"
)

// vonageGETJWT signs a GET answer_url request as Vonage does: payload_hash
// over the query parameters as compact JSON, in query order.
func vonageGETJWT(t *testing.T, secret, rawQuery string) string {
	t.Helper()
	payload, err := vonage.QueryPayload(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	return vonage.SignWebhookJWT(secret, payload, time.Now(), map[string]any{"application_id": "app-1", "iss": "Vonage"})
}

// TestVonageSignedGETAnswerAsDocumented: Vonage's answer_url is a GET by
// default and its signed JWT's payload_hash is the SHA-256 of the query
// parameters serialised as a JSON object, in the query's order, without
// whitespace (Vonage's Voice signed-webhook article). The payload here is
// written out by hand from that rule; a hash of the empty body, of another
// order or of altered parameters is refused.
func TestVonageSignedGETAnswerAsDocumented(t *testing.T) {
	he := newHostedEnv(t)
	to, from := strings.TrimPrefix(vonageNumber, "+"), strings.TrimPrefix(callerNumber, "+")
	rawQuery := "to=" + to + "&from=" + from + "&uuid=aaaaaaaa-bbbb-4ccc-8ddd-000000000001&conversation_uuid=CON-aaaaaaaa" +
		"&region_url=https%3A%2F%2Fapi-us-3.vonage.com&custom_data=a+b%26c"
	documented := `{"to":"` + to + `","from":"` + from + `","uuid":"aaaaaaaa-bbbb-4ccc-8ddd-000000000001",` +
		`"conversation_uuid":"CON-aaaaaaaa","region_url":"https://api-us-3.vonage.com","custom_data":"a b&c"}`
	if got, _ := vonage.QueryPayload(rawQuery); string(got) != documented {
		t.Fatalf("signed payload\n got %s\nwant %s", got, documented)
	}
	sign := func(payload string) http.Header {
		jwt := vonage.SignWebhookJWT(he.vonageSecret, []byte(payload), time.Now(), map[string]any{"application_id": "app-1"})
		return http.Header{"Authorization": {"Bearer " + jwt}}
	}
	reordered := "from=" + from + "&to=" + to + "&uuid=aaaaaaaa-bbbb-4ccc-8ddd-000000000001&conversation_uuid=CON-aaaaaaaa" +
		"&region_url=https%3A%2F%2Fapi-us-3.vonage.com&custom_data=a+b%26c"
	refused := []struct {
		name, query string
		header      http.Header
	}{
		{"hash of the empty body", rawQuery, sign("")},
		{"same parameters, another order", reordered, sign(documented)},
		{"caller altered", strings.Replace(rawQuery, "from="+from, "from=15005550006", 1), sign(documented)},
		{"pretty-printed JSON", rawQuery, sign(strings.ReplaceAll(documented, ",", ", "))},
	}
	for _, tc := range refused {
		if st, body := he.post(http.MethodGet, "/vonage-webhook?"+tc.query, "", nil, tc.header); st != http.StatusForbidden {
			t.Errorf("%s: %d %s", tc.name, st, body)
		}
	}
	st, body := he.post(http.MethodGet, "/vonage-webhook?"+rawQuery, "", nil, sign(documented))
	if st != 200 || !strings.Contains(body, `"type":"websocket"`) || !strings.Contains(body, "token=") {
		t.Fatalf("documented signature: %d %s", st, body)
	}
	rec := he.waitCall("aaaaaaaa-bbbb-4ccc-8ddd-000000000001", db.CallInProgress, time.Second)
	if rec.FromNumber != callerNumber || rec.ToNumber != vonageNumber {
		t.Fatalf("record %+v", rec)
	}
	// A malformed escape in the query is a 400, not a 500.
	if st, body := he.post(http.MethodGet, "/vonage-webhook?to=%zz", "", nil, sign(documented)); st != http.StatusBadRequest {
		t.Fatalf("malformed query: %d %s", st, body)
	}
}

// alawTone returns n 20 ms frames of a tone as A-law 8 kHz (a PCMA call).
func alawTone(freq float64, frames int) [][]byte {
	pcm := tone.Generate(freq, 8000, 20*frames, 8000)
	alaw := make([]byte, len(pcm))
	audio.AlawEncode(alaw, pcm)
	var out [][]byte
	for i := 0; i+160 <= len(alaw); i += 160 {
		out = append(out, alaw[i:i+160])
	}
	return out
}

// TestTelnyxStreamCodecs: the answer asks Telnyx for stream_codec PCMU and
// the start frame's media_format.encoding decides how payloads are read. A
// PCMU or PCMA stream (Telnyx streams the call's own G.711 when it does not
// transcode) reaches the assistant as the caller's 440 Hz tone; a G722 or
// OPUS stream, which sipbridge does not decode, never reaches it as noise:
// the timeline says why.
func TestTelnyxStreamCodecs(t *testing.T) {
	cases := []struct {
		encoding string
		frames   [][]byte
		heard    bool
	}{
		{"PCMU", mulawTone(440, 25), true},
		{"PCMA", alawTone(440, 25), true},
		{"G722", alawTone(440, 25), false},
		{"OPUS", mulawTone(440, 25), false},
	}
	for _, tc := range cases {
		t.Run(tc.encoding, func(t *testing.T) {
			he := newHostedEnv(t)
			ccid := "v3:codec-" + tc.encoding
			if st, body := he.telnyxWebhook(telnyxEvent("call.initiated", ccid, "incoming", callerNumber, telnyxNumber, "", nil), time.Now().Unix(), false); st != 200 {
				t.Fatalf("call.initiated: %d %s", st, body)
			}
			ans, ok := he.telnyx.WaitAction(ccid, "answer", 2*time.Second)
			if !ok {
				t.Fatal("no answer action")
			}
			if ans.Body["stream_codec"] != "PCMU" || ans.Body["stream_bidirectional_mode"] != "rtp" || ans.Body["stream_bidirectional_codec"] != "PCMU" {
				t.Fatalf("answer action %v", ans.Body)
			}
			rec := he.waitCall(ccid, db.CallRinging, time.Second)
			tx := dialProvider(t, ans.Body["stream_url"].(string))
			tx.sendJSON(map[string]any{"event": "connected", "version": "1.0.0"})
			tx.sendJSON(map[string]any{"event": "start", "sequence_number": "1", "stream_id": "stream-" + tc.encoding, "start": map[string]any{
				"call_control_id": ccid, "client_state": ans.Body["client_state"],
				"media_format": map[string]any{"encoding": tc.encoding, "sample_rate": 8000, "channels": 1}}})
			ac := he.asst.next(3 * time.Second)
			for j, f := range tc.frames {
				tx.sendJSON(map[string]any{"event": "media", "sequence_number": "2", "stream_id": "stream-" + tc.encoding,
					"media": map[string]any{"track": "inbound", "chunk": j + 1, "timestamp": 20 * j, "payload": base64.StdEncoding.EncodeToString(f)}})
			}
			// A DTMF after the audio: once it has arrived, all the media
			// before it has been read.
			tx.sendJSON(map[string]any{"event": "dtmf", "stream_id": "stream-" + tc.encoding, "dtmf": map[string]any{"digit": "1"}})
			if !waitUntil(3*time.Second, func() bool { _, _, _, _, d, _, _ := ac.snapshot(); return len(d) == 1 }) {
				t.Fatal("dtmf lost")
			}
			_, media, _, _, _, _, _ := ac.snapshot()
			if !tc.heard {
				if len(media) != 0 {
					t.Fatalf("%s audio reached the assistant: %d frames", tc.encoding, len(media))
				}
				if !slices.Contains(he.eventTypes(rec.ID), "stream_codec_unsupported") {
					t.Fatalf("timeline %v", he.eventTypes(rec.ID))
				}
				return
			}
			if !waitMedia(ac, 25, 3*time.Second) {
				t.Fatalf("assistant got %d frames", ac.mediaCount())
			}
			_, media, _, _, _, _, _ = ac.snapshot()
			var pcm []int16
			for _, m := range media {
				pcm = audio.AppendMulawDecode(pcm, m)
			}
			if f := tone.EstimateFrequency(pcm, 8000); math.Abs(f-440) > 5 {
				t.Fatalf("%s: assistant heard %.1f Hz", tc.encoding, f)
			}
			var energy float64
			for _, s := range pcm {
				energy += float64(s) * float64(s)
			}
			// The tone's amplitude is 8000: its RMS is 8000/√2 ≈ 5657.
			if rms := math.Sqrt(energy / float64(len(pcm))); math.Abs(rms-5657) > 300 {
				t.Fatalf("%s: assistant heard RMS %.0f, want ≈5657", tc.encoding, rms)
			}
		})
	}
}

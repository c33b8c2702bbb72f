package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/tone"
	"github.com/sipbridge/sipbridge/provider/twilio"
	"github.com/sipbridge/sipbridge/provider/vonage"
	"gorm.io/gorm"
)

var twimlRE = regexp.MustCompile(`^<\?xml version="1.0" encoding="UTF-8"\?><Response><Connect><Stream url="([^"]+)"><Parameter name="call_id" value="([0-9a-f-]{36})"/><Parameter name="token" value="([0-9a-f]{48})"/></Stream></Connect></Response>$`)

// twilioAnswer posts a signed inbound voice webhook and returns the
// record, the stream URL and the token of the TwiML answer.
func (he *hostedEnv) twilioAnswer(callSID string) (*db.Call, string, string) {
	he.t.Helper()
	st, body := he.twilioVoice(twilioInboundForm(callSID), he.twilio.AuthToken)
	if st != http.StatusOK {
		he.t.Fatalf("POST /twiml: %d %s", st, body)
	}
	m := twimlRE.FindStringSubmatch(body)
	if m == nil {
		he.t.Fatalf("TwiML not in the expected shape:\n%s", body)
	}
	rec := he.waitCall(callSID, db.CallInProgress, 2*time.Second)
	if m[2] != rec.ID {
		he.t.Fatalf("TwiML call_id %s, record %s", m[2], rec.ID)
	}
	return rec, m[1], m[3]
}

// TestTwiMLGolden: the exact answer for a given call.
func TestTwiMLGolden(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA00000000000000000000000000000001"
	st, body := he.twilioVoice(twilioInboundForm(sid), he.twilio.AuthToken)
	if st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	rec := he.waitCall(sid, db.CallInProgress, 2*time.Second)
	token := regexp.MustCompile(`name="token" value="([0-9a-f]{48})"`).FindStringSubmatch(body)
	if token == nil {
		t.Fatalf("no token parameter: %s", body)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="ws://` + strings.TrimPrefix(he.base, "http://") +
		`/streams"><Parameter name="call_id" value="` + rec.ID + `"/><Parameter name="token" value="` + token[1] + `"/></Stream></Connect></Response>`
	if body != want {
		t.Fatalf("TwiML:\n got %s\nwant %s", body, want)
	}
	if rec.Provider != "twilio" || rec.Direction != db.DirectionInbound || rec.FromNumber != callerNumber || rec.ToNumber != twilioNumber ||
		rec.AssistantID == nil || *rec.AssistantID != he.assistant.ID || rec.PhoneNumberID == nil || *rec.PhoneNumberID != he.twilioNum.ID || rec.AnsweredAt == nil {
		t.Fatalf("record: %+v", rec)
	}
	// The caller-country allow-list applies as on the SIP path: rejected,
	// with a refused record.
	he.twilioNum.AllowedCountryCodes = db.StringList{"US"}
	if err := he.store.SaveNumber(context.Background(), he.twilioNum); err != nil {
		t.Fatal(err)
	}
	const blocked = "CA00000000000000000000000000000004"
	if st, body := he.twilioVoice(twilioInboundForm(blocked), he.twilio.AuthToken); st != 200 || !strings.Contains(body, "<Reject") {
		t.Fatalf("blocked country: %d %s", st, body)
	}
	if r := he.waitCall(blocked, db.CallRefused, time.Second); r.SIPStatus != 403 || !strings.Contains(r.Reason, `caller country "CA"`) {
		t.Fatalf("refused record %+v", r)
	}
	// An unknown number is rejected without a record.
	f := twilioInboundForm("CA00000000000000000000000000000002")
	f.Set("To", "+16475559999")
	st, body = he.twilioVoice(f, he.twilio.AuthToken)
	if st != 200 || body != `<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="rejected"/></Response>` {
		t.Fatalf("unknown number: %d %s", st, body)
	}
}

func TestTwilioWebhookRefusals(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA00000000000000000000000000000003"
	if st, body := he.twilioVoice(twilioInboundForm(sid), "not-the-token"); st != http.StatusForbidden {
		t.Fatalf("bad signature: %d %s", st, body)
	}
	// A valid signature over other parameters is refused too.
	form := twilioInboundForm(sid)
	sig := twilio.Signature(he.twilio.AuthToken, he.base+"/twiml", form)
	form.Set("From", "+15555550000")
	if st, _ := he.post(http.MethodPost, "/twiml", "application/x-www-form-urlencoded", []byte(form.Encode()), http.Header{"X-Twilio-Signature": {sig}}); st != http.StatusForbidden {
		t.Fatalf("tampered form: %d", st)
	}
	calls, _, _ := he.store.ListCalls(context.Background(), he.orgA, db.CallFilter{}, db.Page{Limit: 10})
	if len(calls) != 0 {
		t.Fatalf("a refused webhook left records: %+v", calls)
	}
	if !strings.Contains(he.logs.String(), "twilio webhook refused: bad signature") {
		t.Fatal("refusal not logged")
	}
	nul := twilioInboundForm("CA00000000000000000000000000000009")
	nul.Set("From", "+1416\x00")
	if st, body := he.twilioVoice(nul, he.twilio.AuthToken); st != http.StatusBadRequest {
		t.Errorf("NUL in From: %d %s", st, body)
	}
	for name, body := range map[string]string{"garbage": "%zz", "no CallSid": "To=%2B16475550100"} {
		if st, _ := he.post(http.MethodPost, "/twiml", "application/x-www-form-urlencoded", []byte(body), nil); st != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, st)
		}
	}
	if st, _ := he.post(http.MethodPost, "/twiml", "application/json", []byte(`{}`), nil); st != http.StatusUnsupportedMediaType {
		t.Errorf("json body: %d", st)
	}
}

// TestTwilioEndToEnd: signed /twiml → record + TwiML; a client playing
// Twilio streams a 440 Hz tone, DTMF and stop; the assistant hears them, and
// its media, mark and clear come back to "Twilio".
func TestTwilioEndToEnd(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA0000000000000000000000000000000a"
	rec, streamURL, token := he.twilioAnswer(sid)
	if streamURL != "ws://"+strings.TrimPrefix(he.base, "http://")+"/streams" {
		t.Fatalf("stream url %s", streamURL)
	}
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	tw.sendJSON(map[string]any{"event": "start", "sequenceNumber": "1", "streamSid": "MZ0000000000000000000000000000000a",
		"start": map[string]any{"streamSid": "MZ0000000000000000000000000000000a", "accountSid": "AC0123456789abcdef0123456789abcdef", "callSid": sid,
			"tracks": []string{"inbound"}, "customParameters": map[string]string{"call_id": rec.ID, "token": token},
			"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
	ac := he.asst.next(3 * time.Second)
	for i, f := range mulawTone(440, 25) {
		tw.sendJSON(map[string]any{"event": "media", "sequenceNumber": "2", "streamSid": "MZ0000000000000000000000000000000a",
			"media": map[string]any{"track": "inbound", "chunk": "1", "timestamp": "0", "payload": base64.StdEncoding.EncodeToString(f)}})
		_ = i
	}
	tw.sendJSON(map[string]any{"event": "dtmf", "streamSid": "MZ0000000000000000000000000000000a", "dtmf": map[string]any{"track": "inbound_track", "digit": "5"}})
	if !waitMedia(ac, 25, 3*time.Second) || !waitUntil(2*time.Second, func() bool { _, _, _, _, d, _, _ := ac.snapshot(); return len(d) == 1 }) {
		t.Fatalf("assistant got %d media frames; logs:\n%s", ac.mediaCount(), tail(he.logs.String(), 3000))
	}
	_, media, _, _, dtmf, start, _ := ac.snapshot()
	if f := heardFrequency(media, 0); math.Abs(f-440) > 5 {
		t.Fatalf("assistant heard %.1f Hz, want 440", f)
	}
	params, _ := start["customParameters"].(map[string]any)
	if dtmf[0] != "5" || params["call_id"] != rec.ID || params["from"] != callerNumber || params["to"] != twilioNumber ||
		params["direction"] != "inbound" || params["assistant_id"] != he.assistant.ID || params["welcome_message"] != "Hello from Acme" ||
		params["provider"] != "twilio" || params["token"] != nil {
		t.Fatalf("dtmf %v, start %v", dtmf, start)
	}

	// The assistant speaks, marks and clears: Twilio gets media, mark, clear.
	speakTone(ac, 880, 5)
	_ = ac.send(map[string]any{"event": "mark", "streamSid": "MZ1", "mark": map[string]any{"name": "greeting-done"}})
	var back [][]byte
	for len(back) < 5 {
		_, m, _ := tw.next(2*time.Second, "media")
		if m["streamSid"] != "MZ0000000000000000000000000000000a" {
			t.Fatalf("media without the stream's streamSid: %v", m)
		}
		p, _ := base64.StdEncoding.DecodeString(m["media"].(map[string]any)["payload"].(string))
		back = append(back, p)
	}
	if f := heardFrequency(back, 0); math.Abs(f-880) > 5 {
		t.Fatalf("Twilio got %.1f Hz, want 880", f)
	}
	_, mk, _ := tw.next(2*time.Second, "mark")
	if mk["mark"].(map[string]any)["name"] != "greeting-done" {
		t.Fatalf("mark %v", mk)
	}
	// Twilio echoes the mark once played: the assistant gets it.
	tw.sendJSON(map[string]any{"event": "mark", "streamSid": "MZ0000000000000000000000000000000a", "sequenceNumber": "40", "mark": map[string]any{"name": "greeting-done"}})
	if !waitUntil(2*time.Second, func() bool { _, _, _, m, _, _, _ := ac.snapshot(); return slices.Contains(m, "greeting-done") }) {
		t.Fatal("the mark echo did not reach the assistant")
	}
	_ = ac.send(map[string]any{"event": "clear", "streamSid": "MZ1"})
	if _, c, _ := tw.next(2*time.Second, "clear"); c["streamSid"] != "MZ0000000000000000000000000000000a" {
		t.Fatalf("clear %v", c)
	}

	// The caller hangs up: stop → assistant stop, record completed.
	tw.sendJSON(map[string]any{"event": "stop", "sequenceNumber": "50", "streamSid": "MZ0000000000000000000000000000000a",
		"stop": map[string]any{"accountSid": "AC0123456789abcdef0123456789abcdef", "callSid": sid}})
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, _, _, s := ac.snapshot(); return s }) {
		t.Fatal("the assistant got no stop")
	}
	done := he.waitCall(sid, db.CallCompleted, 2*time.Second)
	if done.EndedAt == nil || done.AnsweredAt == nil || done.DurationSeconds != int(done.EndedAt.Sub(*done.AnsweredAt).Round(time.Second)/time.Second) {
		t.Fatalf("record: %+v", done)
	}
	evs := he.eventTypes(rec.ID)
	for _, want := range []string{"routed", "answered", "stream_connected", "assistant_connected", "dtmf", "stream_stopped", "hangup"} {
		if !slices.Contains(evs, want) {
			t.Fatalf("timeline %v lacks %s", evs, want)
		}
	}
	select {
	case <-ac.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the assistant stream outlived the call")
	}
	if !waitUntil(2*time.Second, func() bool { return he.hosted.Active() == 0 }) {
		t.Fatalf("%d hosted calls still live", he.hosted.Active())
	}
}

func TestStreamsRefuseBadTokens(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA0000000000000000000000000000000b"
	rec, streamURL, _ := he.twilioAnswer(sid)
	// Twilio: a start whose token is not the call's is closed with 1008.
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	tw.sendJSON(map[string]any{"event": "start", "streamSid": "MZ1", "start": map[string]any{"streamSid": "MZ1", "callSid": sid,
		"customParameters": map[string]string{"call_id": rec.ID, "token": strings.Repeat("0", 48)}}})
	select {
	case m := <-tw.msgs:
		if !websocket.IsCloseError(m.err, websocket.ClosePolicyViolation) {
			t.Fatalf("bad token: got %v / %s, want close 1008", m.err, m.data)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a bad-token stream was not closed")
	}
	// Query form (Telnyx, Vonage): refused before the upgrade.
	u := strings.Replace(streamURL, "/streams", "/streams?call_id="+rec.ID+"&token=bad", 1)
	_, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("query token: err %v resp %+v", err, resp)
	}
	// A Twilio call's own token in a query is refused as well (Twilio
	// streams authenticate in start only).
	select {
	case <-he.asst.got:
		t.Fatal("a refused stream reached the assistant")
	default:
	}
}

// TestTelnyxWebhookFlow: call.initiated → answer action with the stream URL
// at the fake; the stream relays; call.hangup closes the record; stale and
// tampered signatures are refused.
func TestTelnyxWebhookFlow(t *testing.T) {
	he := newHostedEnv(t)
	const ccid = "v3:inbound-telnyx-1"
	now := time.Now().Unix()
	init := telnyxEvent("call.initiated", ccid, "incoming", callerNumber, telnyxNumber, "", nil)
	if st, body := he.telnyxWebhook(init, now-600, false); st != http.StatusForbidden {
		t.Fatalf("stale: %d %s", st, body)
	}
	if st, body := he.telnyxWebhook(init, now, true); st != http.StatusForbidden {
		t.Fatalf("tampered: %d %s", st, body)
	}
	if len(he.telnyx.Actions()) != 0 {
		t.Fatalf("a refused webhook reached Telnyx: %+v", he.telnyx.Actions())
	}
	if st, body := he.telnyxWebhook(init, now, false); st != 200 {
		t.Fatalf("call.initiated: %d %s", st, body)
	}
	ans, ok := he.telnyx.WaitAction(ccid, "answer", 2*time.Second)
	if !ok {
		t.Fatalf("no answer action; actions %+v\nlogs:\n%s", he.telnyx.Actions(), tail(he.logs.String(), 3000))
	}
	rec := he.waitCall(ccid, db.CallRinging, time.Second)
	su, _ := ans.Body["stream_url"].(string)
	wantPrefix := "ws://" + strings.TrimPrefix(he.base, "http://") + "/streams?call_id=" + rec.ID + "&token="
	if !strings.HasPrefix(su, wantPrefix) || ans.Body["stream_track"] != "inbound_track" || ans.Body["stream_bidirectional_mode"] != "rtp" ||
		ans.Body["stream_bidirectional_codec"] != "PCMU" || ans.Body["client_state"] != base64.StdEncoding.EncodeToString([]byte(rec.ID)) {
		t.Fatalf("answer action %v", ans.Body)
	}
	if rec.Provider != "telnyx" || rec.Direction != db.DirectionInbound || rec.ToNumber != telnyxNumber || rec.FromNumber != callerNumber {
		t.Fatalf("record %+v", rec)
	}
	cs := ans.Body["client_state"].(string)
	if st, _ := he.telnyxWebhook(telnyxEvent("call.answered", ccid, "incoming", callerNumber, telnyxNumber, cs, nil), time.Now().Unix(), false); st != 200 {
		t.Fatal("call.answered refused")
	}
	he.waitCall(ccid, db.CallInProgress, time.Second)

	tx := dialProvider(t, su)
	tx.sendJSON(map[string]any{"event": "connected", "version": "1.0.0"})
	tx.sendJSON(map[string]any{"event": "start", "sequence_number": "1", "stream_id": "stream-1", "start": map[string]any{
		"call_control_id": ccid, "client_state": cs, "from": callerNumber, "to": telnyxNumber,
		"media_format": map[string]any{"encoding": "PCMU", "sample_rate": 8000, "channels": 1}}})
	ac := he.asst.next(3 * time.Second)
	for i, f := range mulawTone(440, 25) {
		tx.sendJSON(map[string]any{"event": "media", "sequence_number": "2", "stream_id": "stream-1",
			"media": map[string]any{"track": "inbound", "chunk": "1", "timestamp": "0", "payload": base64.StdEncoding.EncodeToString(f)}})
		_ = i
	}
	tx.sendJSON(map[string]any{"event": "dtmf", "stream_id": "stream-1", "dtmf": map[string]any{"digit": "#"}})
	if !waitMedia(ac, 25, 3*time.Second) || !waitUntil(2*time.Second, func() bool { _, _, _, _, d, _, _ := ac.snapshot(); return len(d) == 1 }) {
		t.Fatalf("assistant got %d frames", ac.mediaCount())
	}
	_, media, _, _, dtmf, start, _ := ac.snapshot()
	if f := heardFrequency(media, 0); math.Abs(f-440) > 5 || dtmf[0] != "#" {
		t.Fatalf("assistant heard %.1f Hz, dtmf %v", f, dtmf)
	}
	if p, _ := start["customParameters"].(map[string]any); p["provider"] != "telnyx" || p["call_id"] != rec.ID {
		t.Fatalf("start %v", start)
	}
	speakTone(ac, 880, 5)
	_ = ac.send(map[string]any{"event": "mark", "streamSid": "MZ1", "mark": map[string]any{"name": "m1"}})
	var back [][]byte
	for len(back) < 5 {
		_, m, _ := tx.next(2*time.Second, "media")
		p, _ := base64.StdEncoding.DecodeString(m["media"].(map[string]any)["payload"].(string))
		back = append(back, p)
	}
	if f := heardFrequency(back, 0); math.Abs(f-880) > 5 {
		t.Fatalf("Telnyx got %.1f Hz", f)
	}
	if _, mk, _ := tx.next(2*time.Second, "mark"); mk["mark"].(map[string]any)["name"] != "m1" {
		t.Fatalf("mark %v", mk)
	}
	tx.sendJSON(map[string]any{"event": "mark", "stream_id": "stream-1", "mark": map[string]any{"name": "m1"}})
	if !waitUntil(2*time.Second, func() bool { _, _, _, m, _, _, _ := ac.snapshot(); return slices.Contains(m, "m1") }) {
		t.Fatal("mark echo lost")
	}
	_ = ac.send(map[string]any{"event": "clear"})
	tx.next(2*time.Second, "clear")

	tx.sendJSON(map[string]any{"event": "stop", "sequence_number": "9", "stream_id": "stream-1", "stop": map[string]any{"call_control_id": ccid}})
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, _, _, s := ac.snapshot(); return s }) {
		t.Fatal("no stop at the assistant")
	}
	hang := telnyxEvent("call.hangup", ccid, "incoming", callerNumber, telnyxNumber, cs, map[string]any{"hangup_cause": "normal_clearing", "hangup_source": "caller"})
	if st, _ := he.telnyxWebhook(hang, time.Now().Unix(), false); st != 200 {
		t.Fatal("call.hangup refused")
	}
	done := he.waitCall(ccid, db.CallCompleted, 2*time.Second)
	if done.HangupCause != "normal_clearing" || done.AnsweredAt == nil {
		t.Fatalf("record %+v", done)
	}
	// Bad input is a 4xx, never a 500.
	for _, body := range []string{`{`, `{"data":{}}`, `{"data":{"event_type":"call.hangup","payload":{}}}`} {
		if st, _ := he.telnyxWebhook([]byte(body), time.Now().Unix(), false); st != http.StatusBadRequest {
			t.Errorf("%s: %d", body, st)
		}
	}
}

// TestTelnyxNumberWithoutAssistant: a call to a number without an
// assistant is hung up and recorded as refused; a number nobody owns
// cannot be verified (no key) and is refused with 403.
func TestTelnyxNumberWithoutAssistant(t *testing.T) {
	he := newHostedEnv(t)
	he.telnyxNum.AssistantID = nil
	if err := he.store.SaveNumber(context.Background(), he.telnyxNum); err != nil {
		t.Fatal(err)
	}
	const ccid = "v3:no-assistant"
	if st, _ := he.telnyxWebhook(telnyxEvent("call.initiated", ccid, "incoming", callerNumber, telnyxNumber, "", nil), time.Now().Unix(), false); st != 200 {
		t.Fatal(st)
	}
	if _, ok := he.telnyx.WaitAction(ccid, "hangup", 2*time.Second); !ok {
		t.Fatalf("not hung up: %+v", he.telnyx.Actions())
	}
	// Refused like the SIP path: a refused record, 480, the reason.
	calls, _, _ := he.store.ListCalls(context.Background(), he.orgA, db.CallFilter{}, db.Page{Limit: 10})
	if len(calls) != 1 || calls[0].Status != db.CallRefused || calls[0].SIPStatus != 480 || calls[0].CallSID != ccid ||
		calls[0].Provider != "telnyx" || !strings.Contains(calls[0].Reason, "no assistant") || calls[0].EndedAt == nil {
		t.Fatalf("records: %+v", calls)
	}
	// Nobody's number: no key to verify with → 403.
	if st, _ := he.telnyxWebhook(telnyxEvent("call.initiated", "v3:x", "incoming", callerNumber, "+16475559999", "", nil), time.Now().Unix(), false); st != http.StatusForbidden {
		t.Fatalf("unknown number: %d", st)
	}
}

// TestVonageFlow: the NCCO golden answer, the binary L16 stream relayed
// (the assistant hears 440 Hz as μ-law 8 kHz, Vonage hears the assistant's
// 880 Hz as L16 16 kHz paced at 20 ms), the event_url closing the record.
func TestVonageFlow(t *testing.T) {
	he := newHostedEnv(t)
	const uuid = "63f61863-4a51-4f6b-86e1-46edebcf9356"
	q := url.Values{"uuid": {uuid}, "conversation_uuid": {"CON-1"}, "from": {strings.TrimPrefix(callerNumber, "+")}, "to": {strings.TrimPrefix(vonageNumber, "+")}}
	jwt := vonageGETJWT(t, he.vonageSecret, q.Encode())
	if st, _ := he.post(http.MethodGet, "/vonage-webhook?"+q.Encode(), "", nil, http.Header{"Authorization": {"Bearer bad.jwt.here"}}); st != http.StatusForbidden {
		t.Fatalf("bad JWT: %d", st)
	}
	st, body := he.post(http.MethodGet, "/vonage-webhook?"+q.Encode(), "", nil, http.Header{"Authorization": {"Bearer " + jwt}})
	if st != 200 {
		t.Fatalf("answer: %d %s", st, body)
	}
	rec := he.waitCall(uuid, db.CallInProgress, time.Second)
	tok := regexp.MustCompile(`token=([0-9a-f]{48})`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatalf("NCCO %s", body)
	}
	host := strings.TrimPrefix(he.base, "http://")
	want := `[{"action":"connect","endpoint":[{"type":"websocket","uri":"ws://` + host + `/streams?call_id=` + rec.ID + `&token=` + tok[1] +
		`","content-type":"audio/l16;rate=16000","headers":{"call_id":"` + rec.ID + `","from":"` + callerNumber + `","to":"` + vonageNumber + `"}}]}]`
	if body != want {
		t.Fatalf("NCCO:\n got %s\nwant %s", body, want)
	}
	var ncco []struct {
		Endpoint []struct {
			URI string `json:"uri"`
		} `json:"endpoint"`
	}
	_ = json.Unmarshal([]byte(body), &ncco)
	vg := dialProvider(t, ncco[0].Endpoint[0].URI)
	vg.sendJSON(map[string]any{"event": "websocket:connected", "content-type": "audio/l16;rate=16000", "call_id": rec.ID})
	ac := he.asst.next(3 * time.Second)
	gen := tone.New(440, 16000, 8000)
	for i := 0; i < 25; i++ {
		if err := vg.ws.WriteMessage(websocket.BinaryMessage, gen.L16Frame(320)); err != nil {
			t.Fatal(err)
		}
	}
	vg.sendJSON(map[string]any{"event": "websocket:dtmf", "digit": "3", "duration": 250})
	if !waitMedia(ac, 25, 3*time.Second) {
		t.Fatalf("assistant got %d frames", ac.mediaCount())
	}
	_, media, _, _, _, _, _ := ac.snapshot()
	for _, m := range media {
		if len(m) != 160 {
			t.Fatalf("frame of %d bytes, want 160 (μ-law 8 kHz, 20 ms)", len(m))
		}
	}
	if f := heardFrequency(media, 3); math.Abs(f-440) > 5 {
		t.Fatalf("assistant heard %.1f Hz", f)
	}
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, d, _, _ := ac.snapshot(); return len(d) == 1 && d[0] == "3" }) {
		t.Fatal("dtmf lost")
	}

	// The assistant's μ-law comes back as L16 16 kHz frames of 640 bytes,
	// 20 ms apart; its mark is echoed once the audio before it was sent.
	speakTone(ac, 880, 10)
	_ = ac.send(map[string]any{"event": "mark", "mark": map[string]any{"name": "said"}})
	var pcm []int16
	first := time.Now()
	for i := 0; i < 10; i++ {
		_, _, b := vg.next(2*time.Second, "binary")
		if len(b) != 640 {
			t.Fatalf("frame of %d bytes", len(b))
		}
		pcm = audio.AppendL16Samples(pcm, b)
	}
	if el := time.Since(first); el < 120*time.Millisecond {
		t.Fatalf("10 frames in %v: not paced", el)
	}
	if f := tone.EstimateFrequency(pcm[640:], 16000); math.Abs(f-880) > 5 {
		t.Fatalf("Vonage got %.1f Hz", f)
	}
	if !waitUntil(2*time.Second, func() bool { _, _, _, m, _, _, _ := ac.snapshot(); return slices.Contains(m, "said") }) {
		t.Fatal("mark not echoed")
	}

	ev, _ := json.Marshal(map[string]any{"uuid": uuid, "conversation_uuid": "CON-1", "status": "completed", "direction": "inbound", "duration": "3"})
	ej := vonage.SignWebhookJWT(he.vonageSecret, ev, time.Now(), nil)
	if st, body := he.post(http.MethodPost, "/vonage-webhook/event", "application/json", ev, http.Header{"Authorization": {"Bearer " + ej}}); st != 200 {
		t.Fatalf("event: %d %s", st, body)
	}
	done := he.waitCall(uuid, db.CallCompleted, 2*time.Second)
	if done.HangupCause != "completed" || done.Provider != "vonage" {
		t.Fatalf("record %+v", done)
	}
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, _, _, s := ac.snapshot(); return s }) {
		t.Fatal("assistant not stopped")
	}
	if st, _ := he.post(http.MethodPost, "/vonage-webhook/event", "application/json", []byte(`{"uuid":1}`), nil); st != http.StatusBadRequest {
		t.Fatalf("bad event: %d", st)
	}
}

// TestOutboundTwilio: /api/v1/calls/initiate from a Twilio number creates
// the call with Url={PUBLIC_BASE_URL}/twiml; the TwiML Twilio then fetches
// for that CallSid connects the outbound call; a provider failure is a 502
// with its message.
func TestOutboundTwilio(t *testing.T) {
	he := newHostedEnv(t)
	r := he.mustDo(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": twilioNumber,
		"to_phone_number": "+16475557777", "assistant_id": he.assistant.ID, "welcome_message": "Hi, this is Acme"}, 200)
	created := he.twilio.CallsCreated()
	if len(created) != 1 || created[0].Get("Url") != he.base+"/twiml" || created[0].Get("From") != twilioNumber || created[0].Get("To") != "+16475557777" {
		t.Fatalf("create forms %v", created)
	}
	sid, _ := r.Body["call_sid"].(string)
	callID, _ := r.Body["call_id"].(string)
	rec := he.waitCall(sid, db.CallRinging, time.Second)
	if rec.ID != callID || rec.Direction != db.DirectionOutbound || rec.Provider != "twilio" {
		t.Fatalf("record %+v", rec)
	}
	form := url.Values{"CallSid": {sid}, "AccountSid": {he.twilio.AccountSID}, "From": {twilioNumber}, "To": {"+16475557777"},
		"Direction": {"outbound-api"}, "CallStatus": {"in-progress"}}
	st, body := he.twilioVoice(form, he.twilio.AuthToken)
	m := twimlRE.FindStringSubmatch(body)
	if st != 200 || m == nil || m[2] != callID {
		t.Fatalf("outbound TwiML: %d %s", st, body)
	}
	he.waitCall(sid, db.CallInProgress, time.Second)
	tw := dialProvider(t, m[1])
	tw.sendJSON(map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	tw.sendJSON(map[string]any{"event": "start", "streamSid": "MZ2", "start": map[string]any{"streamSid": "MZ2", "callSid": sid,
		"customParameters": map[string]string{"call_id": callID, "token": m[3]}}})
	ac := he.asst.next(3 * time.Second)
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, _, s, _ := ac.snapshot(); return s != nil }) {
		t.Fatal("no start")
	}
	_, _, _, _, _, start, _ := ac.snapshot()
	if p := start["customParameters"].(map[string]any); p["direction"] != "outbound" || p["welcome_message"] != "Hi, this is Acme" || p["to"] != "+16475557777" {
		t.Fatalf("start %v", start)
	}

	// The API hangs the hosted call up at Twilio.
	he.twilio.SetCallStatus(sid, "in-progress")
	he.mustDo(http.MethodPost, "/api/v1/calls/"+callID+"/hangup", he.keyA, nil, 202)
	if f, ok := he.twilio.WaitCallUpdate(sid, "Status", 2*time.Second); !ok || f.Get("Status") != "completed" {
		t.Fatalf("hangup update %v", he.twilio.CallUpdates())
	}
	tw.sendJSON(map[string]any{"event": "stop", "streamSid": "MZ2", "stop": map[string]any{"callSid": sid}})
	he.waitCall(sid, db.CallCompleted, 2*time.Second)

	// A second call is busy: the status callback closes it as failed.
	r = he.mustDo(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": twilioNumber, "to_phone_number": "+16475556000"}, 200)
	busySID, _ := r.Body["call_sid"].(string)
	if got := he.twilio.CallsCreated(); got[len(got)-1].Get("StatusCallback") != he.base+"/twiml/status" {
		t.Fatalf("StatusCallback %q", got[len(got)-1].Get("StatusCallback"))
	}
	status := url.Values{"CallSid": {busySID}, "AccountSid": {he.twilio.AccountSID}, "From": {twilioNumber}, "To": {"+16475556000"},
		"Direction": {"outbound-api"}, "CallStatus": {"busy"}}
	sig := twilio.Signature("wrong", he.base+"/twiml/status", status)
	if st, _ := he.post(http.MethodPost, "/twiml/status", "application/x-www-form-urlencoded", []byte(status.Encode()), http.Header{"X-Twilio-Signature": {sig}}); st != http.StatusForbidden {
		t.Fatalf("bad status signature: %d", st)
	}
	sig = twilio.Signature(he.twilio.AuthToken, he.base+"/twiml/status", status)
	if st, b := he.post(http.MethodPost, "/twiml/status", "application/x-www-form-urlencoded", []byte(status.Encode()), http.Header{"X-Twilio-Signature": {sig}}); st != 200 {
		t.Fatalf("status: %d %s", st, b)
	}
	if busy := he.waitCall(busySID, db.CallFailed, 2*time.Second); busy.HangupCause != "busy" {
		t.Fatalf("busy record %+v", busy)
	}

	// Provider failure: 502 with Twilio's message, the record failed.
	he.twilio.FailCalls(400, 21215, "Account not authorized to call +16475558888")
	r = he.do(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": twilioNumber, "to_phone_number": "+16475558888"})
	if r.Status != http.StatusBadGateway || !strings.Contains(r.Raw, "Account not authorized to call +16475558888") || r.errCode() != "provider_failed" {
		t.Fatalf("provider failure: %d %s", r.Status, r.Raw)
	}
	failed, _, _ := he.store.ListCalls(context.Background(), he.orgA, db.CallFilter{Status: db.CallFailed, PhoneNumber: "+16475558888"}, db.Page{Limit: 10})
	if len(failed) != 1 || !strings.Contains(failed[0].Reason, "not authorized") {
		t.Fatalf("failed records %+v", failed)
	}
}

// TestAssistantUnreachableHostedFallback: with the assistant down, the call
// is transferred to its fallback number through the provider (Twilio: the
// call's TwiML becomes a <Dial>), and the record says why.
func TestAssistantUnreachableHostedFallback(t *testing.T) {
	he := newHostedEnv(t)
	he.assistant.StreamURL = "ws://127.0.0.1:1/down"
	he.assistant.FallbackTransferNumber = "+16475556666"
	if err := he.store.SaveAssistant(context.Background(), he.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	const sid = "CA0000000000000000000000000000000c"
	he.twilio.SetCallStatus(sid, "in-progress")
	rec, streamURL, token := he.twilioAnswer(sid)
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "start", "streamSid": "MZ3", "start": map[string]any{"streamSid": "MZ3", "callSid": sid,
		"customParameters": map[string]string{"call_id": rec.ID, "token": token}}})
	f, ok := he.twilio.WaitCallUpdate(sid, "Twiml", 3*time.Second)
	if !ok || !strings.Contains(f.Get("Twiml"), "<Dial><Number>+16475556666</Number></Dial>") {
		t.Fatalf("no fallback transfer: %v\nlogs:\n%s", he.twilio.CallUpdates(), tail(he.logs.String(), 3000))
	}
	done := he.waitCall(sid, db.CallCompleted, 3*time.Second)
	if !strings.Contains(done.Reason, "assistant unreachable") {
		t.Fatalf("reason %q", done.Reason)
	}
	evs := he.eventTypes(rec.ID)
	for _, want := range []string{"assistant_unreachable", "fallback_transfer", "transferred"} {
		if !slices.Contains(evs, want) {
			t.Fatalf("timeline %v lacks %s", evs, want)
		}
	}
}

// TestHostedTransferAPI: POST /calls/{id}/transfer on a live Telnyx call
// sends the transfer action; another organization gets 404.
func TestHostedTransferAPI(t *testing.T) {
	he := newHostedEnv(t)
	const ccid = "v3:transfer-1"
	if st, _ := he.telnyxWebhook(telnyxEvent("call.initiated", ccid, "incoming", callerNumber, telnyxNumber, "", nil), time.Now().Unix(), false); st != 200 {
		t.Fatal(st)
	}
	rec := he.waitCall(ccid, db.CallRinging, 2*time.Second)
	ans, ok := he.telnyx.WaitAction(ccid, "answer", 2*time.Second)
	if !ok {
		t.Fatal("no answer")
	}
	tx := dialProvider(t, ans.Body["stream_url"].(string))
	tx.sendJSON(map[string]any{"event": "start", "stream_id": "s3", "start": map[string]any{"call_control_id": ccid}})
	ac := he.asst.next(3 * time.Second)
	he.mustDo(http.MethodPost, "/api/v1/calls/"+rec.ID+"/transfer", he.keyB, map[string]any{"to": "+16475554444"}, 404)
	he.mustDo(http.MethodPost, "/api/v1/calls/"+rec.ID+"/transfer", he.keyA, map[string]any{"to": "not a number"}, 400)
	// Costly numbers are refused as on the SIP path (limits_test.go), and
	// nothing reaches the provider.
	for _, to := range []string{premiumUS, "sip:" + satellite882 + "@pbx.example.com"} {
		if r := he.do(http.MethodPost, "/api/v1/calls/"+rec.ID+"/transfer", he.keyA, map[string]any{"to": to}); r.Status != 403 || r.errCode() != "number_type_not_allowed" || r.errField() != "to" {
			t.Fatalf("transfer to %s: %d %s", to, r.Status, r.Raw)
		}
	}
	if _, ok := he.telnyx.WaitAction(ccid, "transfer", 50*time.Millisecond); ok {
		t.Fatal("a refused transfer reached Telnyx")
	}
	he.mustDo(http.MethodPost, "/api/v1/calls/"+rec.ID+"/transfer", he.keyA, map[string]any{"to": "+16475554444"}, 202)
	a, ok := he.telnyx.WaitAction(ccid, "transfer", 2*time.Second)
	if !ok || a.Body["to"] != "+16475554444" {
		t.Fatalf("transfer action %+v", he.telnyx.Actions())
	}
	// The caller left the assistant: its stream is stopped and closed.
	select {
	case <-ac.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the assistant stream outlived the transfer")
	}
	if _, _, _, _, _, _, stopped := ac.snapshot(); !stopped {
		t.Fatal("no stop before the close")
	}
	hang := telnyxEvent("call.hangup", ccid, "incoming", callerNumber, telnyxNumber, "", map[string]any{"hangup_cause": "normal_clearing"})
	he.telnyxWebhook(hang, time.Now().Unix(), false)
	if done := he.waitCall(ccid, db.CallCompleted, 2*time.Second); !strings.Contains(done.Reason, "transferred to +16475554444") {
		t.Fatalf("record %+v", done)
	}
}

// TestOutboundTelnyx: initiate from a Telnyx number dials with Call Control
// (connection, webhook, bidirectional stream, client_state); its webhooks
// answer and close the record; a refused dial is a 502 with the message.
func TestOutboundTelnyx(t *testing.T) {
	he := newHostedEnv(t)
	r := he.mustDo(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": telnyxNumber,
		"to_phone_number": "+16475557777", "assistant_id": he.assistant.ID}, 200)
	callID, _ := r.Body["call_id"].(string)
	sid, _ := r.Body["call_sid"].(string)
	dials := he.telnyx.Dials()
	if len(dials) != 1 {
		t.Fatalf("dials %v", dials)
	}
	d := dials[0]
	su, _ := d["stream_url"].(string)
	cs := base64.StdEncoding.EncodeToString([]byte(callID))
	if d["connection_id"] != "conn-1" || d["from"] != telnyxNumber || d["to"] != "+16475557777" || d["webhook_url"] != he.base+"/telnyx-webhook" ||
		!strings.Contains(su, "/streams?call_id="+callID+"&token=") || d["stream_track"] != "inbound_track" ||
		d["stream_bidirectional_mode"] != "rtp" || d["stream_bidirectional_codec"] != "PCMU" || d["client_state"] != cs {
		t.Fatalf("dial body %v", d)
	}
	he.waitCall(sid, db.CallRinging, time.Second)
	// Our own call.initiated is ignored; call.answered puts it in progress.
	for _, ev := range []string{"call.initiated", "call.answered"} {
		if st, body := he.telnyxWebhook(telnyxEvent(ev, sid, "outgoing", telnyxNumber, "+16475557777", cs, nil), time.Now().Unix(), false); st != 200 {
			t.Fatalf("%s: %d %s", ev, st, body)
		}
	}
	he.waitCall(sid, db.CallInProgress, time.Second)
	tx := dialProvider(t, su)
	tx.sendJSON(map[string]any{"event": "start", "stream_id": "s2", "start": map[string]any{"call_control_id": sid}})
	ac := he.asst.next(3 * time.Second)
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, _, s, _ := ac.snapshot(); return s != nil }) {
		t.Fatal("no start")
	}
	hang := telnyxEvent("call.hangup", sid, "outgoing", telnyxNumber, "+16475557777", cs, map[string]any{"hangup_cause": "normal_clearing", "hangup_source": "callee"})
	if st, _ := he.telnyxWebhook(hang, time.Now().Unix(), false); st != 200 {
		t.Fatal("hangup refused")
	}
	if done := he.waitCall(sid, db.CallCompleted, 2*time.Second); done.HangupCause != "normal_clearing" || done.Direction != db.DirectionOutbound {
		t.Fatalf("record %+v", done)
	}
	select {
	case <-ac.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the assistant stream outlived the call")
	}

	he.telnyx.FailDials(422, "10010", "The destination number is invalid")
	r = he.do(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": telnyxNumber, "to_phone_number": "+16475558888"})
	if r.Status != http.StatusBadGateway || !strings.Contains(r.Raw, "The destination number is invalid") {
		t.Fatalf("provider failure: %d %s", r.Status, r.Raw)
	}
}

// TestOutboundVonageAssistantHangup: initiate from a Vonage number creates
// the call with an NCCO connecting the websocket (L16 16 kHz, the call id
// header) and the event_url; the assistant's hangup becomes a PUT hangup;
// the completed event closes the record.
func TestOutboundVonageAssistantHangup(t *testing.T) {
	he := newHostedEnv(t)
	r := he.mustDo(http.MethodPost, "/api/v1/calls/initiate", he.keyA, map[string]any{"from_phone_number": vonageNumber,
		"to_phone_number": "+16475557777", "assistant_id": he.assistant.ID}, 200)
	callID, _ := r.Body["call_id"].(string)
	uuid, _ := r.Body["call_sid"].(string)
	body := he.vonage.LastCreate()
	raw, _ := json.Marshal(body)
	var create struct {
		To   []map[string]string `json:"to"`
		From map[string]string   `json:"from"`
		NCCO []struct {
			Action   string `json:"action"`
			Endpoint []struct {
				Type        string            `json:"type"`
				URI         string            `json:"uri"`
				ContentType string            `json:"content-type"`
				Headers     map[string]string `json:"headers"`
			} `json:"endpoint"`
		} `json:"ncco"`
		EventURL []string `json:"event_url"`
	}
	_ = json.Unmarshal(raw, &create)
	if len(create.NCCO) != 1 || create.NCCO[0].Action != "connect" || len(create.NCCO[0].Endpoint) != 1 {
		t.Fatalf("create %s", raw)
	}
	ep := create.NCCO[0].Endpoint[0]
	if ep.Type != "websocket" || ep.ContentType != "audio/l16;rate=16000" || ep.Headers["call_id"] != callID ||
		!strings.Contains(ep.URI, "/streams?call_id="+callID+"&token=") || len(create.EventURL) != 1 || create.EventURL[0] != he.base+"/vonage-webhook/event" ||
		create.To[0]["number"] != "16475557777" || create.From["number"] != strings.TrimPrefix(vonageNumber, "+") {
		t.Fatalf("create %s", raw)
	}
	he.waitCall(uuid, db.CallRinging, time.Second)
	vg := dialProvider(t, ep.URI)
	vg.sendJSON(map[string]any{"event": "websocket:connected", "content-type": "audio/l16;rate=16000", "call_id": callID})
	ac := he.asst.next(3 * time.Second)
	he.waitCall(uuid, db.CallInProgress, time.Second)
	if !waitUntil(2*time.Second, func() bool { _, _, _, _, _, s, _ := ac.snapshot(); return s != nil }) {
		t.Fatal("no start")
	}
	_ = ac.send(map[string]any{"event": "hangup"})
	if m, ok := he.vonage.WaitModify(uuid, "hangup", 2*time.Second); !ok {
		t.Fatalf("no hangup PUT: %+v", m)
	}
	ev, _ := json.Marshal(map[string]any{"uuid": uuid, "status": "completed"})
	jwt := vonage.SignWebhookJWT(he.vonageSecret, ev, time.Now(), nil)
	if st, b := he.post(http.MethodPost, "/vonage-webhook/event", "application/json", ev, http.Header{"Authorization": {"Bearer " + jwt}}); st != 200 {
		t.Fatalf("event %d %s", st, b)
	}
	done := he.waitCall(uuid, db.CallCompleted, 2*time.Second)
	if !strings.Contains(done.Reason, "assistant hung up") {
		t.Fatalf("record %+v", done)
	}
	if evs := he.eventTypes(callID); !slices.Contains(evs, "hangup_requested") || !slices.Contains(evs, "dialing") {
		t.Fatalf("timeline %v", evs)
	}
}

// TestHostedDrain: while draining, a new hosted call is rejected (refused
// record, 503 like the SIP path) and Drain returns once the live one ended
// (the path's call.Registry drain), on both databases.
func TestHostedDrain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { hostedDrain(t, newHostedEnvOn(t, g)) })
}

func hostedDrain(t *testing.T, he *hostedEnv) {
	const live = "CA0000000000000000000000000000000d"
	rec, streamURL, token := he.twilioAnswer(live)
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "start", "streamSid": "MZ4", "start": map[string]any{"streamSid": "MZ4", "callSid": live,
		"customParameters": map[string]string{"call_id": rec.ID, "token": token}}})
	he.asst.next(3 * time.Second)
	// Draining starts synchronously (an expired context returns at once).
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := he.hosted.Drain(expired); err == nil {
		t.Fatal("drain with a live call and an expired context returned nil")
	}
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		drained <- he.hosted.Drain(ctx)
	}()
	const late = "CA0000000000000000000000000000000e"
	if _, body := he.twilioVoice(twilioInboundForm(late), he.twilio.AuthToken); !strings.Contains(body, "<Reject") {
		t.Fatalf("a new call was accepted while draining: %s", body)
	}
	if r := he.waitCall(late, db.CallRefused, time.Second); r.SIPStatus != 503 {
		t.Fatalf("refused record %+v", r)
	}
	select {
	case err := <-drained:
		t.Fatalf("drain returned with a live call: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	tw.sendJSON(map[string]any{"event": "stop", "streamSid": "MZ4", "stop": map[string]any{"callSid": live}})
	select {
	case err := <-drained:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("drain did not return after the last call ended")
	}
}

// TestHostedStreamTimeout: a call whose media stream never connects is hung
// up at the provider and closed as failed.
func TestHostedStreamTimeout(t *testing.T) {
	he := newHostedEnv(t, func(o *hosted.Options) { o.StreamTimeout = 300 * time.Millisecond })
	const sid = "CA0000000000000000000000000000000f"
	he.twilio.SetCallStatus(sid, "in-progress")
	he.twilioAnswer(sid)
	done := he.waitCall(sid, db.CallFailed, 3*time.Second)
	if !strings.Contains(done.Reason, "did not connect") || done.HangupCause != "STREAM_TIMEOUT" {
		t.Fatalf("record %+v", done)
	}
	if f, ok := he.twilio.WaitCallUpdate(sid, "Status", 2*time.Second); !ok || f.Get("Status") != "completed" {
		t.Fatalf("not hung up: %+v", he.twilio.CallUpdates())
	}
	if he.hosted.Active() != 0 {
		t.Fatal("the call is still live")
	}
}

// TestHostedAssistantTransfer: the assistant's transfer becomes the
// provider's (Twilio: the live call's TwiML is a <Dial>), its stream ends,
// and the record closes when Twilio stops the stream.
func TestHostedAssistantTransfer(t *testing.T) {
	he := newHostedEnv(t)
	const sid = "CA00000000000000000000000000000010"
	he.twilio.SetCallStatus(sid, "in-progress")
	rec, streamURL, token := he.twilioAnswer(sid)
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "start", "streamSid": "MZ5", "start": map[string]any{"streamSid": "MZ5", "callSid": sid,
		"customParameters": map[string]string{"call_id": rec.ID, "token": token}}})
	ac := he.asst.next(3 * time.Second)
	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": "sip:desk@pbx.example.com"}})
	f, ok := he.twilio.WaitCallUpdate(sid, "Twiml", 2*time.Second)
	if !ok || !strings.Contains(f.Get("Twiml"), "<Dial><Sip>sip:desk@pbx.example.com</Sip></Dial>") {
		t.Fatalf("transfer update %+v", he.twilio.CallUpdates())
	}
	select {
	case <-ac.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the assistant stream outlived the transfer")
	}
	tw.sendJSON(map[string]any{"event": "stop", "streamSid": "MZ5", "stop": map[string]any{"callSid": sid}})
	done := he.waitCall(sid, db.CallCompleted, 2*time.Second)
	if done.Reason != "transferred to sip:desk@pbx.example.com" {
		t.Fatalf("reason %q", done.Reason)
	}
}

// TestHostedAssistantUnreachableHangsUp: no fallback number: the call is
// hung up at the provider (Telnyx hangup action), the record ends failed
// and says why.
func TestHostedAssistantUnreachableHangsUp(t *testing.T) {
	he := newHostedEnv(t)
	he.assistant.StreamURL = "ws://127.0.0.1:1/down"
	if err := he.store.SaveAssistant(context.Background(), he.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	const ccid = "v3:unreachable-1"
	he.telnyxWebhook(telnyxEvent("call.initiated", ccid, "incoming", callerNumber, telnyxNumber, "", nil), time.Now().Unix(), false)
	ans, ok := he.telnyx.WaitAction(ccid, "answer", 2*time.Second)
	if !ok {
		t.Fatal("no answer")
	}
	tx := dialProvider(t, ans.Body["stream_url"].(string))
	tx.sendJSON(map[string]any{"event": "start", "stream_id": "s4", "start": map[string]any{"call_control_id": ccid}})
	if _, ok := he.telnyx.WaitAction(ccid, "hangup", 3*time.Second); !ok {
		t.Fatalf("not hung up: %+v", he.telnyx.Actions())
	}
	hang := telnyxEvent("call.hangup", ccid, "incoming", callerNumber, telnyxNumber, "", map[string]any{"hangup_cause": "normal_clearing", "hangup_source": "callee"})
	he.telnyxWebhook(hang, time.Now().Unix(), false)
	rec := he.waitCall(ccid, db.CallFailed, 2*time.Second)
	if rec.Reason != "assistant unreachable" {
		t.Fatalf("reason %q", rec.Reason)
	}
	if evs := he.eventTypes(rec.ID); !slices.Contains(evs, "assistant_unreachable") {
		t.Fatalf("timeline %v", evs)
	}
}

// TestHostedAssistantNormalCloseEndsCall: an assistant that closes its
// stream normally (1000) after speaking ends a Twilio call once Twilio has
// played what it sent (the mark sipbridge put behind it comes back), not
// before, and without the fallback transfer a fault would start.
func TestHostedAssistantNormalCloseEndsCall(t *testing.T) {
	he := newHostedEnv(t)
	he.assistant.FallbackTransferNumber = "+16475550199"
	if err := he.store.SaveAssistant(context.Background(), he.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	const sid = "CA00000000000000000000000000000011"
	he.twilio.SetCallStatus(sid, "in-progress")
	rec, streamURL, token := he.twilioAnswer(sid)
	tw := dialProvider(t, streamURL)
	tw.sendJSON(map[string]any{"event": "start", "streamSid": "MZ6", "start": map[string]any{"streamSid": "MZ6", "callSid": sid,
		"customParameters": map[string]string{"call_id": rec.ID, "token": token}}})
	ac := he.asst.next(3 * time.Second)
	speakTone(ac, 880, 5)
	ac.wmu.Lock()
	_ = ac.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
	ac.wmu.Unlock()
	for i := 0; i < 5; i++ {
		tw.next(2*time.Second, "media")
	}
	_, mk, _ := tw.next(2*time.Second, "mark")
	name, _ := mk["mark"].(map[string]any)["name"].(string)
	time.Sleep(300 * time.Millisecond)
	if u := he.twilio.CallUpdates(); len(u) != 0 {
		t.Fatalf("the call was updated %+v before Twilio played the assistant's last words", u)
	}
	tw.sendJSON(map[string]any{"event": "mark", "streamSid": "MZ6", "sequenceNumber": "9", "mark": map[string]any{"name": name}})
	f, ok := he.twilio.WaitCallUpdate(sid, "Status", 2*time.Second)
	if !ok || f.Get("Status") != "completed" {
		t.Fatalf("after the last audio played: updates %+v, want Status=completed", he.twilio.CallUpdates())
	}
	tw.sendJSON(map[string]any{"event": "stop", "streamSid": "MZ6", "stop": map[string]any{"callSid": sid}})
	done := he.waitCall(sid, db.CallCompleted, 2*time.Second)
	if done.Reason != "assistant ended the call" {
		t.Fatalf("reason %q, want \"assistant ended the call\"", done.Reason)
	}
	if evs := he.eventTypes(rec.ID); slices.Contains(evs, "fallback_transfer") || !slices.Contains(evs, "assistant_ended") {
		t.Fatalf("timeline %v", evs)
	}
}

package hosted

import (
	"encoding/base64"
	"errors"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/provider"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs:\n got: %s\nwant: %s", name, got, want)
	}
}

func TestTwiMLStreamGolden(t *testing.T) {
	got := TwiMLStream("wss://bridge.example.com/streams", map[string]string{
		"call_id": "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f", "token": "0123456789abcdef0123456789abcdef0123456789abcdef"})
	golden(t, "twiml_stream.xml", []byte(got))
	// Hostile values stay inside their attribute.
	odd := TwiMLStream(`wss://h/streams"><Hangup/>`, map[string]string{`a"b`: `<x>&'`})
	golden(t, "twiml_stream_escaped.xml", []byte(odd))
	golden(t, "twiml_reject.xml", []byte(TwiMLReject))
}

func TestVonageNCCOGolden(t *testing.T) {
	got := VonageStreamNCCO("wss://bridge.example.com/streams?call_id=c1&token=t1",
		map[string]string{"call_id": "c1", "from": "+14165550100", "to": "+16475550100"})
	golden(t, "vonage_ncco.json", got)
}

func TestStreamURL(t *testing.T) {
	for base, want := range map[string]string{
		"https://bridge.example.com":      "wss://bridge.example.com/streams",
		"https://bridge.example.com/":     "wss://bridge.example.com/streams",
		"http://127.0.0.1:8080":           "ws://127.0.0.1:8080/streams",
		"https://bridge.example.com/base": "wss://bridge.example.com/base/streams",
	} {
		h := New(nil, Options{PublicBaseURL: base})
		if got := h.StreamURL(); got != want {
			t.Errorf("%s: %s, want %s", base, got, want)
		}
	}
}

func TestParseTwilioVoiceForm(t *testing.T) {
	ok := url.Values{"CallSid": {"CA0123456789abcdef0123456789abcdef"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"From": {"+14165550100"}, "To": {"+16475550100"}, "Direction": {"inbound"}}
	if r, err := ParseTwilioVoiceForm(ok); err != nil || r.To != "+16475550100" || r.Direction != "inbound" {
		t.Fatalf("%+v %v", r, err)
	}
	for name, mutate := range map[string]func(url.Values){
		"no CallSid":     func(v url.Values) { v.Del("CallSid") },
		"bad CallSid":    func(v url.Values) { v.Set("CallSid", "CAxyz") },
		"bad Account":    func(v url.Values) { v.Set("AccountSid", "PN0123456789abcdef0123456789abcdef") },
		"no To":          func(v url.Values) { v.Del("To") },
		"huge From":      func(v url.Values) { v.Set("From", string(make([]byte, 300))) },
		"huge Direction": func(v url.Values) { v.Set("Direction", string(make([]byte, 40))) },
		"NUL in From":    func(v url.Values) { v.Set("From", "+1416\x00") },
		"bad UTF-8 To":   func(v url.Values) { v.Set("To", "+1\xff") },
	} {
		v := url.Values{}
		for k, vs := range ok {
			v[k] = append([]string(nil), vs...)
		}
		mutate(v)
		if _, err := ParseTwilioVoiceForm(v); !errors.Is(err, ErrBadWebhook) {
			t.Errorf("%s: %v, want ErrBadWebhook", name, err)
		}
	}
}

func TestParseTelnyxEvent(t *testing.T) {
	ev, err := ParseTelnyxEvent([]byte(`{"data":{"event_type":"call.hangup","id":"e1","record_type":"event","payload":{"call_control_id":"v3:abc","hangup_cause":"normal_clearing","hangup_source":"caller","client_state":"YzE="}}}`))
	if err != nil || ev.Data.Payload.HangupCause != "normal_clearing" || callIDOfClientState(ev.Data.Payload.ClientState) != "c1" {
		t.Fatalf("%+v %v", ev, err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"data":{}}`, `{"data":{"event_type":"call.initiated","payload":{}}}`, `{"data":"x"}`,
		`{"data":{"event_type":"call.hangup","payload":{"call_control_id":"v3:x","hangup_cause":"a\u0000b"}}}`} {
		if _, err := ParseTelnyxEvent([]byte(bad)); !errors.Is(err, ErrBadWebhook) {
			t.Errorf("%q: %v, want ErrBadWebhook", bad, err)
		}
	}
}

func TestParseVonageWebhooks(t *testing.T) {
	v, err := ParseVonageAnswer(url.Values{"uuid": {"u1"}, "from": {"14165550100"}, "to": {"16475550100"}}, nil)
	if err != nil || v.UUID != "u1" || normNumber(v.To) != "+16475550100" {
		t.Fatalf("%+v %v", v, err)
	}
	if v, err := ParseVonageAnswer(nil, []byte(`{"uuid":"u2","from":"1","to":"2"}`)); err != nil || v.UUID != "u2" {
		t.Fatalf("%+v %v", v, err)
	}
	if v, err := ParseVonageEvent([]byte(`{"uuid":"u3","status":"completed","duration":12}`)); err != nil || v.Duration != "12" {
		t.Fatalf("%+v %v", v, err)
	}
	for _, bad := range []string{`{}`, `[]`, `{"uuid":"u"}`, `{"status":"completed"}`, `x`} {
		if _, err := ParseVonageEvent([]byte(bad)); !errors.Is(err, ErrBadWebhook) {
			t.Errorf("event %q: %v", bad, err)
		}
	}
	if _, err := ParseVonageAnswer(url.Values{}, nil); !errors.Is(err, ErrBadWebhook) {
		t.Errorf("answer without uuid: %v", err)
	}
}

func TestParseStreamMessages(t *testing.T) {
	ulaw := base64.StdEncoding.EncodeToString([]byte{0xff, 0x7f, 0x00})
	cases := []struct {
		prov   string
		binary bool
		msg    string
		kind   streamEventKind
		check  func(streamEvent) bool
	}{
		{provider.NameTwilio, false, `{"event":"connected","protocol":"Call","version":"1.0.0"}`, evIgnore, nil},
		{provider.NameTwilio, false, `{"event":"start","sequenceNumber":"1","start":{"streamSid":"MZ1","callSid":"CA1","customParameters":{"call_id":"c","token":"t"}},"streamSid":"MZ1"}`, evStart,
			func(e streamEvent) bool { return e.streamID == "MZ1" && e.params["token"] == "t" }},
		{provider.NameTwilio, false, `{"event":"media","media":{"track":"inbound","payload":"` + ulaw + `"},"streamSid":"MZ1"}`, evMedia,
			func(e streamEvent) bool { return len(e.audio) == 3 }},
		{provider.NameTwilio, false, `{"event":"dtmf","dtmf":{"digit":"5"}}`, evDTMF, func(e streamEvent) bool { return e.digit == "5" }},
		{provider.NameTwilio, false, `{"event":"mark","mark":{"name":"m1"}}`, evMark, func(e streamEvent) bool { return e.mark == "m1" }},
		{provider.NameTwilio, false, `{"event":"stop","stop":{"callSid":"CA1"}}`, evStop, nil},
		{provider.NameTelnyx, false, `{"event":"connected","version":"1.0.0"}`, evIgnore, nil},
		{provider.NameTelnyx, false, `{"event":"start","stream_id":"s1","start":{"call_control_id":"v3:x","media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}`, evStart,
			func(e streamEvent) bool { return e.streamID == "s1" && e.callSID == "v3:x" }},
		{provider.NameTelnyx, false, `{"event":"media","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"` + ulaw + `"},"stream_id":"s1"}`, evMedia,
			func(e streamEvent) bool { return len(e.audio) == 3 }},
		{provider.NameTelnyx, false, `{"event":"media","media":{"track":"outbound","payload":"` + ulaw + `"}}`, evIgnore, nil},
		{provider.NameTelnyx, false, `{"event":"dtmf","dtmf":{"digit":"#"}}`, evDTMF, func(e streamEvent) bool { return e.digit == "#" }},
		{provider.NameTelnyx, false, `{"event":"mark","mark":{"name":"m2"}}`, evMark, func(e streamEvent) bool { return e.mark == "m2" }},
		{provider.NameTelnyx, false, `{"event":"stop","stop":{"call_control_id":"v3:x"}}`, evStop, nil},
		{provider.NameVonage, false, `{"event":"websocket:connected","content-type":"audio/l16;rate=16000","call_id":"c"}`, evStart,
			func(e streamEvent) bool { return e.params["call_id"] == "c" }},
		{provider.NameVonage, false, `{"event":"websocket:dtmf","digit":"7","duration":200}`, evDTMF, func(e streamEvent) bool { return e.digit == "7" }},
		{provider.NameVonage, true, string(make([]byte, 640)), evMedia, func(e streamEvent) bool { return len(e.audio) == 640 }},
	}
	for i, tc := range cases {
		ev, err := parseStream(tc.prov, tc.binary, []byte(tc.msg))
		if err != nil || ev.kind != tc.kind || (tc.check != nil && !tc.check(ev)) {
			t.Errorf("%d %s %s: %+v %v", i, tc.prov, tc.msg, ev, err)
		}
	}
	for _, bad := range []struct {
		prov   string
		binary bool
		msg    string
	}{
		{provider.NameTwilio, false, `{"event":"media"}`}, {provider.NameTwilio, false, `nope`},
		{provider.NameTwilio, false, `{"event":"media","media":{"payload":"!!"}}`},
		{provider.NameTelnyx, false, `{"event":"media","media":{"payload":"!!"}}`}, {provider.NameTelnyx, false, `{}`},
		{provider.NameTelnyx, false, `{"event":"dtmf"}`}, {provider.NameTelnyx, false, `{"event":"dtmf","dtmf":{"digit":"55"}}`},
		{provider.NameTwilio, false, `{"event":"dtmf","dtmf":{"digit":"x"}}`}, {provider.NameTwilio, false, `{"event":"mark","mark":{}}`},
		{provider.NameVonage, true, "abc"}, {provider.NameVonage, false, `{"event":"websocket:dtmf"}`}, {provider.NameVonage, false, `[`},
	} {
		if _, err := parseStream(bad.prov, bad.binary, []byte(bad.msg)); !errors.Is(err, errStreamMessage) {
			t.Errorf("%s %q: %v, want errStreamMessage", bad.prov, bad.msg, err)
		}
	}
}

// parseStream dispatches like readProvider does.
func parseStream(prov string, binary bool, data []byte) (streamEvent, error) {
	switch prov {
	case provider.NameTwilio:
		return parseTwilioStream(data)
	case provider.NameTelnyx:
		return parseTelnyxStream(data)
	}
	return parseVonageStream(binary, data)
}

var _ = websocket.TextMessage

// TestHostedCallState: a hosted call moves through call.State: no transfer
// before it is answered, a stream attaches once (and not after a
// transfer), a refused transfer goes back where it was, a second one
// waits for the first, nothing moves an ended call.
func TestHostedCallState(t *testing.T) {
	c := &hostedCall{life: call.NewLifecycle(false)}
	if _, err := c.beginTransfer(); !errors.Is(err, call.ErrNotAnswered) {
		t.Fatalf("transfer before the answer: %v", err)
	}
	_ = c.life.To(call.Connecting)
	from, err := c.beginTransfer()
	if err != nil || from != call.Connecting {
		t.Fatalf("begin transfer: %v %v", from, err)
	}
	c.endTransfer(from)
	if !c.is(call.Connecting) || c.isTransferred() {
		t.Fatalf("refused transfer left %s", c.life.State())
	}
	if !c.attachLocked() || c.attachLocked() {
		t.Fatal("a stream must attach once")
	}
	from, err = c.beginTransfer()
	if err != nil || from != call.InProgress {
		t.Fatalf("begin transfer: %v %v", from, err)
	}
	if _, err := c.beginTransfer(); !errors.Is(err, call.ErrTransferInProgress) {
		t.Fatalf("second transfer: %v", err)
	}
	c.endTransfer(call.Transferred)
	if !c.isTransferred() {
		t.Fatalf("state %s", c.life.State())
	}
	if _, err := c.beginTransfer(); !errors.Is(err, call.ErrTransferInProgress) {
		t.Fatalf("transfer of a transferred call: %v", err)
	}
	if !c.life.End() {
		t.Fatal("not ended")
	}
	if _, err := c.beginTransfer(); !errors.Is(err, call.ErrCallNotFound) {
		t.Fatalf("transfer of an ended call: %v", err)
	}
	late := &hostedCall{life: call.NewLifecycle(true)}
	_ = late.life.To(call.Connecting)
	_ = late.life.To(call.Transferring)
	_ = late.life.To(call.Transferred)
	if late.attachLocked() {
		t.Fatal("a stream attached to a call transferred before it")
	}
}

package hosted

import (
	"net/url"
	"testing"
)

// Fuzz targets for every parser of outside input on the hosted path: the
// Twilio voice webhook form, Telnyx Call Control webhooks, Vonage answer and
// event webhooks and the three media websocket formats. None may panic;
// whatever they accept must be usable.

func FuzzTwilioVoiceForm(f *testing.F) {
	f.Add("CallSid=CA0123456789abcdef0123456789abcdef&AccountSid=AC0123456789abcdef0123456789abcdef&From=%2B14165550100&To=%2B16475550100&Direction=inbound")
	f.Add("CallSid=CA&To=")
	f.Add("%zz=1")
	f.Add("CallSid=CA0123456789abcdef0123456789abcdef&AccountSid=AC0123456789abcdef0123456789abcdef&From=%00&To=%2B1")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := ParseTwilioVoiceForm(form)
		if err == nil && (!twilioSID(r.CallSID, "CA") || r.To == "" || !printable(r.From, r.To, r.Direction)) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzTwilioAMDForm(f *testing.F) {
	f.Add("CallSid=CA0123456789abcdef0123456789abcdef&AnsweredBy=machine_end_beep&MachineDetectionDuration=4200")
	f.Add("CallSid=CA0123456789abcdef0123456789abcdef&AnsweredBy=human")
	f.Add("CallSid=CA0123456789abcdef0123456789abcdef&AnsweredBy=fax&MachineDetectionDuration=-1")
	f.Add("CallSid=CA&AnsweredBy=robot")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		sid, by, result, ms, err := parseTwilioAMD(form)
		if err != nil {
			return
		}
		if !twilioSID(sid, "CA") || twilioAnsweredBy[by] != result || ms < 0 || ms > 3_600_000 ||
			(result != "human" && result != "machine" && result != "unknown") {
			t.Fatalf("accepted %q %q %q %d", sid, by, result, ms)
		}
	})
}

func FuzzTelnyxEvent(f *testing.F) {
	f.Add([]byte(`{"data":{"event_type":"call.initiated","payload":{"call_control_id":"v3:x","direction":"incoming","from":"+14165550100","to":"+16475550100"}}}`))
	f.Add([]byte(`{"data":{"event_type":"call.hangup","payload":{"call_control_id":"v3:x","hangup_cause":"normal_clearing","client_state":"YzE="}}}`))
	f.Add([]byte(`{"data":{"event_type":"call.hangup","payload":{}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseTelnyxEvent(body)
		if err == nil {
			p := ev.Data.Payload
			if ev.Data.EventType == "" || !printable(p.CallControlID, p.From, p.To, p.HangupCause) {
				t.Fatalf("accepted %+v", ev)
			}
			_ = callIDOfClientState(ev.Data.Payload.ClientState)
			_ = normNumber(ev.Data.Payload.To)
		}
	})
}

func FuzzVonageWebhooks(f *testing.F) {
	f.Add("uuid=u1&from=14165550100&to=16475550100", []byte(nil))
	f.Add("", []byte(`{"uuid":"u2","from":"1","to":"2","status":"completed","duration":"3"}`))
	f.Add("", []byte(`{"uuid":7,"status":[]}`))
	f.Add("uuid=u%00&to=1", []byte(nil))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		q, _ := url.ParseQuery(query)
		if v, err := ParseVonageAnswer(q, body); err == nil && (v.UUID == "" || !printable(v.UUID, v.From, v.To)) {
			t.Fatalf("answer accepted: %+v", v)
		}
		if v, err := ParseVonageEvent(body); err == nil && (v.UUID == "" || v.Status == "") {
			t.Fatal("event accepted without uuid or status")
		}
	})
}

func FuzzStreamMessages(f *testing.F) {
	for _, s := range []string{
		`{"event":"start","start":{"streamSid":"MZ1","customParameters":{"call_id":"c","token":"t"}}}`,
		`{"event":"media","media":{"track":"inbound","payload":"/38A"}}`,
		`{"event":"dtmf","dtmf":{"digit":"1"}}`, `{"event":"mark","mark":{"name":"x"}}`, `{"event":"stop","stop":{}}`,
		`{"event":"start","stream_id":"s","start":{"call_control_id":"v3:x"}}`,
		`{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}`, `{"event":"websocket:dtmf","digit":"5"}`,
	} {
		f.Add(uint8(0), []byte(s))
		f.Add(uint8(1), []byte(s))
		f.Add(uint8(2), []byte(s))
	}
	f.Add(uint8(3), make([]byte, 640))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		var ev streamEvent
		var err error
		switch which % 4 {
		case 0:
			ev, err = parseTwilioStream(data)
		case 1:
			ev, err = parseTelnyxStream(data)
		case 2:
			ev, err = parseVonageStream(false, data)
		case 3:
			ev, err = parseVonageStream(true, data)
		}
		if err != nil {
			return
		}
		switch ev.kind {
		case evDTMF:
			if !validDigit(ev.digit) {
				t.Fatalf("dtmf digit %q", ev.digit)
			}
		case evMark:
			if !validMark(ev.mark) {
				t.Fatalf("mark %q", ev.mark)
			}
		}
	})
}

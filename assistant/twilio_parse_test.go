package assistant

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestParseAssistantMessage(t *testing.T) {
	ulaw := []byte{0xff, 0x7f, 0x00, 0x80, 0xce}
	b64 := base64.StdEncoding.EncodeToString(ulaw)
	raw := base64.RawStdEncoding.EncodeToString(ulaw)
	tests := []struct {
		name    string
		in      string
		want    AssistantMessage
		wantErr error
	}{
		// Accepted: the documented shapes.
		{"media", `{"event":"media","streamSid":"MZ1","media":{"payload":"` + b64 + `"}}`,
			AssistantMessage{Event: "media", StreamSID: "MZ1", Payload: ulaw}, nil},
		{"media unpadded base64", `{"event":"media","media":{"payload":"` + raw + `"}}`,
			AssistantMessage{Event: "media", Payload: ulaw}, nil},
		{"media with extra members", `{"event":"media","media":{"payload":"` + b64 + `","track":"outbound","chunk":1},"extra":[1,2]}`,
			AssistantMessage{Event: "media", Payload: ulaw}, nil},
		{"mark", `{"event":"mark","streamSid":"MZ1","mark":{"name":"greeting-done"}}`,
			AssistantMessage{Event: "mark", StreamSID: "MZ1", Mark: "greeting-done"}, nil},
		{"clear", `{"event":"clear","streamSid":"MZ1"}`, AssistantMessage{Event: "clear", StreamSID: "MZ1"}, nil},
		{"clear ignores unrelated junk", `{"event":"clear","media":5,"mark":"x"}`, AssistantMessage{Event: "clear"}, nil},
		{"transfer", `{"event":"transfer","transfer":{"to":"+16478491000"}}`,
			AssistantMessage{Event: "transfer", TransferTo: "+16478491000"}, nil},
		{"warm transfer", `{"event":"transfer","transfer":{"to":"+16478491000","mode":"warm"}}`,
			AssistantMessage{Event: "transfer", TransferTo: "+16478491000", TransferMode: "warm"}, nil},
		{"transfer_complete", `{"event":"transfer_complete"}`, AssistantMessage{Event: "transfer_complete"}, nil},
		{"transfer_cancel", `{"event":"transfer_cancel","streamSid":"MZ1"}`, AssistantMessage{Event: "transfer_cancel", StreamSID: "MZ1"}, nil},
		{"hangup", `{"event":"hangup"}`, AssistantMessage{Event: "hangup"}, nil},
		{"hangup immediate", `{"event":"hangup","immediate":true}`, AssistantMessage{Event: "hangup", Immediate: true}, nil},
		{"hangup not immediate", `{"event":"hangup","immediate":false}`, AssistantMessage{Event: "hangup"}, nil},
		{"dtmf", `{"event":"dtmf","dtmf":{"digits":"12#"}}`, AssistantMessage{Event: "dtmf", Digits: "12#"}, nil},
		{"dtmf digits kept as sent", `{"event":"dtmf","dtmf":{"digits":"9x"}}`, AssistantMessage{Event: "dtmf", Digits: "9x"}, nil},

		// Rejected: what the event needs is missing or broken.
		{"not json", `hello`, AssistantMessage{}, ErrMalformedMessage},
		{"json array", `[1,2]`, AssistantMessage{}, ErrMalformedMessage},
		{"json null", `null`, AssistantMessage{}, ErrMalformedMessage},
		{"no event", `{"media":{"payload":"` + b64 + `"}}`, AssistantMessage{}, ErrMalformedMessage},
		{"event not a string", `{"event":5}`, AssistantMessage{}, ErrMalformedMessage},
		{"empty event", `{"event":""}`, AssistantMessage{}, ErrMalformedMessage},
		{"streamSid not a string", `{"event":"clear","streamSid":7}`, AssistantMessage{}, ErrMalformedMessage},
		{"media without media", `{"event":"media"}`, AssistantMessage{}, ErrMalformedMessage},
		{"media not an object", `{"event":"media","media":"abc"}`, AssistantMessage{}, ErrMalformedMessage},
		{"media empty payload", `{"event":"media","media":{"payload":""}}`, AssistantMessage{}, ErrMalformedMessage},
		{"media payload not a string", `{"event":"media","media":{"payload":12}}`, AssistantMessage{}, ErrMalformedMessage},
		{"media bad base64", `{"event":"media","media":{"payload":"a$b%"}}`, AssistantMessage{}, ErrBadPayload},
		{"media base64url alphabet", `{"event":"media","media":{"payload":"__--"}}`, AssistantMessage{}, ErrBadPayload},
		{"mark without name", `{"event":"mark","mark":{}}`, AssistantMessage{}, ErrMalformedMessage},
		{"mark without mark", `{"event":"mark"}`, AssistantMessage{}, ErrMalformedMessage},
		{"transfer without to", `{"event":"transfer","transfer":{"to":""}}`, AssistantMessage{}, ErrMalformedMessage},
		{"transfer without object", `{"event":"transfer","to":"+1"}`, AssistantMessage{}, ErrMalformedMessage},
		{"transfer mode not a string", `{"event":"transfer","transfer":{"to":"+1","mode":1}}`, AssistantMessage{}, ErrMalformedMessage},
		{"dtmf without digits", `{"event":"dtmf","dtmf":{"digits":""}}`, AssistantMessage{}, ErrMalformedMessage},
		{"dtmf digits not a string", `{"event":"dtmf","dtmf":{"digits":12}}`, AssistantMessage{}, ErrMalformedMessage},
		{"dtmf inbound shape", `{"event":"dtmf","dtmf":{"digit":"1"}}`, AssistantMessage{}, ErrMalformedMessage},
		{"hangup immediate not a boolean", `{"event":"hangup","immediate":"yes"}`, AssistantMessage{}, ErrMalformedMessage},
		{"unknown event", `{"event":"connected","protocol":"Call"}`, AssistantMessage{}, ErrUnknownEvent},
		{"event names are case sensitive", `{"event":"Media","media":{"payload":"` + b64 + `"}}`, AssistantMessage{}, ErrUnknownEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAssistantMessage([]byte(tc.in))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.Event != tc.want.Event || got.StreamSID != tc.want.StreamSID || got.Mark != tc.want.Mark ||
				got.TransferTo != tc.want.TransferTo || !slices.Equal(got.Payload, tc.want.Payload) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestUnknownEventErrorIsTyped(t *testing.T) {
	_, err := ParseAssistantMessage([]byte(`{"event":"dance"}`))
	var ue *UnknownEventError
	if !errors.As(err, &ue) || ue.Event != "dance" {
		t.Fatalf("error = %#v, want *UnknownEventError{dance}", err)
	}
	if errors.Is(err, ErrMalformedMessage) {
		t.Error("an unknown event is not a malformed message")
	}
}

func TestParseStreamMessage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		event   string
		wantErr error
	}{
		{"connected", `{"event":"connected","protocol":"Call","version":"1.0.0"}`, "connected", nil},
		{"start", `{"event":"start","sequenceNumber":"1","start":{"streamSid":"MZ1","tracks":["inbound"]},"streamSid":"MZ1"}`, "start", nil},
		{"media", `{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"/w=="},"streamSid":"MZ1"}`, "media", nil},
		{"dtmf", `{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}`, "dtmf", nil},
		{"mark", `{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"my label"}}`, "mark", nil},
		{"stop", `{"event":"stop","sequenceNumber":"5","stop":{"accountSid":"AC1","callSid":"CA1"},"streamSid":"MZ1"}`, "stop", nil},
		{"start without start", `{"event":"start"}`, "", ErrMalformedMessage},
		{"numeric sequence number", `{"event":"mark","sequenceNumber":4,"mark":{"name":"x"}}`, "", ErrMalformedMessage},
		{"no event", `{}`, "", ErrMalformedMessage},
		{"clear is not ours", `{"event":"clear"}`, "", ErrUnknownEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseStreamMessage([]byte(tc.in))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || m.Event != tc.event {
				t.Fatalf("got %+v, %v", m, err)
			}
		})
	}
	m, _ := ParseStreamMessage([]byte(`{"event":"media","media":{"payload":"/w=="}}`))
	if a, err := m.Audio(); err != nil || !slices.Equal(a, []byte{0xff}) {
		t.Errorf("Audio() = %x, %v", a, err)
	}
	m, _ = ParseStreamMessage([]byte(`{"event":"media","media":{"payload":"!!"}}`))
	if _, err := m.Audio(); !errors.Is(err, ErrBadPayload) {
		t.Errorf("Audio() of bad base64 = %v, want ErrBadPayload", err)
	}
	if _, err := (StreamMessage{Event: "stop"}).Audio(); !errors.Is(err, ErrMalformedMessage) {
		t.Errorf("Audio() of a stop message = %v", err)
	}
}

func FuzzParseAssistantMessage(f *testing.F) {
	for _, s := range []string{
		`{"event":"media","streamSid":"MZ1","media":{"payload":"/39/gM4="}}`,
		`{"event":"media","media":{"payload":"/39/gM4"}}`,
		`{"event":"mark","mark":{"name":"m"}}`,
		`{"event":"clear"}`,
		`{"event":"transfer","transfer":{"to":"sip:a@b"}}`,
		`{"event":"hangup"}`,
		`{"event":"hangup","immediate":true}`,
		`{"event":"hangup","immediate":"1"}`,
		`{"event":"dtmf","dtmf":{"digits":"12#"}}`,
		`{"event":"media","media":{"payload":"a$b%"}}`,
		`{"event":"media","media":null}`,
		`{"event":"x"}`,
		`{"event":null}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseAssistantMessage(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedMessage) && !errors.Is(err, ErrBadPayload) && !errors.Is(err, ErrUnknownEvent) {
				t.Fatalf("error outside the documented set: %v", err)
			}
			if m.Event != "" || m.Payload != nil {
				t.Fatalf("error with a non-zero message: %+v", m)
			}
			return
		}
		switch m.Event {
		case EventMedia:
			if len(m.Payload) == 0 {
				t.Fatal("media accepted without payload")
			}
			// Re-encoding the decoded message parses back to the same audio.
			again, err := ParseAssistantMessage(fmtMedia(m.Payload))
			if err != nil || !slices.Equal(again.Payload, m.Payload) {
				t.Fatalf("re-encoded media does not round-trip: %v", err)
			}
		case EventMark:
			if m.Mark == "" {
				t.Fatal("mark accepted without name")
			}
		case EventTransfer:
			if m.TransferTo == "" {
				t.Fatal("transfer accepted without target")
			}
		case EventDTMF:
			if m.Digits == "" {
				t.Fatal("dtmf accepted without digits")
			}
		case EventClear, EventHangup:
		default:
			t.Fatalf("accepted unknown event %q", m.Event)
		}
	})
}

func fmtMedia(p []byte) []byte {
	b, _ := json.Marshal(map[string]any{"event": "media", "media": map[string]string{"payload": base64.StdEncoding.EncodeToString(p)}})
	return b
}

func FuzzParseStreamMessage(f *testing.F) {
	for _, s := range []string{
		`{"event":"connected","protocol":"Call","version":"1.0.0"}`,
		`{"event":"start","sequenceNumber":"1","start":{"streamSid":"MZ1","accountSid":"AC1","callSid":"CA1","tracks":["inbound"],"customParameters":{"a":"b"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ1"}`,
		`{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"/w=="},"streamSid":"MZ1"}`,
		`{"event":"stop","stop":{}}`,
		`{"event":"dtmf","dtmf":{"digit":"#"}}`,
		`{"event":"transfer_failed","sequenceNumber":"3","streamSid":"MZ1","transfer":{"to":"sip:a@b","reason":"REFER answered 603"}}`,
		`{"event":"transfer_answered","sequenceNumber":"4","streamSid":"MZ1","transfer":{"to":"+14165550100"}}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseStreamMessage(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedMessage) && !errors.Is(err, ErrUnknownEvent) {
				t.Fatalf("error outside the documented set: %v", err)
			}
			return
		}
		if m.Event == EventMedia {
			_, _ = m.Audio() // must not panic
		}
	})
}

package esl_test

import (
	"encoding/json"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// recordedEventBody returns the body of the first event named name (JSON or
// plain) in a recording.
func recordedEventBody(b *testing.B, recording, contentType, name string) []byte {
	b.Helper()
	for _, fr := range loadRecording(b, recording) {
		hdrs, body := splitRaw(fr.Raw)
		if fr.Dir != "s2c" || hdrs["Content-Type"] != contentType {
			continue
		}
		var ev refEvent
		if contentType == "text/event-json" {
			ev = refDecodeJSON(b, body)
		} else {
			ev = refDecodePlain(b, body)
		}
		if ev.name() == name {
			return []byte(body)
		}
	}
	b.Fatalf("%s: no %s", recording, name)
	return nil
}

func reportEventsPerSec(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkParseEventJSON parses the recorded CHANNEL_CREATE of an inbound
// call with two Diversion headers (116 keys, 63 variables, one array).
func BenchmarkParseEventJSON(b *testing.B) {
	body := recordedEventBody(b, "inbound-headers-b.jsonl", "text/event-json", "CHANNEL_CREATE")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := esl.DecodeEventJSON(body)
		if err != nil || len(ev.Values("variable_sip_i_diversion")) != 2 {
			b.Fatal(err)
		}
	}
	reportEventsPerSec(b)
}

// BenchmarkParseEventJSONStdlib is the reference point: encoding/json into
// map[string]any on the same event.
func BenchmarkParseEventJSONStdlib(b *testing.B) {
	body := recordedEventBody(b, "inbound-headers-b.jsonl", "text/event-json", "CHANNEL_CREATE")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			b.Fatal(err)
		}
	}
	reportEventsPerSec(b)
}

// BenchmarkParseEventPlain parses the recorded plain CHANNEL_HANGUP_COMPLETE
// of the outbound-socket call (URL-encoded, ~9.8 KB).
func BenchmarkParseEventPlain(b *testing.B) {
	body := recordedEventBody(b, "outbound-socket-answer-bye.jsonl", "text/event-plain", "CHANNEL_HANGUP_COMPLETE")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := esl.DecodeEventPlain(body); err != nil {
			b.Fatal(err)
		}
	}
	reportEventsPerSec(b)
}

package esl_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// seedRecordings are the recordings whose frames seed the fuzz corpora:
// every frame shape FreeSWITCH sent (command/reply, api/response, JSON and
// plain events, disconnect notices, the header-only CHANNEL_DATA reply).
var seedRecordings = []string{
	"esl-basics.jsonl", "esl-auth-fail.jsonl", "esl-event-plain.jsonl",
	"outbound-socket-answer-bye.jsonl", "refer-deflect-accepted.jsonl",
}

// addFrameSeeds adds every s2c frame of the seed recordings, and each
// recording's whole s2c stream.
func addFrameSeeds(f *testing.F) {
	for _, name := range seedRecordings {
		var stream strings.Builder
		for _, fr := range loadRecording(f, name) {
			if fr.Dir == "s2c" {
				f.Add([]byte(fr.Raw))
				stream.WriteString(fr.Raw)
			}
		}
		f.Add([]byte(stream.String()))
	}
	f.Add([]byte("Content-Length: 5\r\n\r\nabc"))
	f.Add([]byte("\n\n\nContent-Type: x\n\n"))
}

// addBodySeeds adds the bodies of the recorded events of one content type.
func addBodySeeds(f *testing.F, contentType string) {
	for _, name := range append(seedRecordings, "inbound-headers-b.jsonl", "outbound-socket-json-linger2.jsonl") {
		for _, fr := range loadRecording(f, name) {
			hdrs, body := splitRaw(fr.Raw)
			if fr.Dir == "s2c" && hdrs["Content-Type"] == contentType {
				f.Add([]byte(body))
			}
		}
	}
}

func framesString(frames []esl.TestFrame) string {
	var b strings.Builder
	for _, fr := range frames {
		fmt.Fprintf(&b, "%q|%q\n", fr.Headers, fr.Body)
	}
	return b.String()
}

// FuzzReadFrame: the frame parser never panics, bodies are exactly
// Content-Length bytes, and the result does not depend on how the stream is
// split into reads.
func FuzzReadFrame(f *testing.F) {
	addFrameSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, errWhole := esl.ReadFrames(bytes.NewReader(data))
		for _, fr := range whole {
			for _, h := range fr.Headers {
				if h[0] == "Content-Length" {
					if n, _ := strconv.Atoi(strings.TrimSpace(h[1])); n != len(fr.Body) {
						t.Fatalf("body %d bytes, Content-Length %q", len(fr.Body), h[1])
					}
					break
				}
			}
		}
		split, errSplit := esl.ReadFrames(iotest.OneByteReader(bytes.NewReader(data)))
		if framesString(whole) != framesString(split) || (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("one-byte reads differ: %v / %v", errWhole, errSplit)
		}
	})
}

// FuzzDecodeEventJSON: never panics; accepts only valid JSON; and on any
// object of strings and string arrays it agrees with encoding/json.
func FuzzDecodeEventJSON(f *testing.F) {
	addBodySeeds(f, "text/event-json")
	f.Add([]byte(`{"a":"\ud83d\ude00\u00e9","b":["x","y"],"_body":"z","n":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := esl.DecodeEventJSON(data)
		if err == nil && !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if !utf8.Valid(data) {
			return // encoding/json replaces bad bytes; we keep them
		}
		var m map[string]any
		if json.Unmarshal(data, &m) != nil || m == nil {
			return
		}
		for _, v := range m {
			switch v := v.(type) {
			case string:
			case []any:
				for _, e := range v {
					if _, ok := e.(string); !ok {
						return
					}
				}
			default:
				return
			}
		}
		if err != nil {
			t.Fatalf("rejected %q: %v", data, err)
		}
		for k, v := range m {
			if k == "_body" {
				if s, ok := v.(string); ok && ev.Body != s {
					t.Fatalf("Body %q, want %q", ev.Body, s)
				}
				continue
			}
			var want []string
			switch v := v.(type) {
			case string:
				want = []string{v}
			case []any:
				want = []string{}
				for _, e := range v {
					want = append(want, e.(string))
				}
			}
			if got := ev.Values(k); !slices.Equal(got, want) {
				t.Fatalf("Values(%q) = %q, want %q", k, got, want)
			}
		}
	})
}

// FuzzDecodeEventPlain: never panics; a decoded body is exactly
// Content-Length bytes.
func FuzzDecodeEventPlain(f *testing.F) {
	addBodySeeds(f, "text/event-plain")
	f.Add([]byte("Event-Name: X\nv: ARRAY%3A%3Aa%7C%3Ab\nContent-Length: 2\n\nok"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := esl.DecodeEventPlain(data)
		if err != nil {
			if !errors.Is(err, esl.ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		if cl, ok := ev.Headers["Content-Length"]; ok {
			if n, _ := strconv.Atoi(strings.TrimSpace(cl)); n != len(ev.Body) {
				t.Fatalf("body %d bytes, Content-Length %q", len(ev.Body), cl)
			}
		}
	})
}

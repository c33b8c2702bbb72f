package audiostream

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/dialstring"
)

// FuzzStreamAudio: any text a websocket server sends is either a valid
// streamAudio (its ::play body is a JSON object ending with "file", without
// audioData) or falls back to ::json; never a panic.
func FuzzStreamAudio(f *testing.F) {
	for _, s := range []string{
		`{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"AAD/fwCA"}}`,
		`{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":16000,"audioData":"AAAA"}}`,
		`{"type":"streamAudio","data":{"audioDataType":"wav","audioData":"UklGRg=="}}`,
		`{"TYPE":"streamAudio","Data":{"AudioDataType":"raw","SAMPLERATE":8000.9,"AUDIODATA":"-_8."}}`,
		`{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"A"}}`,
		`{"type":"streamAudio","data":"x"}`, `{"hello":"world"}`, `[1,2]`, `not json`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		sa, ok := ParseMessage([]byte(msg))
		if !ok {
			return
		}
		body := sa.Body("/tmp/x_0.tmp" + sa.Ext)
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("play body %q of %q is not JSON: %v", body, msg, err)
		}
		if !strings.HasSuffix(body, `"file":"/tmp/x_0.tmp`+sa.Ext+`"}`) {
			t.Fatalf("file not last: %q", body)
		}
		if sa.Ext == "" {
			t.Fatalf("no file type for %q", msg)
		}
	})
}

// FuzzBase64Liberal: the module's decoder agrees with the standard one on
// canonical input, and never panics on any other.
func FuzzBase64Liberal(f *testing.F) {
	for _, s := range []string{"", "AAAA", "AA==", "AA", "A", "-_8.", "QUJD\nREVG", "////"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Base64Liberal(s)
		if want, err := base64.StdEncoding.DecodeString(s); err == nil && !strings.ContainsAny(s, "\r\n") {
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("%q: %x %v, std %x", s, got, ok, want)
			}
		}
		if raw, err := base64.RawURLEncoding.DecodeString(s); err == nil && !strings.ContainsAny(s, "\r\n") {
			if !ok || !bytes.Equal(got, raw) {
				t.Fatalf("%q: %x %v, raw url %x", s, got, ok, raw)
			}
		}
	})
}

// FuzzAudioStreamArgs: any uuid_audio_stream line is split and checked
// without a panic; a start that passes has a known mix type, a rate that
// is a positive multiple of 8000 and a ws(s) URL.
func FuzzAudioStreamArgs(f *testing.F) {
	for _, s := range []string{"u start ws://127.0.0.1:8095/stream mono 16k {\"call\":\"x\"}",
		"u start ws://h/ stereo 8k 'a b' c", "u start wss://x:1 mixed 48000", "u start ws://h mono 0",
		`u start ws://h mono 8k {"a":"b\"c"}`, "u stop", "u  start   ws://h   mono", "'u v' send_text \\'x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		argv := dialstring.SeparateBlank(line, 6)
		if len(argv) > 6 {
			t.Fatalf("%d fields", len(argv))
		}
		if len(argv) < 4 || argv[1] != "start" {
			return
		}
		a, reply, ok := ParseStart(argv[2:])
		if !ok {
			if reply != "" && reply != "-ERR Operation Failed\n" {
				t.Fatalf("reply %q", reply)
			}
			return
		}
		if (a.Mix != "mono" && a.Mix != "mixed" && a.Mix != "stereo") || a.Rate <= 0 || a.Rate%8000 != 0 ||
			!(strings.HasPrefix(a.URL, "ws://") || strings.HasPrefix(a.URL, "wss://")) {
			t.Fatalf("accepted %+v from %q", a, line)
		}
	})
}

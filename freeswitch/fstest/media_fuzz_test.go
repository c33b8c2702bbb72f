package fstest

import (
	"os"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiostream"
	"github.com/sipbridge/sipbridge/internal/tone"
)

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
		argv := separateBlank(line, 6)
		if len(argv) > 6 {
			t.Fatalf("%d fields", len(argv))
		}
		if len(argv) < 4 || argv[1] != "start" {
			return
		}
		a, reply, ok := audiostream.ParseStart(argv[2:])
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

func TestSeparateBlank(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want []string
	}{
		{"u start ws://h/ mono 8k {\"call\":\"x\"}", 6, []string{"u", "start", "ws://h/", "mono", "8k", `{"call":"x"}`}},
		{"u start ws://h/ mono 8k {\"a\": 1, \"b\": 2}", 6, []string{"u", "start", "ws://h/", "mono", "8k", `{"a": 1, "b": 2}`}},
		{"u  x   y", 3, []string{"u", "x", "y"}},
		{`a  'b c'  d\ e`, 10, []string{"a", "b c", `d\ e`}}, // quotes group, escapes stay
		{"u v 'hello world' z", 4, []string{"u", "v", "hello world", "z"}},
		{`u v a\'b`, 3, []string{"u", "v", "a'b"}},
		{"u var value with spaces", 3, []string{"u", "var", "value with spaces"}},
		{"", 3, nil},
	} {
		if got := separateBlank(tc.in, tc.n); strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzReadWAV: any file handed to uuid_broadcast as .wav is played or
// refused, never a panic.
func FuzzReadWAV(f *testing.F) {
	r := &recording{caller: tone.GenerateN(440, 8000, 64, 8000), played: make([]int16, 64)}
	dir := f.TempDir()
	r.path = dir + "/seed.wav"
	r.finish()
	seed, _ := os.ReadFile(r.path)
	f.Add(seed)
	f.Add(seed[:40])
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pcm, rate, err := audiofile.ReadWAV(data)
		if err == nil && (rate < 1000 || len(pcm) > len(data)*8000/rate+1) {
			t.Fatalf("rate %d, %d samples from %d bytes", rate, len(pcm), len(data))
		}
	})
}

package amd

import (
	"testing"

	"github.com/sipbridge/sipbridge/audio"
)

// benchFrames feeds a machine greeting (speech, then a beep) frame by
// frame, a new detector whenever one is done.
func benchFrames(b *testing.B, rate int) {
	s := synth("machine", 1001)
	pcm := s.pcm16
	if rate == 8000 {
		pcm = s.pcm8
	}
	le := audio.AppendL16Bytes(nil, pcm)
	fb := rate / 25
	d, _ := New(Options{SampleRate: rate})
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for range b.N {
		if i+fb > len(le) || d.Done() {
			i = 0
			d, _ = New(Options{SampleRate: rate})
		}
		d.Feed(le[i : i+fb])
		i += fb
	}
}

// BenchmarkFrame16k: one 20 ms mod_audio_stream frame (640 B).
func BenchmarkFrame16k(b *testing.B) { benchFrames(b, 16000) }

// BenchmarkFrame8k: one 20 ms frame at 8 kHz (320 B).
func BenchmarkFrame8k(b *testing.B) { benchFrames(b, 8000) }

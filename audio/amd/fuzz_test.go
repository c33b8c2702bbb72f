package amd

import "testing"

// FuzzDetector feeds arbitrary bytes in arbitrary pieces: no panic, the
// clock follows the audio, the decision and the beep are consistent and
// never change, and the detector's buffers stay their size.
func FuzzDetector(f *testing.F) {
	f.Add([]byte{}, uint16(640), false)
	f.Add([]byte{0x00, 0x80, 0xff, 0x7f, 0x01}, uint16(1), true)
	f.Add(make([]byte, 4000), uint16(333), false)
	f.Fuzz(func(t *testing.T, data []byte, piece uint16, narrow bool) {
		rate := 16000
		if narrow {
			rate = 8000
		}
		d, err := New(Options{SampleRate: rate, InitialSilence: 100 * 1e6, TotalAnalysis: 400 * 1e6})
		if err != nil {
			t.Fatal(err)
		}
		step := int(piece)%2000 + 1
		block := cap(d.block)
		var first Decision
		var decided bool
		for i := 0; i < len(data); i += step {
			d.Feed(data[i:min(i+step, len(data))])
			dec, ok := d.Decision()
			if decided && dec != first {
				t.Fatalf("decision changed: %+v → %+v", first, dec)
			}
			if ok && !decided {
				first, decided = dec, true
			}
		}
		if want := len(data) / 2 / (rate / 50) * FrameMS; !d.Done() && d.MS() != want {
			t.Fatalf("ms %d for %d bytes, want %d", d.MS(), len(data), want)
		}
		if dec, ok := d.Decision(); ok && (dec.MS > d.MS() || dec.MS%FrameMS != 0 || dec.Result == "") {
			t.Fatalf("decision %+v at %d ms", dec, d.MS())
		}
		if b, ok := d.Beep(); ok && (b.MS+b.DurationMS > d.MS() || b.Hz < beepMinHz || b.Hz > beepMaxHz) {
			t.Fatalf("beep %+v at %d ms", b, d.MS())
		}
		if cap(d.block) != block {
			t.Fatalf("frame buffer grew: %d → %d", block, cap(d.block))
		}
	})
}

package audiofile

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sipbridge/sipbridge/internal/tone"
)

func TestG711Decode(t *testing.T) {
	for _, tc := range []struct {
		dec  func(byte) int16
		in   byte
		want int16
	}{
		{ULaw, 0xff, 0}, {ULaw, 0x7f, 0}, {ULaw, 0x80, 32124}, {ULaw, 0x00, -32124},
		{ALaw, 0xd5, 8}, {ALaw, 0x55, -8}, {ALaw, 0xaa, 32256}, {ALaw, 0x2a, -32256},
	} {
		if got := tc.dec(tc.in); got != tc.want {
			t.Errorf("%#02x: %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestToneStream(t *testing.T) {
	pcm, loop, ok := ToneStream("%(300,100,1000);loops=2")
	if !ok || loop || len(pcm) != 2*(300+100)*8 {
		t.Fatalf("ok %v loop %v, %d samples, want 6400", ok, loop, len(pcm))
	}
	if _, loop, ok := ToneStream("%(20,0,440,480);loops=-1"); !ok || !loop {
		t.Errorf("loops=-1: ok %v loop %v", ok, loop)
	}
	if _, _, ok := ToneStream("v=-7;>=2"); ok {
		t.Error("a script without a tone is found")
	}
}

// TestLoadWAVStereo16k: a 16 kHz stereo WAV is mixed to mono and read at
// 8 kHz, with its native rate.
func TestLoadWAVStereo16k(t *testing.T) {
	const frames = 320
	data := make([]byte, 44+4*frames)
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(len(data)-8))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1)
	binary.LittleEndian.PutUint16(data[22:], 2)
	binary.LittleEndian.PutUint32(data[24:], 16000)
	binary.LittleEndian.PutUint32(data[28:], 16000*4)
	binary.LittleEndian.PutUint16(data[32:], 4)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], 4*frames)
	for i := 0; i < frames; i++ {
		binary.LittleEndian.PutUint16(data[44+4*i:], 1000)
		binary.LittleEndian.PutUint16(data[46+4*i:], 3000)
	}
	path := filepath.Join(t.TempDir(), "a.wav")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pcm, rate, err := Load(path)
	if err != nil || rate != 16000 || len(pcm) != frames/2 || pcm[0] != 2000 {
		t.Fatalf("rate %d, %d samples (first %v), err %v; want 16000, 160, 2000", rate, len(pcm), pcm[:min(1, len(pcm))], err)
	}
	mp3 := filepath.Join(t.TempDir(), "a.mp3")
	if err := os.WriteFile(mp3, []byte("ID3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(mp3); !errors.Is(err, ErrFormat) {
		t.Errorf("mp3: %v, want ErrFormat", err)
	}
}

// FuzzReadWAV: any file handed to uuid_broadcast as .wav is played or
// refused, never a panic.
func FuzzReadWAV(f *testing.F) {
	seed := WAV(8000, tone.GenerateN(440, 8000, 64, 8000))
	f.Add(seed)
	f.Add(seed[:40])
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pcm, rate, err := ReadWAV(data)
		if err == nil && (rate < 1000 || len(pcm) > len(data)*8000/rate+1) {
			t.Fatalf("rate %d, %d samples from %d bytes", rate, len(pcm), len(data))
		}
	})
}

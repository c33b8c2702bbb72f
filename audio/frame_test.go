package audio

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/tone"
)

func TestL16RoundTrip(t *testing.T) {
	tests := []struct {
		name string
		le   []byte
		want []int16
	}{
		{"empty", nil, nil},
		{"little endian", []byte{0x01, 0x00, 0xff, 0xff, 0x00, 0x80, 0xff, 0x7f}, []int16{1, -1, math.MinInt16, math.MaxInt16}},
		{"odd trailing byte ignored", []byte{0x34, 0x12, 0x99}, []int16{0x1234}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendL16Samples(nil, tc.le)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("AppendL16Samples = %v, want %v", got, tc.want)
			}
			back := AppendL16Bytes(nil, got)
			if want := tc.le[:len(tc.le)/2*2]; !slices.Equal(back, want) {
				t.Errorf("AppendL16Bytes = %x, want %x", back, want)
			}
		})
	}
	// Appending keeps what is already there.
	if got := AppendL16Samples([]int16{5}, []byte{2, 0}); !slices.Equal(got, []int16{5, 2}) {
		t.Errorf("append to non-empty dst = %v", got)
	}
	if got := AppendL16Bytes([]byte{9}, []int16{0x0102}); !slices.Equal(got, []byte{9, 2, 1}) {
		t.Errorf("append to non-empty dst = %x", got)
	}
}

func TestL16NoAllocWithCapacity(t *testing.T) {
	frame := tone.New(1000, 16000, 9000).L16Frame(320)
	pcm := make([]int16, 0, 320)
	le := make([]byte, 0, 640)
	allocs := testing.AllocsPerRun(100, func() {
		pcm = AppendL16Samples(pcm[:0], frame)
		le = AppendL16Bytes(le[:0], pcm)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
	if !slices.Equal(le, frame) {
		t.Error("L16 round trip changed the frame")
	}
}

// The caller's frames recorded from a real mod_audio_stream (mono 16k): the
// first bytes of a frame must decode as small little-endian samples around
// silence, which they would not if read big-endian.
func TestL16MatchesRecordedFrames(t *testing.T) {
	frames := loadWSBinaryHeads(t, "audio-stream-ws-during-playback.jsonl")
	if len(frames) < 500 {
		t.Fatalf("only %d binary frames in the recording", len(frames))
	}
	for _, f := range frames {
		if f.Len != CallerFrameBytes {
			t.Fatalf("recorded frame of %d bytes, want %d", f.Len, CallerFrameBytes)
		}
	}
	// Frame 2 of the recording starts "fdfffeff01000100": -3, -2, 1, 1.
	got := AppendL16Samples(nil, frames[1].Head[:8])
	if want := []int16{-3, -2, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("decoded %v, want %v", got, want)
	}
}

type wsBinaryHead struct {
	Len  int
	Head []byte
}

// loadWSBinaryHeads reads the binary frames (length and first 16 bytes) of
// a mod_audio_stream websocket log from the shared fixtures.
func loadWSBinaryHeads(t *testing.T, name string) []wsBinaryHead {
	t.Helper()
	path := fixturePath(t, name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []wsBinaryHead
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		var line struct {
			Type    string `json:"type"`
			Len     int    `json:"len"`
			HeadHex string `json:"head_hex"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if line.Type != "binary" {
			continue
		}
		head, err := hex.DecodeString(line.HeadHex)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, wsBinaryHead{Len: line.Len, Head: head})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fixturePath finds ../shared/fixtures/freeswitch/<name> by walking up from
// the package directory (or SIPBRIDGE_FIXTURES_DIR); the test is skipped
// when the fixtures are not checked out.
func fixturePath(t *testing.T, name string) string {
	t.Helper()
	if d := os.Getenv("SIPBRIDGE_FIXTURES_DIR"); d != "" {
		return filepath.Join(d, name)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "fixtures", "freeswitch", name)
		if _, err := os.Stat(cand); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("fixture %s not found", name)
		}
		dir = parent
	}
}

func TestFrameConverterCarriesTone(t *testing.T) {
	tests := []struct {
		freq float64
		amp  float64
	}{
		{440, 8000},
		{1000, 12000},
		{3000, 20000},
	}
	for _, tc := range tests {
		g := tone.New(tc.freq, 16000, tc.amp)
		c := NewFrameConverter()
		var ulaw []byte
		for range 50 { // one second
			out, err := c.Convert(g.L16Frame(320))
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != MulawFrameBytes {
				t.Fatalf("converted frame is %d bytes, want %d", len(out), MulawFrameBytes)
			}
			ulaw = append(ulaw, out...)
		}
		pcm := AppendMulawDecode(nil, ulaw)[settle:]
		if f := tone.DominantFrequency(pcm, 8000); math.Abs(f-tc.freq) > 2 {
			t.Errorf("%v Hz in: %.1f Hz out", tc.freq, f)
		}
		if l := tone.Level(pcm, 8000, tc.freq); math.Abs(20*math.Log10(l/tc.amp)) > 0.5 {
			t.Errorf("%v Hz: level %.0f, want ≈%.0f", tc.freq, l, tc.amp)
		}
	}
}

func TestFrameConverterBase64MatchesConvert(t *testing.T) {
	a, b := NewFrameConverter(), NewFrameConverter()
	g := tone.New(700, 16000, 10000)
	for range 5 {
		frame := g.L16Frame(320)
		raw, err := a.Convert(frame)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := b.ConvertBase64(frame)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := base64.StdEncoding.DecodeString(string(enc))
		if err != nil {
			t.Fatalf("payload is not standard base64: %v", err)
		}
		if !slices.Equal(dec, raw) {
			t.Fatal("base64 payload differs from the raw conversion")
		}
	}
}

func TestFrameConverterRejectsOddFrame(t *testing.T) {
	c := NewFrameConverter()
	if _, err := c.Convert(make([]byte, 639)); !errors.Is(err, ErrOddFrame) {
		t.Errorf("Convert(639 bytes) error = %v, want ErrOddFrame", err)
	}
	if _, err := c.ConvertBase64(make([]byte, 3)); !errors.Is(err, ErrOddFrame) {
		t.Errorf("ConvertBase64(3 bytes) error = %v, want ErrOddFrame", err)
	}
	// Other even sizes work (mod_audio_stream could be set to other rates).
	out, err := c.Convert(make([]byte, 1280))
	if err != nil || len(out) != 320 {
		t.Errorf("Convert(1280 bytes) = %d bytes, %v; want 320", len(out), err)
	}
}

func TestFrameConverterZeroAllocs(t *testing.T) {
	c := NewFrameConverter()
	frame := tone.New(1000, 16000, 9000).L16Frame(320)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.ConvertBase64(frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

func BenchmarkCallerFrame(b *testing.B) {
	c := NewFrameConverter()
	frame := tone.New(1000, 16000, 9000).L16Frame(320)
	b.ReportAllocs()
	b.SetBytes(CallerFrameBytes)
	for b.Loop() {
		if _, err := c.ConvertBase64(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallerFrame500Parallel runs 500 converters (500 concurrent calls)
// on 500 goroutines, each converting its share of b.N frames, and reports
// the throughput per core. Real time needs 50 frames/s per call.
func BenchmarkCallerFrame500Parallel(b *testing.B) {
	const calls = 500
	convs := make([]*FrameConverter, calls)
	frames := make([][]byte, calls)
	for i := range convs {
		convs[i] = NewFrameConverter()
		frames[i] = tone.New(300+float64(i), 16000, 9000).L16Frame(320)
	}
	b.ReportAllocs()
	b.SetBytes(CallerFrameBytes)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range calls {
		n := b.N / calls
		if i < b.N%calls {
			n++
		}
		wg.Go(func() {
			c, f := convs[i], frames[i]
			for range n {
				if _, err := c.ConvertBase64(f); err != nil {
					panic(err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	perSec := float64(b.N) / elapsed
	b.ReportMetric(perSec/float64(runtime.GOMAXPROCS(0)), "frames/s/core")
	b.ReportMetric(perSec/50/float64(runtime.GOMAXPROCS(0)), "calls/core")
}

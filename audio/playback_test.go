package audio

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// toneUlaw returns ms of a tone as μ-law 8 kHz, as an assistant sends it.
func toneUlaw(freq float64, ms int) []byte {
	return tone.ULawTone(freq, ms, 10000)
}

func chunkDurations(cs []Chunk) []time.Duration {
	var d []time.Duration
	for _, c := range cs {
		d = append(d, c.Duration)
	}
	return d
}

func ms(v ...int) []time.Duration {
	var d []time.Duration
	for _, x := range v {
		d = append(d, time.Duration(x)*time.Millisecond)
	}
	return d
}

func TestPlaybackChunkSizes(t *testing.T) {
	tests := []struct {
		name      string
		writeMS   []int // one Write per entry, no time between them
		wantNow   []time.Duration
		wantAfter []time.Duration // after the idle flush
	}{
		{"short reply waits for idle", []int{60}, nil, ms(60)},
		{"exactly one first chunk", []int{160}, ms(160), nil},
		{"burst of 3 s", []int{3000}, ms(160, 800, 800, 800), ms(440)},
		{"20 ms messages, 1.1 s", slices.Repeat([]int{20}, 55), ms(160, 800), ms(140)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			p := NewPlayback(WithPlaybackClock(clk.Now))
			var got []Chunk
			for _, w := range tc.writeMS {
				got = append(got, p.Write(toneUlaw(440, w)).Chunks...)
			}
			if d := chunkDurations(got); !slices.Equal(d, tc.wantNow) {
				t.Fatalf("chunks on write: %v, want %v", d, tc.wantNow)
			}
			at, ok := p.NextFlush()
			if ok != (len(tc.wantAfter) > 0) {
				t.Fatalf("NextFlush ok=%v, want %v", ok, len(tc.wantAfter) > 0)
			}
			if ok {
				if want := clk.Now().Add(PlaybackIdleFlush); !at.Equal(want) {
					t.Errorf("NextFlush = +%v, want +%v", at.Sub(clk.Now()), PlaybackIdleFlush)
				}
				clk.Advance(PlaybackIdleFlush - time.Millisecond)
				if early := p.Tick(); len(early.Chunks) != 0 {
					t.Fatalf("Tick before the idle time sent %v", chunkDurations(early.Chunks))
				}
				clk.Advance(time.Millisecond)
			}
			after := p.Tick().Chunks
			if d := chunkDurations(after); !slices.Equal(d, tc.wantAfter) {
				t.Fatalf("chunks after idle: %v, want %v", d, tc.wantAfter)
			}
			all := append(got, after...)
			for i, c := range all {
				if c.Index != i {
					t.Errorf("chunk %d has Index %d", i, c.Index)
				}
			}
			if _, ok := p.NextFlush(); ok || p.Buffered() != 0 {
				t.Errorf("audio still buffered: %v", p.Buffered())
			}
		})
	}
}

// The messages carry the assistant's audio, decoded to L16 8 kHz: the tone
// that went in comes out, at the same frequency and level.
func TestPlaybackMessagesCarryTheAudio(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	p := NewPlayback(WithPlaybackClock(clk.Now))
	out := p.Write(toneUlaw(660, 1000))
	clk.Advance(time.Second)
	out.Chunks = append(out.Chunks, p.Tick().Chunks...)
	var pcm []int16
	for _, c := range out.Chunks {
		sa, err := ParseStreamAudio(c.Message)
		if err != nil {
			t.Fatalf("chunk %d: %v", c.Index, err)
		}
		if sa.AudioDataType != "raw" || sa.SampleRate != 8000 {
			t.Fatalf("chunk %d: %s at %d Hz", c.Index, sa.AudioDataType, sa.SampleRate)
		}
		if len(sa.Audio) != 2*c.Samples {
			t.Fatalf("chunk %d: %d bytes for %d samples", c.Index, len(sa.Audio), c.Samples)
		}
		pcm = append(pcm, sa.Samples()...)
	}
	if len(pcm) != 8000 {
		t.Fatalf("%d samples played, want 8000", len(pcm))
	}
	if f := tone.DominantFrequency(pcm, 8000); math.Abs(f-660) > 1 {
		t.Errorf("played tone at %.1f Hz, want 660", f)
	}
	if l := tone.Level(pcm, 8000, 660); math.Abs(l-10000) > 300 {
		t.Errorf("played level %.0f, want ≈10000", l)
	}
}

// A real-time-paced assistant (20 ms of audio every 20 ms) must not leave
// the caller in silence between chunks. The simulated switch needs 100 ms
// from streamAudio to the start of playback (file write, ::play event,
// uuid_broadcast) and reports the end of a file 30 ms late (PLAYBACK_STOP
// over ESL), so waiting for the end of a chunk before sending the next one
// would leave a gap at every chunk boundary.
func TestPlaybackRealTimeAssistantHasNoGaps(t *testing.T) {
	const (
		startLatency = 100 * time.Millisecond
		doneLatency  = 30 * time.Millisecond
		step         = 5 * time.Millisecond
		replyLen     = 3 * time.Second
	)
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	p := NewPlayback(WithPlaybackClock(clk.Now))
	type queued struct {
		dur     time.Duration
		readyAt time.Time
	}
	var queue []queued
	var playingEnd time.Time // zero: nothing playing
	var doneAt []time.Time   // pending PLAYBACK_STOP reports
	var firstAt, silence time.Duration
	started := false
	handle := func(o PlaybackOutput) {
		for _, c := range o.Chunks {
			queue = append(queue, queued{dur: c.Duration, readyAt: clk.Now().Add(startLatency)})
		}
	}
	for el := time.Duration(0); el <= replyLen+2*time.Second; el += step {
		now := clk.Now()
		if el%(20*time.Millisecond) == 0 && el < replyLen {
			handle(p.Write(toneUlaw(440, 20)))
		}
		if at, ok := p.NextFlush(); ok && !now.Before(at) {
			handle(p.Tick())
		}
		for len(doneAt) > 0 && !now.Before(doneAt[0]) {
			doneAt = doneAt[1:]
			handle(p.ChunkDone())
		}
		if !playingEnd.IsZero() && !now.Before(playingEnd) {
			playingEnd = time.Time{}
		}
		if playingEnd.IsZero() && len(queue) > 0 && !now.Before(queue[0].readyAt) {
			if !started {
				started, firstAt = true, el
			}
			playingEnd = now.Add(queue[0].dur)
			doneAt = append(doneAt, playingEnd.Add(doneLatency))
			queue = queue[1:]
		}
		if playingEnd.IsZero() && started && el < replyLen+startLatency {
			silence += step
		}
		clk.Advance(step)
	}
	if len(queue) != 0 || !playingEnd.IsZero() {
		t.Fatal("the reply did not finish playing")
	}
	if firstAt > PlaybackFirstChunk+startLatency+step {
		t.Errorf("first audio after %v, want ≤ %v", firstAt, PlaybackFirstChunk+startLatency)
	}
	if silence > 60*time.Millisecond {
		t.Errorf("caller heard %v of silence during a continuous reply", silence)
	}
	t.Logf("first audio after %v, silence %v", firstAt, silence)
}

func TestPlaybackMarksFollowTheAudio(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	p := NewPlayback(WithPlaybackClock(clk.Now))

	// A mark with nothing queued has played already.
	if got := p.Mark("start"); !slices.Equal(got.Marks, []string{"start"}) || len(got.Chunks) != 0 {
		t.Fatalf("Mark on idle playback = %+v", got)
	}

	out := p.Write(toneUlaw(440, 1000)) // 160 + 800, 40 ms waiting
	if d := chunkDurations(out.Chunks); !slices.Equal(d, ms(160, 800)) {
		t.Fatalf("chunks %v", d)
	}
	a := p.Mark("a") // flushes the 40 ms: chunk 2
	if d := chunkDurations(a.Chunks); !slices.Equal(d, ms(40)) || len(a.Marks) != 0 {
		t.Fatalf("Mark(a) = chunks %v marks %v, want the 40 ms remainder and no mark yet", d, a.Marks)
	}
	b := p.Write(toneUlaw(440, 500))
	if len(b.Chunks) != 0 {
		t.Fatalf("500 ms while playing sent %v, want to wait for a full chunk", chunkDurations(b.Chunks))
	}
	b = p.Mark("b") // flushes the 500 ms: chunk 3
	if d := chunkDurations(b.Chunks); !slices.Equal(d, ms(500)) {
		t.Fatalf("Mark(b) sent %v", d)
	}
	if p.Outstanding() != 4 {
		t.Fatalf("Outstanding = %d, want 4", p.Outstanding())
	}

	steps := []struct {
		done func() PlaybackOutput
		want []string
	}{
		{p.ChunkDone, nil},
		{p.ChunkDone, nil},
		{p.ChunkDone, []string{"a"}},
		{p.ChunkDone, []string{"b"}},
		{p.ChunkDone, nil}, // nothing outstanding: no-op
	}
	for i, s := range steps {
		if got := s.done(); !slices.Equal(got.Marks, s.want) {
			t.Fatalf("ChunkDone #%d released %v, want %v", i+1, got.Marks, s.want)
		}
	}
	// Back to idle: the next reply starts with a small first chunk again.
	if d := chunkDurations(p.Write(toneUlaw(440, 300)).Chunks); !slices.Equal(d, ms(160)) {
		t.Errorf("first chunk of the next reply = %v, want [160ms]", d)
	}
}

func TestPlaybackPlayedByFileName(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	p := NewPlayback(WithPlaybackClock(clk.Now))
	p.Write(toneUlaw(440, 1000)) // chunks 0, 1
	p.Mark("m1")                 // chunk 2
	p.Write(toneUlaw(440, 100))
	p.Mark("m2") // chunk 3
	const dir = "/usr/local/freeswitch/var/temp/06339eca-b552-47ba-bd51-6e66c39b4cde_"
	tests := []struct {
		file string
		want []string
		left int
	}{
		{dir + "9.tmp.r8", nil, 4},              // unknown chunk: ignored
		{dir + "0.tmp.r8", nil, 3},              // chunk 0
		{dir + "2.tmp.r8", []string{"m1"}, 1},   // chunk 2 implies chunk 1
		{dir + "1.tmp.r8", nil, 1},              // late, already counted
		{"/tmp/no-index.r8", []string{"m2"}, 0}, // no index: oldest chunk
	}
	for _, tc := range tests {
		got := p.Played(tc.file)
		if !slices.Equal(got.Marks, tc.want) || p.Outstanding() != tc.left {
			t.Fatalf("Played(%s): marks %v outstanding %d, want %v %d", tc.file, got.Marks, p.Outstanding(), tc.want, tc.left)
		}
	}
}

func TestPlaybackClear(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	p := NewPlayback(WithPlaybackClock(clk.Now))
	p.Write(toneUlaw(440, 1000)) // chunks 0 (160), 1 (800), 40 ms waiting
	p.Mark("x")                  // chunk 2
	p.Write(toneUlaw(440, 300))  // waiting
	p.Mark("y")                  // chunk 3
	p.Write(toneUlaw(440, 120))  // waiting, not sent

	got := p.Clear()
	if !slices.Equal(got.Marks, []string{"x", "y"}) || len(got.Chunks) != 0 {
		t.Fatalf("Clear() = %+v, want marks [x y] and no audio", got)
	}
	if p.Buffered() != 0 || p.Outstanding() != 0 {
		t.Errorf("after Clear: buffered %v, outstanding %d", p.Buffered(), p.Outstanding())
	}
	if _, ok := p.NextFlush(); ok {
		t.Error("NextFlush still set after Clear")
	}
	clk.Advance(time.Second)
	if out := p.Tick(); len(out.Chunks) != 0 {
		t.Errorf("dropped audio was sent after Clear: %v", chunkDurations(out.Chunks))
	}
	const dir = "/usr/local/freeswitch/var/temp/u_"
	for i := range 4 {
		if !p.Stale(dir + string(rune('0'+i)) + ".tmp.r8") {
			t.Errorf("chunk %d not stale after Clear", i)
		}
	}
	// A late PLAYBACK_STOP of a dropped chunk changes nothing.
	if out := p.Played(dir + "1.tmp.r8"); len(out.Marks)+len(out.Chunks) != 0 {
		t.Errorf("Played(stale) = %+v", out)
	}
	// New audio: a small first chunk again; indices keep counting, as
	// mod_audio_stream's file counter does.
	out := p.Write(toneUlaw(440, 200))
	if len(out.Chunks) != 1 || out.Chunks[0].Index != 4 || out.Chunks[0].Duration != PlaybackFirstChunk {
		t.Fatalf("after Clear: %+v", out.Chunks)
	}
	if p.Stale(dir+"4.tmp.r8") || p.Stale("/no/index") {
		t.Error("new chunk reported stale")
	}
	if out := p.Mark("z"); len(out.Marks) != 0 {
		t.Errorf("mark z released before its audio played")
	}
	if got := p.ChunkDone().Marks; len(got) != 0 {
		t.Errorf("mark z released before the 40 ms chunk played: %v", got)
	}
	if got := p.ChunkDone().Marks; !slices.Equal(got, []string{"z"}) {
		t.Errorf("mark z: %v", got)
	}
}

func TestPlaybackOptions(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	p := NewPlayback(WithPlaybackClock(clk.Now), WithChunkSizes(100*time.Millisecond, 500*time.Millisecond), WithIdleFlush(30*time.Millisecond))
	out := p.Write(toneUlaw(440, 1200))
	if d := chunkDurations(out.Chunks); !slices.Equal(d, ms(100, 500, 500)) {
		t.Errorf("chunks %v, want [100 500 500]", d)
	}
	if at, _ := p.NextFlush(); at.Sub(clk.Now()) != 30*time.Millisecond {
		t.Errorf("idle flush after %v, want 30ms", at.Sub(clk.Now()))
	}
	if d := chunkDurations(p.Flush().Chunks); !slices.Equal(d, ms(100)) {
		t.Errorf("Flush sent %v", d)
	}
}

func TestAppendStreamAudioMatchesRecording(t *testing.T) {
	// The recorded server message (0.5 s of 660 Hz) was 10754 bytes with
	// this exact prefix.
	msg := AppendStreamAudio(nil, tone.Generate(660, 8000, 500, 8000), 8000)
	const prefix = `{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"`
	if !strings.HasPrefix(string(msg), prefix) || !strings.HasSuffix(string(msg), `"}}`) {
		t.Errorf("message shape: %.120s", msg)
	}
	if len(msg) != 10754 {
		t.Errorf("0.5 s message is %d bytes, the recorded one was 10754", len(msg))
	}
	var v struct {
		Type string `json:"type"`
		Data struct {
			AudioDataType string `json:"audioDataType"`
			SampleRate    int    `json:"sampleRate"`
			AudioData     string `json:"audioData"`
		} `json:"data"`
	}
	if err := json.Unmarshal(msg, &v); err != nil {
		t.Fatal(err)
	}
	le, err := base64.StdEncoding.DecodeString(v.Data.AudioData)
	if err != nil || len(le) != 8000 {
		t.Fatalf("audioData: %d bytes, %v", len(le), err)
	}
	// The recorded audioData begins "AAB7D+Ua": samples 0, 3963, 6885 of a
	// 660 Hz sine, little endian — the byte order we write.
	rec, _ := base64.StdEncoding.DecodeString("AAB7D+Ua")
	if got := AppendL16Samples(nil, rec); !slices.Equal(got, []int16{0, 3963, 6885}) {
		t.Errorf("recorded samples decode as %v", got)
	}
}

func TestParsePlayEventFromRecording(t *testing.T) {
	body := recordedPlayBody(t)
	e, err := ParsePlayEvent([]byte(body))
	if err != nil {
		t.Fatalf("ParsePlayEvent(%s): %v", body, err)
	}
	if e.AudioDataType != "raw" || e.SampleRate != 8000 || !strings.HasSuffix(e.File, "_0.tmp.r8") {
		t.Errorf("play event = %+v", e)
	}
	if n, ok := e.Index(); !ok || n != 0 {
		t.Errorf("Index() = %d, %v; want 0", n, ok)
	}
}

// recordedPlayBody returns the _body of the mod_audio_stream::play event in
// the audio-stream-mono-8k recording.
func recordedPlayBody(t *testing.T) string {
	t.Helper()
	f, err := os.Open(fixturePath(t, "audio-stream-mono-8k.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		var fr struct {
			Dir string `json:"dir"`
			Raw string `json:"raw"`
		}
		if err := json.Unmarshal(sc.Bytes(), &fr); err != nil {
			t.Fatal(err)
		}
		_, body, ok := strings.Cut(fr.Raw, "\n\n")
		if fr.Dir != "s2c" || !ok || !strings.Contains(fr.Raw, "text/event-json") {
			continue
		}
		var ev map[string]any
		if json.Unmarshal([]byte(body), &ev) != nil || ev["Event-Subclass"] != "mod_audio_stream::play" {
			continue
		}
		if b, ok := ev["_body"].(string); ok {
			return b
		}
	}
	t.Fatal("no mod_audio_stream::play event in the recording")
	return ""
}

func TestParsePlayEvent(t *testing.T) {
	tests := []struct {
		name string
		body string
		file string
		err  bool
	}{
		{"recorded shape", `{"audioDataType":"raw","sampleRate":8000,"file":"/usr/local/freeswitch/var/temp/abc_3.tmp.r8"}`, "/usr/local/freeswitch/var/temp/abc_3.tmp.r8", false},
		{"wav", `{"audioDataType":"wav","file":"/tmp/abc_0.tmp.wav"}`, "/tmp/abc_0.tmp.wav", false},
		{"no file", `{"audioDataType":"raw","sampleRate":8000}`, "", true},
		{"relative path", `{"file":"abc_0.tmp.r8"}`, "", true},
		{"dot dot", `{"file":"/tmp/../etc/passwd"}`, "", true},
		{"newline injection", `{"file":"/tmp/a_0.tmp.r8\nuuid_kill x"}`, "", true},
		{"not json", `file=/tmp/x`, "", true},
		{"file not a string", `{"file":5}`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParsePlayEvent([]byte(tc.body))
			if tc.err {
				if !errors.Is(err, ErrBadPlayEvent) {
					t.Fatalf("error = %v, want ErrBadPlayEvent", err)
				}
				return
			}
			if err != nil || e.File != tc.file {
				t.Fatalf("got %+v, %v", e, err)
			}
		})
	}
}

func TestPlayFileIndex(t *testing.T) {
	tests := []struct {
		file string
		n    int
		ok   bool
	}{
		{"/usr/local/freeswitch/var/temp/06339eca-b552-47ba-bd51-6e66c39b4cde_0.tmp.r8", 0, true},
		{"/t/u_17.tmp.r16", 17, true},
		{"/t/u_v_2.tmp.wav", 2, true},
		{"/t/u_.tmp.r8", 0, false},
		{"/t/u_-1.tmp.r8", 0, false},
		{"/t/u_+1.tmp.r8", 0, false},
		{"/t/u_x.tmp.r8", 0, false},
		{"/t/u_3.r8", 0, false},
		{"/t/u3.tmp.r8", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		n, ok := PlayFileIndex(tc.file)
		if n != tc.n || ok != tc.ok {
			t.Errorf("PlayFileIndex(%q) = %d, %v; want %d, %v", tc.file, n, ok, tc.n, tc.ok)
		}
	}
}

func TestParseStreamAudio(t *testing.T) {
	good := string(AppendStreamAudio(nil, []int16{1, -2, 3}, 16000))
	tests := []struct {
		name string
		msg  string
		err  bool
	}{
		{"ours", good, false},
		{"wav", `{"type":"streamAudio","data":{"audioDataType":"wav","audioData":"UklGRg=="}}`, false},
		{"wrong type", `{"type":"other","data":{"audioDataType":"raw","sampleRate":8000,"audioData":""}}`, true},
		{"no data", `{"type":"streamAudio"}`, true},
		{"raw at odd rate", `{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":11025,"audioData":""}}`, true},
		{"bad base64", `{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"@@"}}`, true},
		{"not json", `streamAudio`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseStreamAudio([]byte(tc.msg))
			if tc.err {
				if !errors.Is(err, ErrBadPlayEvent) {
					t.Fatalf("error = %v, want ErrBadPlayEvent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "ours" && (a.SampleRate != 16000 || !slices.Equal(a.Samples(), []int16{1, -2, 3})) {
				t.Errorf("decoded %+v", a)
			}
			if tc.name == "wav" && a.Samples() != nil {
				t.Error("Samples() of wav data must be nil")
			}
		})
	}
}

func FuzzParsePlayEvent(f *testing.F) {
	f.Add([]byte(`{"audioDataType":"raw","sampleRate":8000,"file":"/usr/local/freeswitch/var/temp/06339eca-b552-47ba-bd51-6e66c39b4cde_0.tmp.r8"}`))
	f.Add([]byte(`{"file":"/t/u_99999999999999999999.tmp.r8"}`))
	f.Add([]byte(`{"file":"/a/../b"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParsePlayEvent(body)
		if err != nil {
			if !errors.Is(err, ErrBadPlayEvent) {
				t.Fatalf("error outside ErrBadPlayEvent: %v", err)
			}
			return
		}
		if !strings.HasPrefix(e.File, "/") || strings.ContainsAny(e.File, "\r\n\x00") {
			t.Fatalf("unsafe file accepted: %q", e.File)
		}
		if n, ok := e.Index(); ok && n < 0 {
			t.Fatalf("negative index %d", n)
		}
	})
}

func FuzzParseStreamAudio(f *testing.F) {
	f.Add(AppendStreamAudio(nil, []int16{0, 100, -100}, 8000))
	f.Add([]byte(`{"type":"streamAudio","data":{"audioDataType":"mp3","audioData":""}}`))
	f.Add([]byte(`{"type":"streamAudio","data":null}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, err := ParseStreamAudio(msg)
		if err != nil {
			if !errors.Is(err, ErrBadPlayEvent) {
				t.Fatalf("error outside ErrBadPlayEvent: %v", err)
			}
			return
		}
		if a.AudioDataType == "raw" {
			s := a.Samples()
			if len(s) != len(a.Audio)/2 {
				t.Fatalf("%d samples from %d bytes", len(s), len(a.Audio))
			}
			// Re-encoding whole samples gives the same bytes.
			back := AppendStreamAudio(nil, s, a.SampleRate)
			again, err := ParseStreamAudio(back)
			if err != nil || !slices.Equal(again.Samples(), s) {
				t.Fatalf("round trip failed: %v", err)
			}
		}
	})
}

// At 16 kHz (an l16_16k assistant) the chunks carry its L16 as sent, at
// sampleRate 16000, with a 6 kHz tone (which 8 kHz cannot carry) intact;
// payloads split inside a sample are joined; chunk sizes are the same
// durations as at 8 kHz.
func TestPlaybackWideband(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	p := NewPlayback(WithPlaybackClock(clk.Now), WithPlaybackRate(PlaybackWidebandRate))
	le := tone.L16(tone.Generate(6000, 16000, 1000, 10000))
	var out PlaybackOutput
	for len(le) > 0 { // 333-byte payloads: most end inside a sample
		n := min(333, len(le))
		o := p.WriteL16(le[:n])
		out.Chunks = append(out.Chunks, o.Chunks...)
		le = le[n:]
	}
	clk.Advance(time.Second)
	out.Chunks = append(out.Chunks, p.Tick().Chunks...)
	if d := chunkDurations(out.Chunks); len(d) == 0 || d[0] != PlaybackFirstChunk {
		t.Errorf("chunk durations %v, want a first chunk of %v", d, PlaybackFirstChunk)
	}
	var pcm []int16
	for _, c := range out.Chunks {
		sa, err := ParseStreamAudio(c.Message)
		if err != nil || sa.SampleRate != 16000 || len(sa.Audio) != 2*c.Samples {
			t.Fatalf("chunk %d: %v, %d Hz, %d bytes for %d samples", c.Index, err, sa.SampleRate, len(sa.Audio), c.Samples)
		}
		pcm = append(pcm, sa.Samples()...)
	}
	if !slices.Equal(pcm, tone.Generate(6000, 16000, 1000, 10000)) {
		t.Fatalf("%d samples played, not the 16000 sent", len(pcm))
	}
	if NewPlayback(WithPlaybackRate(44100)).cfg.rate != PlaybackSampleRate {
		t.Error("an unsupported rate was taken")
	}
}

// L16ToMulaw: an l16_16k reply for a G.711 pipe, split anywhere, is the
// same μ-law as converted whole, its in-band tone intact.
func TestL16ToMulaw(t *testing.T) {
	le := tone.L16(tone.Generate(1000, 16000, 500, 12000))
	whole := append([]byte(nil), NewL16ToMulaw().Convert(le)...)
	c := NewL16ToMulaw()
	var split []byte
	for i := 0; i < len(le); i += 101 {
		split = append(split, c.Convert(le[i:min(i+101, len(le))])...)
	}
	if len(whole) != 4000 || !slices.Equal(split, whole) {
		t.Fatalf("split %d bytes, whole %d (want 4000, equal)", len(split), len(whole))
	}
	pcm := AppendMulawDecode(nil, whole)[settle:]
	if f := tone.DominantFrequency(pcm, 8000); math.Abs(f-1000) > 2 {
		t.Errorf("1000 Hz in, %.1f Hz out", f)
	}
}

// Package amdtest is the callee audio answering machine detection is tested
// with outside audio/amd: the spoken greetings of testdata/greetings
// (text-to-speech, 8 kHz μ-law; gen.go there made them, see
// BENCHMARKS.md), and Answer, which lays one out as a callee's line plays
// it after the answer (line noise, the greeting, a voicemail's beep).
// It is for tests only.
package amdtest

import (
	"bytes"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"sort"
	"strings"

	"github.com/sipbridge/sipbridge/audio"
)

//go:embed testdata/greetings/*.wav
var greetings embed.FS

// Greetings are the names of the spoken greetings (their file names
// without .wav): human_… a person answering ("Hello?"), machine_… a
// voicemail's greeting (cut at 4 s).
func Greetings() []string {
	ents, _ := greetings.ReadDir("testdata/greetings")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".wav"))
	}
	sort.Strings(out)
	return out
}

// Greeting returns the samples of a spoken greeting, at 8 kHz.
func Greeting(name string) ([]int16, error) {
	b, err := greetings.ReadFile(path.Join("testdata/greetings", name+".wav"))
	if err != nil {
		return nil, err
	}
	return ReadMulawWAV(b)
}

var errNotMulaw = errors.New("amdtest: not an 8 kHz μ-law WAV")

// ReadMulawWAV decodes the samples of an 8 kHz μ-law WAV.
func ReadMulawWAV(b []byte) ([]int16, error) {
	i := bytes.Index(b, []byte("data"))
	if len(b) < 28 || !bytes.HasPrefix(b, []byte("RIFF")) || i < 0 || len(b) < i+8 ||
		binary.LittleEndian.Uint16(b[20:]) != 7 || binary.LittleEndian.Uint32(b[24:]) != 8000 {
		return nil, errNotMulaw
	}
	ulaw := b[i+8:]
	pcm := make([]int16, len(ulaw))
	audio.MulawDecode(pcm, ulaw)
	return pcm, nil
}

// Answer is what a callee's line plays from the answer: LeadMS of line
// noise, the greeting, and for a voicemail BeepGapMS later a beep of
// BeepMS at BeepHz, then TailMS of line noise. The line noise is white at
// -60 dBFS, the same on every render.
type Answer struct {
	Greeting  string  // one of Greetings ("": none, line noise only)
	LeadMS    int     // before the greeting
	BeepGapMS int     // from the greeting's end to the beep
	BeepMS    int     // the beep's length (0: no beep)
	BeepHz    float64 // the beep's frequency (0: 1,000 Hz)
	TailMS    int     // after the last sound
}

// Rendered is an Answer's audio and where its parts are.
type Rendered struct {
	PCM8        []int16 // 8 kHz, as the line carries it
	GreetingEnd int     // ms at which the greeting ends
	BeepAt      int     // ms at which the beep starts (-1: none)
	BeepEnd     int     // ms at which it ends (-1: none)
}

// Render lays the answer out at 8 kHz.
func (a Answer) Render() (Rendered, error) {
	var speech []int16
	if a.Greeting != "" {
		var err error
		if speech, err = Greeting(a.Greeting); err != nil {
			return Rendered{}, fmt.Errorf("greeting %q: %w", a.Greeting, err)
		}
	}
	const perMS = 8
	lead, gap, beep := a.LeadMS*perMS, a.BeepGapMS*perMS, a.BeepMS*perMS
	if beep == 0 {
		gap = 0
	}
	n := lead + len(speech) + gap + beep + a.TailMS*perMS
	buf := make([]float64, n)
	for i, v := range speech {
		buf[lead+i] = float64(v)
	}
	r := Rendered{GreetingEnd: (lead + len(speech)) / perMS, BeepAt: -1, BeepEnd: -1}
	if beep > 0 {
		hz := a.BeepHz
		if hz == 0 {
			hz = 1000
		}
		at := lead + len(speech) + gap
		for i := range beep {
			buf[at+i] += 8000 * math.Sin(2*math.Pi*hz*float64(i)/8000)
		}
		r.BeepAt, r.BeepEnd = at/perMS, (at+beep)/perMS
	}
	rng := rand.New(rand.NewPCG(uint64(n), 60))
	noise := 32768 * math.Pow(10, -60.0/20)
	r.PCM8 = make([]int16, n)
	for i, v := range buf {
		r.PCM8[i] = int16(math.Max(-32768, math.Min(32767, math.Round(v+noise*rng.NormFloat64()))))
	}
	return r, nil
}

// L16 is the rendered audio as mod_audio_stream sends it to sipbridge:
// through μ-law (the G.711 leg), up to 16 kHz, L16 little endian.
func (r Rendered) L16() []byte {
	ulaw := make([]byte, len(r.PCM8))
	audio.MulawEncode(ulaw, r.PCM8)
	pcm8 := make([]int16, len(ulaw))
	audio.MulawDecode(pcm8, ulaw)
	return audio.AppendL16Bytes(nil, audio.NewUpsampler8to16().Process(nil, pcm8))
}

//go:build ignore

// gen makes the TTS greetings of this folder: each text spoken by
// espeak-ng (22,050 Hz WAV on stdout), resampled to 8 kHz, leading and
// trailing silence trimmed, a machine's cut at 4 s, written as 8 kHz μ-law
// WAV (what a G.711 leg carries). Run from this folder, with espeak-ng
// installed:
//
//	go run gen.go
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"

	"github.com/sipbridge/sipbridge/audio"
)

var greetings = []struct{ file, voice, speed, text string }{
	{"human_hello_us.wav", "en-us", "160", "Hello?"},
	{"human_hello_gb_f.wav", "en-gb+f3", "170", "Hello."},
	{"human_yes_f.wav", "en-us+f2", "165", "Yes?"},
	{"human_whos_this.wav", "en-gb+m3", "175", "Hi, who's this?"},
	{"machine_mark.wav", "en-us", "165", "Hi, you've reached Mark. I can't take your call right now, please leave a message after the tone."},
	{"machine_unavailable_f.wav", "en-us+f4", "160", "The person you are calling is not available. Please leave your message after the beep."},
	{"machine_number_gb.wav", "en-gb+m3", "170", "Hello, you have reached five five five, zero one two three. Please leave a message."},
	{"machine_office_f.wav", "en-gb+f2", "175", "Thanks for calling Acme Dental. Our office is now closed. Please leave your name and number."},
}

func main() {
	for _, g := range greetings {
		out, err := exec.Command("espeak-ng", "-v", g.voice, "-s", g.speed, "--stdout", g.text).Output()
		if err != nil {
			panic(err)
		}
		pcm := trim(resample(wavSamples(out), 22050, 8000))
		if len(pcm) > 4*8000 {
			pcm = pcm[:4*8000]
		}
		ulaw := make([]byte, len(pcm))
		audio.MulawEncode(ulaw, pcm)
		if err := os.WriteFile(g.file, mulawWAV(ulaw), 0o644); err != nil {
			panic(err)
		}
		fmt.Printf("%s %d ms\n", g.file, len(pcm)/8)
	}
}

// wavSamples returns the 16-bit samples of a canonical PCM WAV.
func wavSamples(b []byte) []int16 {
	i := bytes.Index(b, []byte("data"))
	data := b[i+8:]
	s := make([]int16, len(data)/2)
	for k := range s {
		s[k] = int16(binary.LittleEndian.Uint16(data[2*k:]))
	}
	return s
}

// resample converts by windowed-sinc interpolation, low-passed at 3.6 kHz.
func resample(in []int16, from, to float64) []int16 {
	out := make([]int16, int(float64(len(in))*to/from))
	cut := 3600 / from
	const half = 32
	for n := range out {
		t := float64(n) * from / to
		c := int(t)
		acc := 0.0
		for k := c - half; k <= c+half; k++ {
			if k < 0 || k >= len(in) {
				continue
			}
			x := t - float64(k)
			w := 0.5 + 0.5*math.Cos(math.Pi*x/(half+1)) // Hann
			h := 2 * cut
			if x != 0 {
				h = math.Sin(2*math.Pi*cut*x) / (math.Pi * x)
			}
			acc += float64(in[k]) * h * w
		}
		out[n] = int16(math.Max(-32768, math.Min(32767, math.Round(acc))))
	}
	return out
}

// trim drops the leading and trailing samples below -50 dBFS.
func trim(s []int16) []int16 {
	loud := func(v int16) bool { return math.Abs(float64(v)) > 104 }
	a, b := 0, len(s)
	for a < b && !loud(s[a]) {
		a++
	}
	for b > a && !loud(s[b-1]) {
		b--
	}
	return s[a:b]
}

// mulawWAV wraps 8 kHz μ-law bytes in a WAV header (format 7).
func mulawWAV(ulaw []byte) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(4 + 26 + 8 + len(ulaw)))
	b.WriteString("WAVEfmt ")
	w(uint32(18))
	w(uint16(7))    // μ-law
	w(uint16(1))    // mono
	w(uint32(8000)) // rate
	w(uint32(8000)) // bytes per second
	w(uint16(1))    // block align
	w(uint16(8))    // bits per sample
	w(uint16(0))    // extension size
	b.WriteString("data")
	w(uint32(len(ulaw)))
	b.Write(ulaw)
	return b.Bytes()
}

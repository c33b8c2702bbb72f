package fstest

import (
	"math"
	"strconv"
	"strings"
)

// tone_stream:// paths (mod_tone_stream, TGML), as uuid_broadcast plays
// them: segments separated by ';', each `%(on,off,freq[,freq…])` — on ms
// of the frequencies mixed, then off ms of silence — and `loops=N` (the
// whole script N times; -1: until a break). The real switch played
// `tone_stream://%(300,0,1000)` like a file: PLAYBACK_START, 300 ms,
// PLAYBACK_STOP (done), FILE PLAYED (e2e TestConformance). Other TGML
// (v=, L=, >=, named tones) is skipped; a script with no tone is not
// found.

const toneStreamPrefix = "tone_stream://"

// toneStream renders a TGML script as 8 kHz samples, once; loop reports
// whether it repeats until broken.
func toneStream(spec string) (samples []int16, loop bool, ok bool) {
	loops := 1
	for _, seg := range strings.Split(spec, ";") {
		seg = strings.TrimSpace(seg)
		if v, found := strings.CutPrefix(seg, "loops="); found {
			if n, err := strconv.Atoi(v); err == nil {
				loops = n
			}
			continue
		}
		if !strings.HasPrefix(seg, "%(") || !strings.HasSuffix(seg, ")") {
			continue
		}
		f := strings.Split(seg[2:len(seg)-1], ",")
		if len(f) < 3 {
			continue
		}
		on, err1 := strconv.Atoi(strings.TrimSpace(f[0]))
		off, err2 := strconv.Atoi(strings.TrimSpace(f[1]))
		if err1 != nil || err2 != nil || on < 0 || off < 0 {
			continue
		}
		var freqs []float64
		for _, x := range f[2:] {
			if hz, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && hz > 0 {
				freqs = append(freqs, hz)
			}
		}
		n := 8 * on
		for i := 0; i < n; i++ {
			var v float64
			for _, hz := range freqs {
				v += math.Sin(2 * math.Pi * hz * float64(i) / 8000)
			}
			if len(freqs) > 0 {
				v /= float64(len(freqs))
			}
			samples = append(samples, int16(8000*v))
		}
		samples = append(samples, make([]int16, 8*off)...)
	}
	if len(samples) == 0 || loops == 0 {
		return nil, false, false
	}
	if loops < 0 {
		return samples, true, true
	}
	once := samples
	for i := 1; i < loops; i++ {
		samples = append(samples, once...)
	}
	return samples, false, true
}

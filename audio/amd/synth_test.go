package amd

import (
	"math"
	"math/rand/v2"

	"github.com/sipbridge/sipbridge/audio"
)

// The synthesized corpus: greetings made by code, deterministic per seed.
// It is not recorded speech; see BENCHMARKS.md for what it stands for.

const synthRate = 16000

// sample is one synthesized answer: the callee's audio as sipbridge gets
// it (16 kHz after a G.711 μ-law leg at 8 kHz), and what it is.
type sample struct {
	class    string // human, machine, silence, noise, music
	want     Result
	pcm16    []int16
	pcm8     []int16 // the same audio on the 8 kHz leg
	speechMS int     // start of the first speech (-1: none)
	greetMS  int     // end of the first greeting (human) (-1: none)
	beepMS   int     // start of the beep (-1: none)
	beepHz   float64
}

// synth makes one sample of class from seed.
func synth(class string, seed uint64) sample {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	s := sample{class: class, speechMS: -1, greetMS: -1, beepMS: -1}
	var buf []float64
	switch class {
	case "human":
		s.want, buf = Human, synthHuman(rng, &s)
	case "machine":
		s.want, buf = Machine, synthMachine(rng, &s)
	case "silence":
		s.want, buf = Unknown, make([]float64, 6*synthRate)
	case "noise":
		s.want, buf = Unknown, synthNoise(rng)
	case "music":
		s.want, buf = Machine, synthMusic(rng)
	case "human_long":
		s.want, buf = Human, synthHumanLong(rng, &s)
	case "human_noisy":
		s.want, buf = Human, synthHuman(rng, &s)
		addNoise(buf, rng, between(rng, -42, -32)) // a street, a car
	case "machine_short":
		s.want, buf = Machine, synthMachineShort(rng, &s)
	default:
		panic("unknown class " + class)
	}
	if class != "silence" || rng.IntN(2) == 0 { // half the silences are digital
		addNoise(buf, rng, -70+15*rng.Float64()) // line noise -70 to -55 dBFS
	}
	s.pcm8, s.pcm16 = telephone(buf)
	return s
}

// telephone passes 16 kHz audio through what a call does to it: down to
// 8 kHz, μ-law and back, up to 16 kHz (as FreeSWITCH feeds
// mod_audio_stream from a G.711 leg).
func telephone(buf []float64) (pcm8, pcm16 []int16) {
	in := make([]int16, len(buf))
	for i, v := range buf {
		in[i] = int16(math.Max(-32768, math.Min(32767, math.Round(v))))
	}
	pcm8 = audio.NewDownsampler16to8().Process(nil, in)
	ulaw := make([]byte, len(pcm8))
	audio.MulawEncode(ulaw, pcm8)
	audio.MulawDecode(pcm8, ulaw)
	pcm16 = audio.NewUpsampler8to16().Process(nil, pcm8)
	return pcm8, pcm16
}

func ms(n int) int          { return n * 1000 / synthRate }
func samples(s float64) int { return int(s * synthRate) }
func between(rng *rand.Rand, lo, hi float64) float64 {
	return lo + (hi-lo)*rng.Float64()
}

// dbToAmp is the RMS amplitude (of 32768 full scale) of a level in dBFS.
func dbToAmp(db float64) float64 { return 32768 * math.Pow(10, db/20) }

// addNoise adds white noise at db dBFS RMS.
func addNoise(buf []float64, rng *rand.Rand, db float64) {
	a := dbToAmp(db)
	for i := range buf {
		buf[i] += a * rng.NormFloat64()
	}
}

// synthHuman: a short "Hello?" (0.4–1.5 s) after 0.1–0.4 s, then silence,
// or a second short phrase after a pause of 0.9–1.6 s.
func synthHuman(rng *rand.Rand, s *sample) []float64 {
	buf := make([]float64, samples(6))
	voice := newVoice(rng)
	at := samples(between(rng, 0.1, 0.4))
	s.speechMS = ms(at)
	end := voice.phrase(buf, at, samples(between(rng, 0.4, 1.5)), 0.04, 0.15)
	s.greetMS = ms(end)
	if rng.IntN(2) == 0 {
		at = end + samples(between(rng, 0.9, 1.6))
		voice.phrase(buf, at, samples(between(rng, 0.3, 1.0)), 0.04, 0.15)
	}
	return buf
}

// synthMachine: a greeting of 2.5–12 s of words with gaps under 300 ms
// after 0.2–1.5 s, half of them followed by a beep.
func synthMachine(rng *rand.Rand, s *sample) []float64 {
	lead := between(rng, 0.2, 1.5)
	greet := between(rng, 2.5, 12)
	buf := make([]float64, samples(lead+greet+4))
	voice := newVoice(rng)
	at := samples(lead)
	s.speechMS = ms(at)
	end := voice.phrase(buf, at, samples(greet), 0.05, 0.28)
	if rng.IntN(2) == 0 {
		start := end + samples(between(rng, 0, 0.8))
		hz := []float64{440, 500, 850, 1000, 1400, 2000}[rng.IntN(6)]
		if rng.IntN(2) == 0 {
			hz = between(rng, 400, 2000)
		}
		tone(buf, start, samples(between(rng, 0.2, 1.0)), hz, between(rng, -24, -8))
		s.beepMS, s.beepHz = ms(start), hz
	}
	return buf
}

// tone writes a sine of hz at db dBFS RMS with 5 ms ramps.
func tone(buf []float64, at, n int, hz, db float64) {
	a := dbToAmp(db) * math.Sqrt2
	ramp := samples(0.005)
	for i := 0; i < n && at+i < len(buf); i++ {
		g := math.Min(1, math.Min(float64(i), float64(n-1-i))/float64(ramp))
		buf[at+i] += g * a * math.Sin(2*math.Pi*hz*float64(i)/synthRate)
	}
}

// synthNoise: 6 s of steady noise, white or low-passed (rumble), -50 to
// -30 dBFS.
func synthNoise(rng *rand.Rand) []float64 {
	buf := make([]float64, samples(6))
	addNoise(buf, rng, between(rng, -50, -30))
	if rng.IntN(2) == 0 {
		y := 0.0
		for i, v := range buf {
			y = 0.9*y + 0.1*v
			buf[i] = y * 4.4 // about the white noise's level
		}
	}
	return buf
}

// synthMusic: 6 s of notes of 150–500 ms one after another (a melody of
// steady tones, some with an octave), some played as two-note chords.
func synthMusic(rng *rand.Rand) []float64 {
	buf := make([]float64, samples(6))
	scale := []float64{262, 294, 330, 392, 440, 523, 587, 659, 784, 880, 1047}
	db := between(rng, -30, -10)
	chords := rng.IntN(3) == 0
	prev := -1
	for at := samples(between(rng, 0.1, 0.5)); at < len(buf); {
		n := samples(between(rng, 0.15, 0.5))
		k := rng.IntN(len(scale))
		if k == prev {
			k = (k + 1) % len(scale)
		}
		prev = k
		tone(buf, at, n, scale[k], db)
		if chords {
			tone(buf, at, n, scale[(k+2)%len(scale)], db-3)
		} else if rng.IntN(2) == 0 {
			tone(buf, at, n, 2*scale[k], db-12)
		}
		at += n
	}
	return buf
}

// The hard cases, where cadence alone is known to fail.

// synthHumanLong: a person who answers with a sentence of 1.5–3 s
// ("Hello, this is Anna speaking") and then waits.
func synthHumanLong(rng *rand.Rand, s *sample) []float64 {
	buf := make([]float64, samples(7))
	at := samples(between(rng, 0.1, 0.4))
	s.speechMS = ms(at)
	s.greetMS = ms(newVoice(rng).phrase(buf, at, samples(between(rng, 1.5, 3)), 0.04, 0.2))
	return buf
}

// synthMachineShort: a terse voicemail ("Leave a message.") of 1–2.5 s,
// a pause of 0.3–1.5 s, then its beep.
func synthMachineShort(rng *rand.Rand, s *sample) []float64 {
	buf := make([]float64, samples(7))
	at := samples(between(rng, 0.2, 1))
	s.speechMS = ms(at)
	end := newVoice(rng).phrase(buf, at, samples(between(rng, 1, 2.5)), 0.05, 0.25)
	start := end + samples(between(rng, 0.3, 1.5))
	s.beepMS, s.beepHz = ms(start), between(rng, 400, 2000)
	tone(buf, start, samples(between(rng, 0.2, 0.8)), s.beepHz, between(rng, -24, -8))
	return buf
}

package echo

import (
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// DigitToneLength is how long a digit's tone plays; digitGap is the
// silence after it, so that repeated digits stay apart.
const (
	DigitToneLength = 200 * time.Millisecond
	digitGap        = 60 * time.Millisecond
)

// digitToneAmplitude is each of a digit's two tones' peak (about -14 dBFS
// each, -8 dBFS together: loud, never clipping).
const digitToneAmplitude = 6500

// DigitFrequencies returns the two tones (low, high) of a DTMF key: 0-9,
// *, # and A-D (either case); ok is false for anything else.
func DigitFrequencies(digit string) (low, high float64, ok bool) {
	const keys = "123A456B789C*0#D"
	lows := [4]float64{697, 770, 852, 941}
	highs := [4]float64{1209, 1336, 1477, 1633}
	if len(digit) != 1 {
		return 0, 0, false
	}
	i := strings.IndexByte(keys, strings.ToUpper(digit)[0])
	if i < 0 {
		return 0, 0, false
	}
	return lows[i/4], highs[i%4], true
}

// DigitTone returns d of the digit's DTMF tone pair at 8 kHz, or nil for
// a key that has none.
func DigitTone(digit string, d time.Duration) []int16 {
	low, high, ok := DigitFrequencies(digit)
	if !ok || d <= 0 {
		return nil
	}
	ms := int(d / time.Millisecond)
	a := tone.Generate(low, assistant.TwilioSampleRate, ms, digitToneAmplitude)
	mix(a, tone.Generate(high, assistant.TwilioSampleRate, ms, digitToneAmplitude))
	return a
}

package assistant

import "github.com/sipbridge/sipbridge/internal/testkit/tone"

// The tone helpers below forward to internal/testkit/tone, where tests
// find them now. They stay only for the web/ and controller/ tests that
// still call them; delete this file once those use testkit/tone.

// ToneGenerator is tone.Generator.
//
// Deprecated: use tone.Generator.
type ToneGenerator = tone.Generator

// GenerateTone is tone.Generate.
//
// Deprecated: use tone.Generate.
func GenerateTone(freqHz float64, sampleRate, ms int, amplitude float64) []int16 {
	return tone.Generate(freqHz, sampleRate, ms, amplitude)
}

// NewToneGenerator is tone.New.
//
// Deprecated: use tone.New.
func NewToneGenerator(freqHz float64, sampleRate int, amplitude float64) *ToneGenerator {
	return tone.New(freqHz, sampleRate, amplitude)
}

// ToneLevel is tone.Level.
//
// Deprecated: use tone.Level.
func ToneLevel(samples []int16, sampleRate int, freq float64) float64 {
	return tone.Level(samples, sampleRate, freq)
}

// RMS is tone.RMS.
//
// Deprecated: use tone.RMS.
func RMS(samples []int16) float64 { return tone.RMS(samples) }

// DominantFrequency is tone.DominantFrequency.
//
// Deprecated: use tone.DominantFrequency.
func DominantFrequency(samples []int16, sampleRate int, candidates ...float64) float64 {
	return tone.DominantFrequency(samples, sampleRate, candidates...)
}

// EstimateFrequency is tone.EstimateFrequency.
//
// Deprecated: use tone.EstimateFrequency.
func EstimateFrequency(samples []int16, sampleRate int) float64 {
	return tone.EstimateFrequency(samples, sampleRate)
}

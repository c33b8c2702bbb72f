//go:build race

package amd

// corpusDivisor: under the race detector (ten times slower) the corpus
// test runs a sixth of the corpus; the figures come from a normal run.
const corpusDivisor = 6

//go:build !race

package amd

const corpusDivisor = 1

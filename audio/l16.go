package audio

import "encoding/binary"

// L16 is what mod_audio_stream sends and accepts: signed 16-bit linear PCM,
// little endian, no header. These helpers append, so a caller that keeps
// its buffers converts without allocating.

// AppendL16Samples decodes little-endian L16 bytes and appends the samples
// to dst. A trailing odd byte is ignored (it is not a whole sample).
func AppendL16Samples(dst []int16, le []byte) []int16 {
	n := len(le) / 2
	dst = growInt16(dst, n)
	out := dst[len(dst) : len(dst)+n]
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(le[2*i:]))
	}
	return dst[:len(dst)+n]
}

// AppendL16Bytes encodes samples as little-endian L16 and appends them to dst.
func AppendL16Bytes(dst []byte, pcm []int16) []byte {
	n := 2 * len(pcm)
	if cap(dst)-len(dst) < n {
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	out := dst[len(dst) : len(dst)+n]
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(s))
	}
	return dst[:len(dst)+n]
}

// growInt16 makes sure dst has room for n more samples.
func growInt16(dst []int16, n int) []int16 {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]int16, len(dst), len(dst)+n)
	copy(grown, dst)
	return grown
}

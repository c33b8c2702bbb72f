package audio

import "math/bits"

// G.711 μ-law (ITU-T G.711, North American / Japanese companding).
//
// The encoder works on 16-bit linear samples the way the reference
// implementations do: take the sign, clip the magnitude to MulawClip, add
// MulawBias (0x84 = 132, which makes every segment boundary a power of two),
// find the segment (exponent) from the position of the highest set bit,
// take the four bits below it as the mantissa and invert the whole byte.
// The decoder is a 256-entry table: it pays, every code is looked up.

const (
	// MulawBias is added to the magnitude before companding (0x84).
	MulawBias = 0x84
	// MulawClip is the largest magnitude that is still encoded exactly;
	// larger magnitudes saturate to the top code of the last segment.
	MulawClip = 32635
)

// mulawDecodeTable maps every μ-law code to its 16-bit linear value. It is
// filled once at package initialisation and only read afterwards.
var mulawDecodeTable = func() (t [256]int16) {
	for i := range t {
		t[i] = mulawDecodeSlow(byte(i))
	}
	return t
}()

// mulawDecodeSlow is the formula behind mulawDecodeTable: the code's
// segment and mantissa select the midpoint of the quantisation interval.
func mulawDecodeSlow(code byte) int16 {
	u := ^code
	exp := (u >> 4) & 0x07
	mant := int32(u & 0x0F)
	mag := ((mant << 3) + MulawBias) << exp
	if u&0x80 != 0 {
		return int16(MulawBias - mag)
	}
	return int16(mag - MulawBias)
}

// mulawEncodeSample encodes one 16-bit linear sample.
func mulawEncodeSample(s int16) byte {
	mag := int32(s)
	var sign byte
	if mag < 0 {
		mag = -mag
		sign = 0x80
	}
	if mag > MulawClip {
		mag = MulawClip
	}
	mag += MulawBias // now in [132, 32767]: bit 7..14 holds the segment
	// mag>>7 is in [1, 255]; the index of its top bit is the exponent 0..7.
	exp := bits.Len32(uint32(mag>>7)) - 1
	mant := byte(mag>>(uint(exp)+3)) & 0x0F
	return ^(sign | byte(exp)<<4 | mant)
}

// MulawEncode encodes linear 16-bit samples into G.711 μ-law bytes, one byte
// per sample. Like copy, it converts min(len(dst), len(pcm)) samples and
// returns that count. It does not allocate.
func MulawEncode(dst []byte, pcm []int16) int {
	n := min(len(dst), len(pcm))
	dst = dst[:n]
	pcm = pcm[:n]
	for i, s := range pcm {
		dst[i] = mulawEncodeSample(s)
	}
	return n
}

// MulawDecode decodes G.711 μ-law bytes into linear 16-bit samples. Like
// copy, it converts min(len(dst), len(ulaw)) samples and returns that count.
// It does not allocate.
func MulawDecode(dst []int16, ulaw []byte) int {
	n := min(len(dst), len(ulaw))
	dst = dst[:n]
	ulaw = ulaw[:n]
	for i, c := range ulaw {
		dst[i] = mulawDecodeTable[c]
	}
	return n
}

// AppendMulawDecode decodes ulaw and appends the samples to dst.
func AppendMulawDecode(dst []int16, ulaw []byte) []int16 {
	for _, c := range ulaw {
		dst = append(dst, mulawDecodeTable[c])
	}
	return dst
}

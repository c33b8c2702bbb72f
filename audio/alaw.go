package audio

// G.711 A-law (ITU-T G.711, European companding), for calls whose codec is
// PCMA: the assistant speaks μ-law, the caller's channel wants A-law.

// alawEncodeSample compands one 16-bit linear sample: 13-bit magnitude,
// segment from the highest set bit, four mantissa bits, even bits inverted
// (0x55).
func alawEncodeSample(s int16) byte {
	v := int32(s) >> 3 // 13-bit
	sign := byte(0x80)
	if v < 0 {
		sign = 0
		v = -v - 1
	}
	var out byte
	switch {
	case v < 32:
		out = byte(v >> 1)
	default:
		seg := byte(1)
		for t := v >> 5; t > 1 && seg < 7; t >>= 1 {
			seg++
		}
		if v >= 4096 { // beyond the last segment: saturate
			out = 0x7F
		} else {
			out = seg<<4 | byte((v>>seg)&0x0F)
		}
	}
	return (out | sign) ^ 0x55
}

// alawDecodeSample expands one A-law code to 16-bit linear (the midpoint
// of its interval).
func alawDecodeSample(a byte) int16 {
	a ^= 0x55
	seg := int32(a>>4) & 0x07
	v := int32(a&0x0F)<<4 + 8
	if seg > 0 {
		v = (v + 0x100) << (seg - 1)
	}
	if a&0x80 == 0 {
		v = -v
	}
	return int16(v)
}

// ulawToAlaw maps every μ-law code to the A-law code of the same sound.
var ulawToAlaw = func() (t [256]byte) {
	for i := range t {
		t[i] = alawEncodeSample(mulawDecodeTable[i])
	}
	return t
}()

// MulawToAlaw converts μ-law bytes to A-law in place.
func MulawToAlaw(b []byte) {
	for i, c := range b {
		b[i] = ulawToAlaw[c]
	}
}

// AlawSilence and MulawSilence are the codes of a zero sample.
const (
	AlawSilence  = 0xD5
	MulawSilence = 0xFF
)

// alawToUlaw maps every A-law code to the μ-law code of the same sound.
var alawToUlaw = func() (t [256]byte) {
	for i := range t {
		t[i] = mulawEncodeSample(alawDecodeSample(byte(i)))
	}
	return t
}()

// AlawToMulaw converts A-law bytes to μ-law in place (a PCMA call's audio
// for an assistant that speaks μ-law).
func AlawToMulaw(b []byte) {
	for i, c := range b {
		b[i] = alawToUlaw[c]
	}
}

// AlawEncode compands 16-bit linear samples to A-law into dst and returns
// the number written (min of both lengths).
func AlawEncode(dst []byte, pcm []int16) int {
	n := min(len(dst), len(pcm))
	for i := 0; i < n; i++ {
		dst[i] = alawEncodeSample(pcm[i])
	}
	return n
}

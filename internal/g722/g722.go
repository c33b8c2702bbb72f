// Package g722 decodes ITU-T G.722 at 64 kbit/s (mode 1) to 16 kHz linear
// PCM, for tests that judge what a G.722 caller hears: each octet of an
// RTP payload is one codeword (two high-band bits above six low-band bits)
// and gives two samples. It follows the recommendation's decoder blocks
// (inverse adaptive quantizers, scale factor adaptation, the two-pole
// six-zero predictor and the receive QMF) in its 16-bit fixed point. No
// encoder: the tests decode what FreeSWITCH encodes.
package g722

// Decoder keeps the state of one G.722 stream; the zero value is not
// ready, use NewDecoder.
type Decoder struct {
	low, high band
	x         [24]int // the receive QMF's delay line
}

// band is the adaptive state of one sub-band's ADPCM decoder.
type band struct {
	s, sp, sz int    // signal estimate, its pole and zero parts
	r, p      [3]int // reconstructed signal and partial reconstruction, now and the two before
	a, ap     [3]int // pole coefficients (1, 2) and their update
	b, bp     [7]int // zero coefficients (1..6) and their update
	d         [7]int // quantized difference signal, now and the six before
	nb, det   int    // log scale factor and scale factor
}

// NewDecoder returns a decoder at the recommendation's reset state.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.low.det, d.high.det = 32, 8
	return d
}

// Decode appends the 16 kHz samples of codewords (two a codeword) to dst.
func (dec *Decoder) Decode(dst []int16, codewords []byte) []int16 {
	for _, c := range codewords {
		rlow := dec.decodeLow(int(c & 0x3f))
		rhigh := dec.decodeHigh(int(c>>6) & 3)
		copy(dec.x[:], dec.x[2:])
		dec.x[22], dec.x[23] = rlow+rhigh, rlow-rhigh
		var even, odd int
		for i := range 12 {
			even += dec.x[2*i] * qmf[i]
			odd += dec.x[2*i+1] * qmf[11-i]
		}
		dst = append(dst, int16(sat(odd>>11)), int16(sat(even>>11)))
	}
	return dst
}

// decodeLow runs the low band for a six-bit codeword and returns its
// reconstructed signal.
func (dec *Decoder) decodeLow(ilr int) int {
	b := &dec.low
	ril := ilr >> 2                                      // the four-bit codeword that drives adaptation
	dlt := (b.det * qm4[ril]) >> 15                      // INVQAL
	rl := clamp(b.s+(b.det*qm6[ilr])>>15, -16384, 16383) // INVQBL, RECONS
	b.nb = clamp((b.nb*127)>>7+wl[rl42[ril]], 0, 18432)  // LOGSCL
	b.det = scale(b.nb, 8)                               // SCALEL
	b.adapt(dlt)
	return rl
}

// decodeHigh runs the high band for a two-bit codeword.
func (dec *Decoder) decodeHigh(ih int) int {
	b := &dec.high
	dh := (b.det * qm2[ih]) >> 15
	rh := clamp(dh+b.s, -16384, 16383)
	b.nb = clamp((b.nb*127)>>7+wh[rh2[ih]], 0, 22528)
	b.det = scale(b.nb, 10)
	b.adapt(dh)
	return rh
}

// scale turns a log scale factor into a linear one (SCALEL, SCALEH).
func scale(nb, shift int) int {
	w := ilb[(nb>>6)&31]
	if s := shift - nb>>11; s < 0 {
		w <<= -s
	} else {
		w >>= s
	}
	return w << 2
}

// adapt updates the band's predictor with the quantized difference d and
// computes its next signal estimate (the recommendation's block 4).
func (b *band) adapt(d int) {
	b.d[0] = d
	b.r[0] = sat(b.s + d)
	b.p[0] = sat(b.sz + d)

	// UPPOL2: the second pole.
	s0, s1, s2 := sign(b.p[0]), sign(b.p[1]), sign(b.p[2])
	w1 := sat(b.a[1] << 2)
	w2 := w1
	if s0 == s1 {
		w2 = -w1
	}
	w2 = min(w2, 32767)
	w3 := -128
	if s0 == s2 {
		w3 = 128
	}
	w3 += w2 >> 7
	w3 += (b.a[2] * 32512) >> 15
	b.ap[2] = clamp(w3, -12288, 12288)

	// UPPOL1: the first pole, bounded by the second.
	w1 = -192
	if s0 == s1 {
		w1 = 192
	}
	lim := sat(15360 - b.ap[2])
	b.ap[1] = clamp(sat(w1+(b.a[1]*32640)>>15), -lim, lim)

	// UPZERO: the six zeros.
	step := 0
	if d != 0 {
		step = 128
	}
	sd := sign(d)
	for i := 1; i < 7; i++ {
		w := -step
		if sign(b.d[i]) == sd {
			w = step
		}
		b.bp[i] = sat(w + (b.b[i]*32640)>>15)
	}

	// DELAYA: shift the histories in.
	for i := 6; i > 0; i-- {
		b.d[i], b.b[i] = b.d[i-1], b.bp[i]
	}
	for i := 2; i > 0; i-- {
		b.r[i], b.p[i], b.a[i] = b.r[i-1], b.p[i-1], b.ap[i]
	}

	// FILTEP, FILTEZ, PREDIC.
	b.sp = sat((b.a[1]*sat(b.r[1]+b.r[1]))>>15 + (b.a[2]*sat(b.r[2]+b.r[2]))>>15)
	sz := 0
	for i := 6; i > 0; i-- {
		sz += (b.b[i] * sat(b.d[i]+b.d[i])) >> 15
	}
	b.sz = sat(sz)
	b.s = sat(b.sp + b.sz)
}

func sign(v int) bool { return v < 0 }

func sat(v int) int { return clamp(v, -32768, 32767) }

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

// The recommendation's tables: the inverse quantizers of the low band
// (four bits for adaptation, six for reconstruction) and the high band,
// the log scale factor multipliers and the codeword maps onto them, the
// log-to-linear table and the QMF coefficients.
var (
	qm4 = [16]int{0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
		20456, 12896, 8968, 6288, 4240, 2584, 1200, 0}
	qm6 = [64]int{-136, -136, -136, -136, -24808, -21904, -19008, -16704,
		-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
		-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
		-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
		24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
		10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
		4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
		1688, 1360, 1040, 728, 432, 136, -432, -136}
	qm2  = [4]int{-7408, -1616, 7408, 1616}
	wl   = [8]int{-60, -30, 58, 172, 334, 538, 1198, 3042}
	rl42 = [16]int{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}
	wh   = [3]int{0, -214, 798}
	rh2  = [4]int{2, 1, 2, 1}
	ilb  = [32]int{2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383,
		2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
		2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
		3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008}
	qmf = [12]int{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}
)

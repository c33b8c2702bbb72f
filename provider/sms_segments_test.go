package provider

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCountSegments(t *testing.T) {
	for _, c := range []struct {
		name, text string
		segs       int
		enc        string
	}{
		{"empty", "", 1, EncodingGSM7},
		{"160 GSM", strings.Repeat("a", 160), 1, EncodingGSM7},
		{"161 GSM", strings.Repeat("a", 161), 2, EncodingGSM7},
		{"306 GSM = 2×153", strings.Repeat("a", 306), 2, EncodingGSM7},
		{"307 GSM", strings.Repeat("a", 307), 3, EncodingGSM7},
		{"GSM accents stay GSM", "Café à Åre, ñandü £5 ¥ §", 1, EncodingGSM7},
		{"80 euro signs = 160 septets", strings.Repeat("€", 80), 1, EncodingGSM7},
		{"81 euro signs = 162 septets", strings.Repeat("€", 81), 2, EncodingGSM7},
		{"extension pair not split", strings.Repeat("a", 152) + "{" + strings.Repeat("a", 10), 2, EncodingGSM7},
		{"extension pair pushed to part 3", strings.Repeat("a", 152) + "{" + strings.Repeat("a", 152) + "{", 3, EncodingGSM7},
		{"70 UCS-2", strings.Repeat("ж", 70), 1, EncodingUCS2},
		{"71 UCS-2", strings.Repeat("ж", 71), 2, EncodingUCS2},
		{"134 UCS-2 = 2×67", strings.Repeat("ж", 134), 2, EncodingUCS2},
		{"135 UCS-2", strings.Repeat("ж", 135), 3, EncodingUCS2},
		{"one emoji makes it UCS-2", "hello 👋", 1, EncodingUCS2},
		{"35 emoji = 70 code units", strings.Repeat("😀", 35), 1, EncodingUCS2},
		{"36 emoji", strings.Repeat("😀", 36), 2, EncodingUCS2},
		{"surrogate pair not split", strings.Repeat("a", 66) + "😀" + strings.Repeat("a", 66), 3, EncodingUCS2},
		{"ú is not GSM", "ú", 1, EncodingUCS2},
		{"backtick is not GSM", "`", 1, EncodingUCS2},
		{"1600 GSM", strings.Repeat("a", 1600), 11, EncodingGSM7},
	} {
		segs, enc := CountSegments(c.text)
		if segs != c.segs || enc != c.enc {
			t.Errorf("%s: %d %s, want %d %s", c.name, segs, enc, c.segs, c.enc)
		}
	}
}

func FuzzCountSegments(f *testing.F) {
	for _, s := range []string{"", "hello", strings.Repeat("€", 81), strings.Repeat("😀", 36), "\xff\xfe", "a{b}c", "ж"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		segs, enc := CountSegments(s)
		if segs < 1 || (enc != EncodingGSM7 && enc != EncodingUCS2) {
			t.Fatalf("%q: %d %s", s, segs, enc)
		}
		n := utf8.RuneCountInString(s)
		// A part carries at least 33 characters in any encoding (67 units, 2 per rune at most).
		if max := n/33 + 1; segs > max {
			t.Fatalf("%q: %d segments for %d characters", s, segs, n)
		}
		if enc == EncodingGSM7 && n <= 76 && segs != 1 { // 80 two-septet characters fit one SMS
			t.Fatalf("%q: short GSM text in %d segments", s, segs)
		}
	})
}

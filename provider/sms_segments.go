package provider

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Message encodings, as carriers choose them.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// gsm7Basic is the GSM 03.38 default alphabet (one septet each).
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Extension is the extension table: an escape septet plus one, so each
// counts two.
const gsm7Extension = "\f^{}\\[~]|€"

var gsm7Basics, gsm7Ext = runeSet(gsm7Basic), runeSet(gsm7Extension)

func runeSet(s string) map[rune]bool {
	m := make(map[rune]bool, utf8.RuneCountInString(s))
	for _, r := range s {
		m[r] = true
	}
	return m
}

// Segment sizes: a single message, and each part of a concatenated one (the
// user data header takes the rest).
const (
	gsm7Single, gsm7Part = 160, 153
	ucs2Single, ucs2Part = 70, 67
)

// CountSegments tells how many SMS a carrier bills for text and in which
// encoding it goes: GSM-7 when every character is in the GSM 03.38 alphabet
// (extension characters ^ { } \ [ ~ ] | € and form feed take two septets),
// 160 septets in one message, 153 per part beyond; otherwise UCS-2, 70 UTF-16
// code units in one message, 67 per part. A two-septet escape or a surrogate
// pair is never split across parts, as handsets and carriers do. Invalid
// UTF-8 counts as U+FFFD (UCS-2). The empty text is one GSM-7 segment.
func CountSegments(text string) (segments int, encoding string) {
	gsm := true
	septets := 0
	for _, r := range text {
		if gsm7Basics[r] {
			septets++
		} else if gsm7Ext[r] {
			septets += 2
		} else {
			gsm = false
			break
		}
	}
	if gsm {
		if septets <= gsm7Single {
			return 1, EncodingGSM7
		}
		return pack(text, gsm7Part, func(r rune) int {
			if gsm7Ext[r] {
				return 2
			}
			return 1
		}), EncodingGSM7
	}
	units := 0
	for _, r := range text {
		units += utf16.RuneLen(r)
	}
	if units <= ucs2Single {
		return 1, EncodingUCS2
	}
	return pack(text, ucs2Part, func(r rune) int {
		if n := utf16.RuneLen(r); n > 0 {
			return n
		}
		return 1 // U+FFFD for invalid input
	}), EncodingUCS2
}

// pack fills parts of size units greedily, never splitting one character.
func pack(text string, size int, width func(rune) int) int {
	parts, used := 1, 0
	for _, r := range text {
		w := width(r)
		if used+w > size {
			parts++
			used = 0
		}
		used += w
	}
	return parts
}

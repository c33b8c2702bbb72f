package trunk

import (
	"regexp"
	"strings"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/field"
)

var codecRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.@_\-]{0,31}$`)

// maxCodecs bounds a trunk's codec list (it becomes absolute_codec_string).
const maxCodecs = 16

// knownCodecs are the names FreeSWITCH's codec modules register and accept
// in a codec string (absolute_codec_string, codec-prefs), compared
// case-insensitively as FreeSWITCH does: mod_spandsp/mod_g711 (PCMU, PCMA,
// G722, G726-*, AAL2-G726-*, GSM, LPC, DVI4, ADPCM), mod_g723_1, mod_g729 /
// mod_bcg729, mod_opus, mod_ilbc, mod_isac, mod_siren (G7221), mod_amr,
// mod_amrwb, mod_speex, mod_silk, mod_celt, mod_codec2, mod_bv (BV16, BV32),
// L16 (the core), and the video codecs (VP8, VP9, H261, H263*, H264, H265,
// MP4V). telephone-event is negotiated by FreeSWITCH itself and is not a
// codec-string entry.
var knownCodecs = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{
		"PCMU", "PCMA", "G722", "G7221", "G723", "G726-16", "G726-24", "G726-32", "G726-40",
		"AAL2-G726-16", "AAL2-G726-24", "AAL2-G726-32", "AAL2-G726-40", "G729", "GSM", "LPC", "DVI4", "ADPCM",
		"OPUS", "iLBC", "iSAC", "AMR", "AMR-WB", "SPEEX", "SILK", "CELT", "CODEC2", "BV16", "BV32", "L16",
		"VP8", "VP9", "H261", "H263", "H263-1998", "H263-2000", "H264", "H265", "MP4V",
	} {
		m[strings.ToUpper(n)] = true
	}
	return m
}()

// checkCodecs validates a trunk's codec list: at most maxCodecs entries,
// each NAME[@param]… with NAME a known codec (any case) and each param a
// number with FreeSWITCH's unit suffix (h or k: sample rate, i: ptime in
// ms, c: channels, b: bit rate), e.g. PCMU, opus@48000h@20i, G722@16000h;
// no entry twice (compared without case). The entries are kept as sent.
func checkCodecs(in []string) (db.StringList, error) {
	if len(in) > maxCodecs {
		return nil, field.Invalid("codecs", "codecs holds at most %d entries", maxCodecs)
	}
	out := db.StringList{}
	seen := map[string]bool{}
	for _, c := range in {
		if !codecRE.MatchString(c) {
			return nil, field.Invalid("codecs", "codecs: %q is not a codec name such as PCMU, PCMA, G722 or opus", c)
		}
		parts := strings.Split(c, "@")
		if !knownCodecs[strings.ToUpper(parts[0])] {
			return nil, field.Invalid("codecs", "codecs: %q is not a codec FreeSWITCH knows (e.g. PCMU, PCMA, G722, OPUS, G729)", parts[0])
		}
		for _, p := range parts[1:] {
			if !codecParam(p) {
				return nil, field.Invalid("codecs", "codecs: %q has an invalid parameter %q (e.g. 8000h, 20i, 1c)", c, "@"+p)
			}
		}
		k := strings.ToUpper(c)
		if seen[k] {
			return nil, field.Invalid("codecs", "codecs: %q is listed twice", c)
		}
		seen[k] = true
		out = append(out, c)
	}
	return out, nil
}

// codecParam is 1–6 digits followed by h, k, i, c or b.
func codecParam(p string) bool {
	if len(p) < 2 || len(p) > 7 || !strings.ContainsRune("hkicb", rune(p[len(p)-1])) {
		return false
	}
	for _, r := range p[:len(p)-1] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// InboundMediaVars are the channel variables (uuid_setvar_multi's
// name=value;… form) that give a call which came in on t the trunk's media
// settings, set before the call is answered: the external profile
// negotiates an inbound offer late (inbound-late-negotiation), at the 183
// or the 200, so they decide the answer. codecs: absolute_codec_string, with
// rtp_codec_negotiation greedy (the first of the trunk's list the offer
// has, not the offer's first); srtp optional or mandatory:
// rtp_secure_media. "" when the trunk sets neither (the profile's apply).
func InboundMediaVars(t *db.SIPTrunk) string {
	if t == nil {
		return ""
	}
	var vars []string
	if len(t.Codecs) > 0 {
		vars = append(vars, "absolute_codec_string="+strings.Join(t.Codecs, ","), "rtp_codec_negotiation=greedy")
	}
	if t.SRTP == "optional" || t.SRTP == "mandatory" {
		vars = append(vars, "rtp_secure_media="+t.SRTP)
	}
	return strings.Join(vars, ";")
}

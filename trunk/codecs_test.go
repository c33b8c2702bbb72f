package trunk_test

import (
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/trunk"
)

// TestInboundMediaVars: what an inbound call of the trunk gets set before
// its answer: the trunk's codec order (greedy: it wins over the offer's)
// and srtp; nothing for a trunk with neither (the profile decides).
func TestInboundMediaVars(t *testing.T) {
	for _, c := range []struct {
		name string
		tr   *db.SIPTrunk
		want string
	}{
		{"no trunk", nil, ""},
		{"neither", &db.SIPTrunk{SRTP: "off", Codecs: db.StringList{}}, ""},
		{"srtp unset", &db.SIPTrunk{}, ""},
		{"codecs", &db.SIPTrunk{Codecs: db.StringList{"G722", "opus@48000h@20i", "PCMU"}},
			"absolute_codec_string=G722,opus@48000h@20i,PCMU;rtp_codec_negotiation=greedy"},
		{"mandatory", &db.SIPTrunk{SRTP: "mandatory"}, "rtp_secure_media=mandatory"},
		{"both", &db.SIPTrunk{SRTP: "optional", Codecs: db.StringList{"PCMA"}},
			"absolute_codec_string=PCMA;rtp_codec_negotiation=greedy;rtp_secure_media=optional"},
	} {
		if got := trunk.InboundMediaVars(c.tr); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

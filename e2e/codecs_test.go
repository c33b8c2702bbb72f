package e2e

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"codec_g722", testCodecG722})
}

// srcG722 is the carrier offering G.722 before PCMU.
const srcG722 = "127.0.0.78"

// ptG722 is G.722's static payload type.
const ptG722 = 9

// uacOffer is the data of testdata/uac-offer.xml.
type uacOffer struct {
	From, To string
	Payloads string   // the m= line's payload types, in the offer's order
	RTPMaps  []string // their a=rtpmap lines
	HoldMs   int
	PCAP     string
}

// testCodecG722: a carrier offers G722 then PCMU. On a trunk whose codecs
// list G722 first the switch answers G722, and the caller's G.722 audio
// reaches the assistant decoded (transcoded to its μ-law stream); once the
// trunk lists PCMU first the same offer is answered PCMU: the trunk's
// order decides, not the offer's. A carrier offering PCMU then Opus gets
// Opus from a trunk listing OPUS first.
func testCodecG722(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Wideband Carrier Desk", asst, nil)
	tr := b.ipTrunk(t, "G722 Carrier", srcG722, srcG722+":5060", map[string]any{"codecs": []string{"G722", "PCMU"}})
	const to = "+12125557300"
	b.addNumberOn(t, to, asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	// 3 s of G.722 frames (64 kbit/s: 160 bytes a 20 ms, timestamps on
	// the 8 kHz clock RFC 3551 keeps for it) of arbitrary codewords: what
	// any G.722 decoder makes of them is loud, never silence.
	rng := rand.New(rand.NewPCG(7, 22))
	track := newRTPTrack()
	for i := range 150 {
		frame := make([]byte, 160)
		for j := range frame {
			frame[j] = byte(rng.Uint32())
		}
		track.add(ptG722, i == 0, track.ts, frame)
		track.ts += 160
		track.at += frame20ms
	}
	offer := uacOffer{To: to, Payloads: "9 0 101", HoldMs: 3000,
		RTPMaps: []string{"a=rtpmap:9 G722/8000", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000"}}

	answer := func(t *testing.T, from, pcap string, o uacOffer) (string, *AssistantConn) {
		t.Helper()
		o.From, o.PCAP = from, pcap
		uac := StartSipp(t, SippOptions{Scenario: "uac-offer.xml", IP: srcG722, Remote: b.SW.remote(), Calls: 1, Timeout: 20 * time.Second, Data: o})
		ac := asst.ByParam(t, "from", from, 10*time.Second)
		testkit.Eventually(t, 5*time.Second, "1 s of the caller at the assistant", func() bool { return ac.Frames() >= 50 }, nil)
		if code := uac.Wait(t, 20*time.Second); code != 0 {
			t.Fatalf("sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
		}
		for _, m := range uac.Received("SIP/2.0 200") {
			if _, sdp, ok := strings.Cut(m, "m=audio "); ok {
				line, _, _ := strings.Cut(sdp, "\n")
				return strings.TrimSpace(line), ac
			}
		}
		t.Fatalf("no 200 with SDP at the caller: %s", uac.Report())
		return "", nil
	}

	t.Run("g722_first", func(t *testing.T) {
		mline, ac := answer(t, "+14165550781", writeTrack(t, "g722-caller.pcap", track), offer)
		if f := strings.Fields(mline); len(f) < 3 || f[2] != "9" {
			t.Errorf("answer m=audio %q: want G722 (payload type 9) on a trunk listing G722 first", mline)
		}
		heard := ac.Audio()
		var sum float64
		for _, v := range heard {
			sum += float64(v) * float64(v)
		}
		if rms := math.Sqrt(sum / float64(max(len(heard), 1))); rms < 300 {
			t.Errorf("the assistant heard RMS %.0f of the caller's G.722 audio: want it decoded (≥ 300), not silence", rms)
		}
	})
	t.Run("pcmu_first", func(t *testing.T) {
		b.UpdateTrunk(t, tr.ID, map[string]any{"codecs": []string{"PCMU", "G722"}})
		b.WaitApplied(t, tr.ID, 10*time.Second)
		mline, _ := answer(t, "+14165550782", "", offer)
		if f := strings.Fields(mline); len(f) < 3 || f[2] != "0" {
			t.Errorf("answer m=audio %q: want PCMU (payload type 0) once the trunk lists PCMU first", mline)
		}
	})
	t.Run("opus_first", func(t *testing.T) {
		b.UpdateTrunk(t, tr.ID, map[string]any{"codecs": []string{"OPUS", "PCMU"}})
		b.WaitApplied(t, tr.ID, 10*time.Second)
		opus := uacOffer{To: to, Payloads: "0 111 101", HoldMs: 2000,
			RTPMaps: []string{"a=rtpmap:0 PCMU/8000", "a=rtpmap:111 opus/48000/2", "a=rtpmap:101 telephone-event/8000"}}
		mline, _ := answer(t, "+14165550783", "", opus)
		if f := strings.Fields(mline); len(f) < 3 || f[2] != "111" {
			t.Errorf("answer m=audio %q: want Opus (the offer's payload type 111) on a trunk listing OPUS first", mline)
		}
	})
}

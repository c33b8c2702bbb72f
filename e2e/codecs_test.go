package e2e

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/g722"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
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
// Opus from a trunk listing OPUS first. The assistant's reply reaches a
// G.722 caller as G.722 carrying its tone, whole (testG722Reply), and an
// Opus caller as Opus packets of sound (testOpusReply).
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
	t.Run("g722_reply", func(t *testing.T) { testG722Reply(t, b, asst, to) })
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
	t.Run("opus_reply", func(t *testing.T) { testOpusReply(t, b, asst, to) })
}

// replyMs is how long the assistant speaks to a wideband caller.
const replyMs = 1000

// testG722Reply: a caller offering G.722 on a trunk listing G722 first
// receives the assistant's reply (μ-law 8 kHz on the stream, encoded by the
// switch) as G.722 RTP: decoded here, it holds the assistant's 1000 Hz
// tone for the second it spoke, at its level, in one run.
func testG722Reply(t *testing.T, b *Bridge, asst *TestAssistant, to string) {
	const from = "+14165550784"
	quiet := make([]byte, 160) // G.722 codewords the caller "says" while it listens
	for i := range quiet {
		quiet[i] = 0xff
	}
	uac, sink := codecCall(t, b, srcG722, sinkCallData{From: from, To: to, Payloads: "9 0 101",
		RTPMaps: []string{"a=rtpmap:9 G722/8000", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000"}},
		ptG722, func(int) []byte { return quiet })
	ac := asst.ByParam(t, "from", from, 10*time.Second)
	if err := ac.SpeakTone(sinkAssist, replyMs*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // the reply's tail plays out
	if err := ac.Hangup(); err != nil {
		t.Fatal(err)
	}
	code := uac.Wait(t, 20*time.Second)
	sink.conn.Close()
	if code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	pkts := sink.packets(ptG722)
	if len(pkts) < 50 {
		t.Fatalf("the caller received %d G.722 packets (per payload type: %s), want the call's media in G.722", len(pkts), sink.types())
	}
	dec := g722.NewDecoder()
	var pcm []int16
	for _, p := range pkts {
		if len(p.payload) != 160 {
			t.Fatalf("a G.722 packet of %d bytes, want 160 (20 ms at 64 kbit/s)", len(p.payload))
		}
		pcm = dec.Decode(pcm, p.payload)
	}
	runs := toneRunsMs(pcm, 16000, sinkAssist)
	if len(runs) == 0 {
		t.Fatalf("no %d Hz tone in the %d ms the G.722 caller received", sinkAssist, len(pcm)/16)
	}
	longest := runs[0]
	for _, r := range runs {
		if r[1] > longest[1] {
			longest = r
		}
	}
	span := runs[len(runs)-1][0] + runs[len(runs)-1][1] - runs[0][0]
	mid := pcm[(longest[0]+10)*16 : (longest[0]+longest[1]-10)*16]
	freq, rms := tone.EstimateFrequency(mid, 16000), tone.RMS(mid)
	holes := silentHolesMs(pcm[runs[0][0]*16:(runs[0][0]+span)*16], 16000)
	t.Logf("the G.722 caller heard the %d Hz tone over %d ms (runs, start and ms, in 10 ms windows: %v) at %.1f Hz, RMS %.0f; holes (ms) %v",
		sinkAssist, span, runs, freq, rms, holes)
	if span < replyMs-40 || span > replyMs+40 {
		t.Errorf("the assistant's %d ms tone reached the G.722 caller over %d ms (runs %v), want %d ± 40 ms", replyMs, span, runs, replyMs)
	}
	// A call whose codec is not G.711 plays the reply as files: a hole of
	// a few ms between two chunks (README, PLAYBACK_MODE=files), no more.
	total := 0.0
	for _, h := range holes {
		total += h
		if h > 5 {
			t.Errorf("a hole of %.1f ms in the reply (holes %v), want none over 5 ms", h, holes)
		}
	}
	if total > 30 {
		t.Errorf("%.1f ms of holes in the %d ms reply (holes %v), want at most 30", total, replyMs, holes)
	}
	if math.Abs(freq-sinkAssist) > 5 {
		t.Errorf("the reply's tone decoded at %.1f Hz, want %d ± 5", freq, sinkAssist)
	}
	// tone.New's peak 8000 is RMS 5657; G.711 and G.722 keep it within 1 dB.
	if db := 20 * math.Log10(rms/5657); math.Abs(db) > 1 {
		t.Errorf("the reply's tone decoded at RMS %.0f (%.1f dB from the assistant's), want within 1 dB", rms, db)
	}
}

// silentHolesMs returns the lengths (ms) of the stretches of pcm where a
// tone stops: at least 0.5 ms of samples all within ±300 (a 1 kHz tone
// of RMS 5657 at 16 kHz spends one sample there at each zero crossing).
func silentHolesMs(pcm []int16, rate int) []float64 {
	var holes []float64
	n := 0
	flush := func() {
		if n >= rate/2000 {
			holes = append(holes, float64(n)*1000/float64(rate))
		}
		n = 0
	}
	for _, x := range pcm {
		if x > -300 && x < 300 {
			n++
			continue
		}
		flush()
	}
	flush()
	return holes
}

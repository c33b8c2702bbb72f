package e2e

import (
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

func init() {
	addScenario(scenario{"codec_opus", testCodecOpus})
}

// testCodecOpus: an Opus call end to end, both ways. The switch calls
// itself through a trunk whose codecs are OPUS only (its gateway is the
// switch's own SIP port, which lets its address in): the outbound leg
// offers Opus alone and the inbound leg, on the same trunk, answers it, so
// the audio between them is Opus that FreeSWITCH encodes and decodes
// (mod_opus), with an assistant on each end. The caller's assistant speaks
// a tone: the called assistant hears it decoded; that one replies with
// another: the caller's assistant hears the reply. Each tone is judged by
// its frequency, level and length.
func testCodecOpus(t *testing.T, b *Bridge) {
	caller, callee := StartAssistant(t), StartAssistant(t)
	callerID := b.CreateAssistant(t, "Opus Caller", caller, nil)
	calleeID := b.CreateAssistant(t, "Opus Desk", callee, nil)
	loop := b.ipTrunk(t, "Opus Loop", "127.0.0.1", b.SW.remote(), map[string]any{"codecs": []string{"OPUS"}})
	const from, to = "+12125557100", "+12125557101"
	b.addNumberOn(t, from, callerID, loop.ID)
	b.addNumberOn(t, to, calleeID, loop.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	m := b.SW.Mark()
	b.API.Call(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": to, "wait": true}, http.StatusOK, nil)
	out := caller.ByParam(t, "to", to, 10*time.Second)
	in := callee.ByParam(t, "from", from, 10*time.Second)
	testkit.Eventually(t, 5*time.Second, "audio at both assistants", func() bool { return out.Frames() >= 5 && in.Frames() >= 5 }, nil)
	answers := b.SW.EventsSince(m, "CHANNEL_ANSWER")
	if len(answers) != 2 {
		t.Fatalf("%d CHANNEL_ANSWER events, want the two legs'", len(answers))
	}
	for _, e := range answers {
		if r, w := e.Get("Channel-Read-Codec-Name"), e.Get("Channel-Write-Codec-Name"); r != "opus" || w != "opus" {
			t.Errorf("leg %s (%s) answered with codecs read %q write %q, want opus both ways", e.Get("Unique-ID"), e.Get("Call-Direction"), r, w)
		}
	}

	judge := func(t *testing.T, who string, speaker, listener *AssistantConn, freq float64) {
		t.Helper()
		before := len(listener.Audio())
		if err := speaker.SpeakTone(freq, replyMs*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(600 * time.Millisecond) // the tail plays out
		heard := listener.Audio()[before:]
		runs := toneRunsMs(heard, 8000, freq)
		if len(runs) == 0 {
			t.Fatalf("%s: no %.0f Hz tone in the %d ms heard", who, freq, len(heard)/8)
		}
		longest := runs[0]
		for _, r := range runs {
			if r[1] > longest[1] {
				longest = r
			}
		}
		span := runs[len(runs)-1][0] + runs[len(runs)-1][1] - runs[0][0]
		mid := heard[(longest[0]+10)*8 : (longest[0]+longest[1]-10)*8]
		got, rms := medianFrequency(mid, 8000), tone.RMS(mid)
		t.Logf("%s: the %.0f Hz tone heard over %d ms (runs %v) at %.1f Hz, RMS %.0f", who, freq, span, runs, got, rms)
		covered := 0
		for _, r := range runs {
			covered += r[1]
		}
		// Measured: one run of 950 ms after 20 ms and a hole of 30 ms.
		if span < replyMs-60 || span > replyMs+60 || covered < replyMs-60 {
			t.Errorf("%s: the %d ms tone heard over %d ms, %d ms of it tone (runs %v), want %d ± 60 ms, at most 60 ms missing",
				who, replyMs, span, covered, runs, replyMs)
		}
		if math.Abs(got-freq) > 5 {
			t.Errorf("%s: the tone heard at %.1f Hz, want %.0f ± 5", who, got, freq)
		}
		// SpeakTone's RMS is 5657; μ-law and Opus keep it within 2 dB.
		if db := 20 * math.Log10(rms/5657); math.Abs(db) > 2 {
			t.Errorf("%s: the tone heard at RMS %.0f (%.1f dB), want within 2 dB of 5657", who, rms, db)
		}
	}
	t.Run("caller_heard", func(t *testing.T) { judge(t, "the called assistant", out, in, sinkAssist) })
	t.Run("reply_heard", func(t *testing.T) { judge(t, "the caller's assistant", in, out, sinkWelcome) })
	if err := out.Hangup(); err != nil {
		t.Fatal(err)
	}
}

// medianFrequency is the median of the frequencies of pcm's 50 ms pieces:
// the tone's frequency, which the few ms a chunk boundary leaves silent
// (files playback) would pull down in an estimate over the whole.
func medianFrequency(pcm []int16, rate int) float64 {
	w := rate / 20
	var fs []float64
	for i := 0; i+w <= len(pcm); i += w {
		fs = append(fs, tone.EstimateFrequency(pcm[i:i+w], rate))
	}
	if len(fs) == 0 {
		return 0
	}
	slices.Sort(fs)
	return fs[len(fs)/2]
}

// testOpusReply: a caller offering Opus only, on a trunk listing OPUS
// first, receives the assistant's 1 s reply as Opus RTP. The test has no
// Opus decoder, so it judges the packets: payload type 111 on Opus's 48
// kHz clock (960 a 20 ms packet), 50 a second for the second the
// assistant spoke (the switch sends nothing while there is nothing to
// play), and sized like sound: VBR Opus codes 20 ms of silence in a few
// bytes, of a loud tone in about a hundred, and the sizes vary. The caller
// sends TOC-only packets (a 20 ms CELT frame of no bytes: silence to any
// Opus decoder).
func testOpusReply(t *testing.T, b *Bridge, asst *TestAssistant, to string) {
	const from = "+14165550785"
	uac, sink := codecCall(t, b, srcG722, sinkCallData{From: from, To: to, Payloads: "111 101",
		RTPMaps: []string{"a=rtpmap:111 opus/48000/2", "a=rtpmap:101 telephone-event/8000"}},
		111, func(int) []byte { return []byte{0xf8} })
	ac := asst.ByParam(t, "from", from, 10*time.Second)
	if err := ac.SpeakTone(sinkAssist, replyMs*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if err := ac.Hangup(); err != nil {
		t.Fatal(err)
	}
	code := uac.Wait(t, 20*time.Second)
	sink.conn.Close()
	if code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	pkts := sink.packets(111)
	if len(pkts) < 2 {
		t.Fatalf("the caller received %d Opus packets (per payload type: %s), want the reply in Opus", len(pkts), sink.types())
	}
	sizes := make([]int, len(pkts))
	distinct := map[int]bool{}
	for i, p := range pkts {
		sizes[i] = len(p.payload)
		distinct[sizes[i]] = true
		if i > 0 && p.seq == pkts[i-1].seq+1 && p.ts-pkts[i-1].ts != 960 {
			t.Fatalf("Opus packet %d: timestamp step %d, want 960 (20 ms on the 48 kHz clock)", i, p.ts-pkts[i-1].ts)
		}
	}
	rate := float64(len(pkts)-1) / pkts[len(pkts)-1].at.Sub(pkts[0].at).Seconds()
	t.Logf("Opus to the caller: %d packets at %.1f/s, sizes %v", len(pkts), rate, sizes)
	if n := len(pkts); n < replyMs/20-5 || n > replyMs/20+5 || rate < 45 || rate > 55 {
		t.Errorf("%d Opus packets at %.1f/s for a %d ms reply, want %d ± 5 at 50/s", n, rate, replyMs, replyMs/20)
	}
	if m := median(sizes); m < 40 || len(distinct) < 3 {
		t.Errorf("Opus packet sizes %v: want the reply's sound (median ≥ 40 bytes, varying), not silence", sizes)
	}
}

func median(v []int) int {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

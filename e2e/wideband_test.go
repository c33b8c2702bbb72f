package e2e

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

func init() {
	addScenario(scenario{"wideband_l16", testWidebandL16})
}

// srcWideband is the wideband carrier's address.
const srcWideband = "127.0.0.74"

// ptL16 is the payload type FreeSWITCH offers for L16/16000 when a trunk's
// codecs are just L16@16000h (the carrier answers with it).
const ptL16 = 102

// testWidebandL16: an l16_16k assistant on an outbound call over a trunk
// whose codecs are L16@16000h, to a carrier answering L16/16000 and
// sending a 6 kHz tone (which μ-law 8 kHz cannot carry). The assistant
// is told audio/l16 16000 in start.mediaFormat and gets 640-byte frames
// holding the 6 kHz; its reply, a 5 kHz tone sent at 16 kHz, is played
// as .r16 files (no G.711 pipe on an L16 call) and is in what FreeSWITCH
// sent the caller (the recording's right channel, at 16 kHz).
func testWidebandL16(t *testing.T, b *Bridge) {
	requireRawSocket(t)
	t.Run("l16_trunk", func(t *testing.T) { widebandTrunk(t, b) })
	t.Run("g711_pipe", func(t *testing.T) { widebandOnG711(t, b) })
}

func widebandTrunk(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Wideband Agent", asst, map[string]any{"audio_format": "l16_16k", "recording_enabled": true})
	r := newRTPTrack()
	g := tone.New(6000, 16000, 8000)
	pcm := make([]int16, 320)
	for i := range 250 { // 5 s
		g.Read(pcm)
		be := make([]byte, 640) // RTP L16 is big endian
		for j, v := range pcm {
			binary.BigEndian.PutUint16(be[2*j:], uint16(v))
		}
		r.add(ptL16, i == 0, r.ts, be)
		r.ts += 320
		r.at += frame20ms
	}
	carrier := StartSipp(t, SippOptions{Scenario: "uas-l16.xml", IP: srcWideband, Calls: 1, Timeout: 60 * time.Second,
		Data: map[string]any{"PT": ptL16, "PCAP": writeTrack(t, "wideband-6k.pcap", r)}})
	tr := b.ipTrunk(t, "Wideband Carrier", srcWideband, fmt.Sprintf("%s:%d", carrier.IP, carrier.Port), map[string]any{"codecs": []string{"L16@16000h"}})
	const from, to = "+12125557100", "+12125557101"
	b.addNumberOn(t, from, asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	m := b.SW.Mark()
	var res struct {
		CallID string `json:"call_id"`
	}
	b.API.Call(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": to, "wait": true}, http.StatusOK, &res)
	if inv := carrier.Received("INVITE "); len(inv) != 1 || !strings.Contains(inv[0], fmt.Sprintf("a=rtpmap:%d L16/16000", ptL16)) {
		t.Fatalf("the carrier's INVITE does not offer L16/16000 as payload type %d:\n%s", ptL16, strings.Join(inv, "\n"))
	}
	ac := asst.ByParam(t, "to", to, 10*time.Second)
	if mf, _ := ac.Start()["mediaFormat"].(map[string]any); mf["encoding"] != "audio/l16" || mf["sampleRate"] != float64(16000) {
		t.Errorf("start.mediaFormat %v, want audio/l16 at 16000", mf)
	}
	testkit.Eventually(t, 10*time.Second, "1.5 s of the caller at the assistant", func() bool { return ac.Frames() >= 75 }, nil)
	heard := ac.L16()
	if n, f := len(heard), ac.Frames(); n < 320*f {
		t.Errorf("%d media messages brought %d samples: want 320 a message (640 bytes, 20 ms at 16 kHz)", f, n)
	}
	last := heard[len(heard)-16000:]
	if share := tone.PowerShare(last, 16000, 6000); share < 0.8 {
		t.Errorf("6 kHz holds %.2f of the power of the caller's last second at the assistant, want ≥ 0.8 (dominant %.0f Hz)",
			share, tone.EstimateFrequency(last, 16000))
	}

	// Sent at once: files leave ~100 ms between two chunks (README), so
	// a burst (800 ms chunks) is heard with the fewest gaps.
	reply := tone.L16(tone.Generate(5000, 16000, 1500, 8000))
	for i := 0; i < len(reply); i += 640 {
		if err := ac.Send(map[string]any{"event": "media", "media": map[string]any{"payload": base64.StdEncoding.EncodeToString(reply[i:min(i+640, len(reply))])}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ac.Mark("reply-played"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the reply played (its mark echoed)", func() bool { return len(ac.Marks()) == 1 }, nil)
	b.API.Call(t, "POST", "/api/v1/calls/"+res.CallID+"/hangup", nil, http.StatusAccepted, nil)
	b.WaitCall(t, "the record completed", 10*time.Second, func(c Call) bool { return c.ID == res.CallID && c.EndedAt != nil })
	// The reply's files are played with sendmsg execute playback (no
	// uuid_broadcast lead frames): FreeSWITCH's log names each one it runs.
	if log := b.SW.LogSince(m); !strings.Contains(log, ".r16)") {
		t.Errorf("no .r16 file was played (no playback(….r16) in FreeSWITCH's log since the call began)")
	}

	var wav []byte
	testkit.Eventually(t, 10*time.Second, "the call's recording", func() bool {
		st, data := b.API.Do(t, "GET", "/api/v1/calls/"+res.CallID+"/recording", nil)
		wav = data
		return st == http.StatusOK && len(data) > 44
	}, nil)
	rate, chans, err := parseWAV(wav)
	if err != nil || len(chans) != 2 {
		t.Fatalf("recording: %v (%d channels)", err, len(chans))
	}
	runs := toneRunsMs(chans[1], rate, 5000)
	total := 0
	for _, r := range runs {
		total += r[1]
	}
	t.Logf("recording at %d Hz: the 5 kHz reply in runs (start ms, length ms) %v", rate, runs)
	if rate != 16000 || total < 1200 {
		t.Errorf("the caller was sent %d ms of the 1.5 s 5 kHz reply (recording at %d Hz), want ≥ 1200 ms at 16000 Hz", total, rate)
	}
}

// widebandOnG711: the same assistant on a PCMU call from a PBX: its frames
// are still 640 bytes of L16 16 kHz (FreeSWITCH's up-sampled 8 kHz, the
// caller's 1004 Hz tone in them), and its 16 kHz reply goes through the
// G.711 pipe, filtered down: the caller hears it whole, in one run.
func widebandOnG711(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Wideband Desk", asst, map[string]any{"audio_format": "l16_16k", "recording_enabled": true})
	const src = "127.0.0.75"
	tr := b.ipTrunk(t, "Wideband PBX", src, src+":5060", nil)
	b.addNumberOn(t, "+12125557200", asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	track := newRTPTrack().Tone(callerTone, 5*time.Second)
	c := toUser("+14165550701", "+12125557200")
	c.PCAP, c.HoldMs = writeTrack(t, "wideband-g711.pcap", track), 5000
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: src, Remote: b.SW.remote(), Calls: 1, Timeout: 20 * time.Second, Data: c})
	ac := asst.ByParam(t, "from", "+14165550701", 5*time.Second)
	testkit.Eventually(t, 5*time.Second, "1 s of the caller at the assistant", func() bool { return ac.Frames() >= 50 }, nil)
	heard := ac.L16()
	if n, f := len(heard), ac.Frames(); n < 320*f {
		t.Errorf("%d media messages brought %d samples: want 320 a message", f, n)
	}
	if f := tone.EstimateFrequency(heard[len(heard)-8000:], 16000); f < callerTone-20 || f > callerTone+20 {
		t.Errorf("the assistant heard %.0f Hz at 16 kHz, want the caller's %.0f Hz", f, callerTone)
	}
	reply := tone.L16(tone.Generate(toneHz, 16000, 1500, 8000))
	for i := 0; i < len(reply); i += 640 {
		if err := ac.Send(map[string]any{"event": "media", "media": map[string]any{"payload": base64.StdEncoding.EncodeToString(reply[i:min(i+640, len(reply))])}}); err != nil {
			t.Fatal(err)
		}
	}
	if code := uac.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	rec := b.waitRecord(t, "the call record closed", 5*time.Second, func(c CallRecord) bool { return c.From == "+14165550701" && c.EndedAt != nil })
	runs := b.recordingRuns(t, rec.ID)
	t.Logf("recording: the reply in runs (start ms, length ms) %v", runs)
	// Whole: one run of at least 1450 ms (a gap between chunks splits it);
	// nothing beyond the reply's 1.5 s plus the two 10 ms windows its edges
	// may straddle. A CI run on a loaded machine once heard the last 10 ms
	// window 400 ms late (runs [[950 1500] [2860 10]]): a stall of the
	// writer or of the switch, not a gap in the reply, so it is logged only.
	total := 0
	for _, r := range runs {
		total += r[1]
	}
	if !slices.ContainsFunc(runs, func(r [2]int) bool { return r[1] >= 1450 }) || total > 1520 {
		t.Errorf("the caller heard the 1.5 s reply as runs %v (%d ms in all), want one run of ≥ 1450 ms and ≤ 1520 ms in all", runs, total)
	} else if len(runs) > 1 {
		t.Logf("the reply's runs were not one: %v", runs)
	}
}

// L16 returns the caller's audio an l16_16k stream brought, decoded (L16
// little endian, 16 kHz).
func (c *AssistantConn) L16() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int16, len(c.media)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(c.media[2*i:]))
	}
	return out
}

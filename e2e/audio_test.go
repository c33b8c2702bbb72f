package e2e

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// The assistant's voice as the caller hears it, on the real switch.
//
// The caller is sipp with -rtp_echo: it sends back every RTP packet it
// receives, so what the caller hears comes back to the assistant through
// the caller's own audio path (FreeSWITCH → mod_audio_stream → sipbridge).
// A gap in either direction shows as a gap in the echo; the call's stereo
// recording (its right channel is what FreeSWITCH sent the caller) is the
// judge of what was played.
func init() { addScenario(scenario{"assistant_audio", testAssistantAudio}) }

const toneHz = 1000

func testAssistantAudio(t *testing.T, b *Bridge) {
	sw := b.SW
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Audio Receptionist", asst, map[string]any{"recording_enabled": true})
	pbx := b.CreateTrunk(t, map[string]any{"name": "PBX Audio", "gateway": "127.0.0.5:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.5/32"}})
	b.AddNumber(t, "+16478492005", asstID, pbx.ID)
	b.WaitApplied(t, pbx.ID, 10*time.Second)
	sw.WaitQuiet(t, 300*time.Millisecond, 10*time.Second)

	uac := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: "127.0.0.5", Remote: sw.remote(), Calls: 1,
		Timeout: 90 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: "+14165550105", To: "+16478492005"}})
	ac := asst.Next(t, 10*time.Second)
	rec := b.WaitCall(t, "the call in progress", 10*time.Second, func(c Call) bool { return c.To == "+16478492005" && c.Status == "in-progress" })
	testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 25 }, nil)
	if got := ac.Param("from_number"); got != "+14165550105" {
		t.Errorf("customParameters.from_number = %q, want the caller", got)
	}
	if got := ac.Param("to_number"); got != "+16478492005" {
		t.Errorf("customParameters.to_number = %q, want the called number", got)
	}

	type utterance struct {
		name     string
		burst    bool // all at once, far ahead of real time
		ms       int
		sentAt   time.Time
		markAt   time.Time
		clearAt  time.Time
		clearMs  int // clear this long after sending
		echo     [2]time.Time
		echoRun  time.Duration
		firstLat time.Duration
		holes    int
	}
	utts := []*utterance{
		{name: "3 s in real time", ms: 3000},
		{name: "3 s in one burst", burst: true, ms: 3000},
		{name: "4 s cleared after 1 s", burst: true, ms: 4000, clearMs: 1000},
	}
	for _, u := range utts {
		testkit.Eventually(t, 3*time.Second, "silence before "+u.name, func() bool { return !echoToneSince(ac, time.Now().Add(-150*time.Millisecond)) }, nil)
		u.sentAt = time.Now()
		if u.burst {
			if err := speakBurst(ac, toneHz, u.ms); err != nil {
				t.Fatal(err)
			}
		} else if err := ac.SpeakTone(toneHz, time.Duration(u.ms)*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		mark := "end-of-" + u.name
		if err := ac.Mark(mark); err != nil {
			t.Fatal(err)
		}
		if u.clearMs > 0 {
			time.Sleep(time.Until(u.sentAt.Add(time.Duration(u.clearMs) * time.Millisecond)))
			u.clearAt = time.Now()
			if err := ac.Clear(); err != nil {
				t.Fatal(err)
			}
		}
		u.markAt = waitMark(t, ac, mark, time.Duration(u.ms)*time.Millisecond+3*time.Second)
		time.Sleep(400 * time.Millisecond) // the echo's tail
		u.echo, u.holes = echoRunHoles(ac, u.sentAt)
		u.echoRun = u.echo[1].Sub(u.echo[0])
		u.firstLat = u.echo[0].Sub(u.sentAt)
		t.Logf("%s: echo heard for %v from %v after the first media; mark back %v after sending",
			u.name, u.echoRun.Round(time.Millisecond), u.firstLat.Round(time.Millisecond), u.markAt.Sub(u.sentAt).Round(time.Millisecond))
	}

	// Time to first audio: short replies, each timed from the assistant's
	// first media message to its echo (the way back included).
	var firsts []time.Duration
	for i := 0; i < 8; i++ {
		testkit.Eventually(t, 3*time.Second, "silence between replies", func() bool { return !echoToneSince(ac, time.Now().Add(-150*time.Millisecond)) }, nil)
		sent := time.Now()
		if err := speakBurst(ac, toneHz, 200); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 3*time.Second, "the short reply's echo", func() bool { return !echoRun(ac, sent)[0].IsZero() }, nil)
		firsts = append(firsts, echoRun(ac, sent)[0].Sub(sent))
		time.Sleep(250 * time.Millisecond)
	}

	b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, http.StatusAccepted, nil)
	if code := uac.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	b.WaitCall(t, "the call record completed", 10*time.Second, func(c Call) bool { return c.ID == rec.ID && c.EndedAt != nil })

	// The judge: the recording's channel of what FreeSWITCH sent the caller.
	var wav []byte
	testkit.Eventually(t, 10*time.Second, "the call's recording", func() bool {
		st, data := b.API.Do(t, "GET", "/api/v1/calls/"+rec.ID+"/recording", nil)
		wav = data
		return st == http.StatusOK && len(data) > 44
	}, nil)
	rate, chans, err := parseWAV(wav)
	if err != nil {
		t.Fatalf("recording: %v", err)
	}
	if len(chans) != 2 {
		t.Fatalf("recording has %d channels, want stereo", len(chans))
	}
	runs := toneRunsMs(chans[1], rate, toneHz)
	t.Logf("recording (%d Hz): the caller heard the tone in runs (start ms, length ms) %v", rate, runs)
	long := 0
	for _, r := range runs {
		if r[1] >= 2970 {
			long++
		}
	}
	if long < 2 {
		t.Errorf("the two 3 s replies were not each heard as one run of ≥ 2970 ms: runs %v", runs)
	}

	for _, u := range utts[:2] {
		if u.echoRun < 2970*time.Millisecond || u.holes > 3 {
			t.Errorf("%s: the echo came back as a run of %v with %d frames missing, want ≥ 2970 ms and ≤ 3 (gaps either way)", u.name, u.echoRun, u.holes)
		}
		// The mark comes back once the reply was heard: not before 3 s of
		// it could have played, and about when its echo ends.
		if played := u.markAt.Sub(u.echo[0]); played < 2900*time.Millisecond {
			t.Errorf("%s: mark echoed %v after the caller started hearing a 3 s reply", u.name, played)
		}
		if late := u.markAt.Sub(u.echo[1]); late > 300*time.Millisecond {
			t.Errorf("%s: mark echoed %v after the reply's echo ended", u.name, late)
		}
	}
	cl := utts[2]
	// Barge-in: the caller stops hearing the reply soon after the clear.
	// Measured at the assistant, so the way back (caller → assistant) is
	// included: an upper bound.
	clearLat := cl.echo[1].Sub(cl.clearAt) - (cl.echo[0].Sub(cl.sentAt) - playbackLead(firsts))
	t.Logf("clear: the echo stopped %v after the clear (%v after it, way back subtracted)", cl.echo[1].Sub(cl.clearAt).Round(time.Millisecond), clearLat.Round(time.Millisecond))
	// What is already in the pipe plays out: the writer's 80 ms lead, the
	// frame FreeSWITCH holds (20 ms) and one writer tick (10 ms); the way
	// back is estimated from the first-audio figures, so allow 10 ms of
	// error on top (measured: 85 ms typical, 104 ms once on a busy run).
	if clearLat > 120*time.Millisecond {
		t.Errorf("after the clear the caller heard the reply for %v more, want ≤ 120 ms (80 ms pipe lead + 20 ms frame + 10 ms tick + 10 ms estimate)", clearLat)
	}
	if heard := cl.echoRun; heard > 1300*time.Millisecond || heard < 700*time.Millisecond {
		t.Errorf("a reply cleared after 1 s was heard for %v", heard)
	}
	slices.Sort(firsts)
	t.Logf("e2e-bench: first audio (assistant's first media → its echo at the assistant, %d replies): p50 %v, max %v",
		len(firsts), firsts[len(firsts)/2].Round(time.Millisecond), firsts[len(firsts)-1].Round(time.Millisecond))
	t.Logf("e2e-bench: assistant tone runs in the recording: %v; echo runs: real time %v, burst %v",
		runs, utts[0].echoRun.Round(time.Millisecond), utts[1].echoRun.Round(time.Millisecond))
}

// playbackLead estimates the way back (caller → assistant) as half the
// median round trip of the first-audio probes: the echo's onset includes
// both ways.
func playbackLead(firsts []time.Duration) time.Duration {
	if len(firsts) == 0 {
		return 0
	}
	s := slices.Clone(firsts)
	slices.Sort(s)
	return s[len(s)/2] / 2
}

// speakBurst sends ms of tone as 20 ms media messages all at once.
func speakBurst(ac *AssistantConn, freq float64, ms int) error {
	pcm := tone.Generate(freq, 8000, ms, 8000)
	ulaw := make([]byte, len(pcm))
	audio.MulawEncode(ulaw, pcm)
	sid := ac.sid()
	for i := 0; i < len(ulaw); i += 160 {
		end := min(i+160, len(ulaw))
		if err := ac.Send(map[string]any{"event": "media", "streamSid": sid,
			"media": map[string]any{"payload": base64.StdEncoding.EncodeToString(ulaw[i:end])}}); err != nil {
			return err
		}
	}
	return nil
}

// waitMark polls for a mark's echo and returns when it arrived (within
// 5 ms).
func waitMark(t *testing.T, ac *AssistantConn, name string, within time.Duration) time.Time {
	t.Helper()
	testkit.Eventually(t, within, fmt.Sprintf("the echo of mark %q", name), func() bool { return slices.Contains(ac.Marks(), name) },
		func() string { return fmt.Sprintf("marks %v", ac.Marks()) })
	return time.Now()
}

// toneFrames returns the caller frames that arrived at the assistant since
// since, and whether each carries the tone.
func toneFrames(ac *AssistantConn, since time.Time) ([]time.Time, []bool) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	var at []time.Time
	var on []bool
	pcm := make([]int16, 160)
	for i, ts := range ac.times {
		if ts.Before(since) || (i+1)*160 > len(ac.media) {
			continue
		}
		audio.MulawDecode(pcm, ac.media[i*160:(i+1)*160])
		at = append(at, ts)
		on = append(on, tone.RMS(pcm) > 1000 && tone.DominantFrequency(pcm, 8000, 440, toneHz) == toneHz)
	}
	return at, on
}

func echoToneSince(ac *AssistantConn, since time.Time) bool {
	_, on := toneFrames(ac, since)
	return slices.Contains(on, true)
}

// echoRun returns the first and last arrival of the tone's echo since
// since: its first run, which 100 ms without tone end. A frame the caller's
// sipp echoed late on a loaded machine leaves a hole of a frame or two
// that the recording (the judge of what was played) does not have.
func echoRun(ac *AssistantConn, since time.Time) [2]time.Time {
	r, _ := echoRunHoles(ac, since)
	return r
}

// echoRunHoles is echoRun and the number of frames without tone inside it.
func echoRunHoles(ac *AssistantConn, since time.Time) ([2]time.Time, int) {
	at, on := toneFrames(ac, since)
	var r [2]time.Time
	holes, off := 0, 0
	for i, v := range on {
		switch {
		case v && r[0].IsZero():
			r[0], r[1] = at[i], at[i].Add(20*time.Millisecond)
		case v:
			r[1] = at[i].Add(20 * time.Millisecond)
			holes += off
			off = 0
		case !r[0].IsZero():
			if off++; off >= 5 {
				return r, holes
			}
		}
	}
	return r, holes
}

// parseWAV reads a PCM 16-bit WAV into its channels.
func parseWAV(b []byte) (int, [][]int16, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, nil, errors.New("not a WAV file")
	}
	var rate, nch, bits int
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8 : min(len(b), p+8+size)]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return 0, nil, errors.New("short fmt chunk")
			}
			nch = int(binary.LittleEndian.Uint16(body[2:4]))
			rate = int(binary.LittleEndian.Uint32(body[4:8]))
			bits = int(binary.LittleEndian.Uint16(body[14:16]))
		case "data":
			if bits != 16 || nch < 1 {
				return 0, nil, fmt.Errorf("%d-bit %d-channel audio", bits, nch)
			}
			n := len(body) / 2 / nch
			out := make([][]int16, nch)
			for c := range out {
				out[c] = make([]int16, n)
			}
			for i := 0; i < n; i++ {
				for c := 0; c < nch; c++ {
					out[c][i] = int16(binary.LittleEndian.Uint16(body[(i*nch+c)*2:]))
				}
			}
			return rate, out, nil
		}
		p += 8 + size + size%2
	}
	return 0, nil, errors.New("no data chunk")
}

// toneRunsMs returns the runs of freq in pcm as (start ms, length ms),
// judged per 10 ms window.
func toneRunsMs(pcm []int16, rate int, freq float64) [][2]int {
	w := rate / 100
	var runs [][2]int
	in := false
	for i := 0; (i+1)*w <= len(pcm); i++ {
		win := pcm[i*w : (i+1)*w]
		on := tone.RMS(win) > 500 && math.Abs(tone.EstimateFrequency(win, rate)-freq) < 150
		switch {
		case on && !in:
			runs = append(runs, [2]int{i * 10, 10})
		case on:
			runs[len(runs)-1][1] += 10
		}
		in = on
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i][0] < runs[j][0] })
	return runs
}

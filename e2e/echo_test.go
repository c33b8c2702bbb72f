package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

func init() { addScenario(scenario{"echo_assistant", testEchoAssistant}) }

const srcEcho = "127.0.0.22" // echo_assistant: the PBX calling the echo test number

// testEchoAssistant: the README's echo test on the real switch. A number's
// assistant is `sipbridge echo-assistant`; the caller (sipp playing a
// capture: 1 s silence, 1 s of a 1004 Hz tone, 1 s silence, the RFC 4733
// digit 7, 1 s silence) hears its tone back about 500 ms after it sent it,
// and the digit back as its DTMF tone pair (852 + 1209 Hz) about 500 ms
// after pressing it. The call's stereo recording is the judge: its left
// channel is what the caller sent, its right what the caller heard, on
// one clock. The echo assistant logs the stream's start, the digit and
// the stop with its byte counts.
func testEchoAssistant(t *testing.T, b *Bridge) {
	requireRawSocket(t)
	echo := startEchoAssistant(t, b)
	var asst struct {
		ID string `json:"id"`
	}
	b.API.Call(t, "POST", "/api/v1/assistants", map[string]any{"name": "Echo test", "stream_url": echo.URL,
		"recording_enabled": true}, http.StatusCreated, &asst)
	t.Cleanup(func() { b.API.Do(t, "DELETE", "/api/v1/assistants/"+asst.ID, nil) })
	tr := b.ipTrunk(t, "Echo PBX", srcEcho, srcEcho+":5060", nil)
	b.addNumberOn(t, "+16478495000", asst.ID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	const digitAfterToneMs = 2000 // the tone's start to the digit's, in the capture
	track := newRTPTrack().Silence(time.Second).Tone(callerTone, time.Second).Silence(time.Second).
		DTMF('7', 120*time.Millisecond).Silence(time.Second)
	c := toUser("+14165550561", "+16478495000")
	c.PCAP, c.HoldMs = writeTrack(t, "echo-tone-dtmf.pcap", track), int((track.Duration() + 300*time.Millisecond).Milliseconds())
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcEcho, Remote: b.SW.remote(), Calls: 1, Timeout: 20 * time.Second, Data: c})
	if code := uac.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	rec := b.waitRecord(t, "the call record closed", 5*time.Second, func(c CallRecord) bool { return c.From == "+14165550561" && c.To == "+16478495000" && c.EndedAt != nil })

	wav := b.waitRecording(t, rec.ID)
	rate, chans, err := parseWAV(wav)
	if err != nil || len(chans) != 2 {
		t.Fatalf("recording: %v (%d channels)", err, len(chans))
	}
	// Runs under 200 ms are not the tone: a few 10 ms windows of the
	// digit's tone pair read as 1004 Hz by zero crossings.
	said, heard := longRuns(toneRunsMs(chans[0], rate, callerTone)), longRuns(toneRunsMs(chans[1], rate, callerTone))
	t.Logf("recording (%d Hz): the caller's tone in runs (start ms, length ms) %v; heard back %v", rate, said, heard)
	if len(said) != 1 || len(heard) == 0 {
		t.Fatalf("the caller's tone not said once (%v) or not heard back (%v)", said, heard)
	}
	lag := heard[0][0] - said[0][0]
	t.Logf("e2e-bench: echo assistant: the caller heard its tone %d ms after saying it (%d ms run)", lag, heard[0][1])
	if lag < 470 || lag > 800 || heard[0][1] < 900 || len(heard) != 1 {
		t.Errorf("the caller heard its 1 s tone back as runs %v, %d ms after saying it (%v); want one run of ≥ 900 ms, 470–800 ms later",
			heard, lag, said)
	}
	digitAt := said[0][0] + digitAfterToneMs
	dtmf := dtmfRunsMs(chans[1], rate, '7')
	t.Logf("the digit 7 pressed at %d ms; its tone heard in runs %v", digitAt, dtmf)
	if len(dtmf) != 1 || dtmf[0][0]-digitAt < 450 || dtmf[0][0]-digitAt > 1000 || dtmf[0][1] < 150 || dtmf[0][1] > 300 {
		t.Errorf("the caller heard the digit 7's tone in runs %v, want one run of about 200 ms, 450–1000 ms after pressing it at %d ms", dtmf, digitAt)
	}

	testkit.Eventually(t, 5*time.Second, "the echo assistant's stop line", func() bool { return strings.Contains(echo.Logs(), `"msg":"echo: stream stopped"`) }, echo.Logs)
	logs := echo.Logs()
	for _, want := range []string{`"msg":"echo: stream started"`, `"from":"+14165550561"`, `"msg":"echo: digit"`, `"digit":"7"`, `"digits":"7"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the echo assistant's log has no %s:\n%s", want, logs)
		}
	}
}

// echoProcess is `sipbridge echo-assistant` running for a scenario.
type echoProcess struct {
	URL     string // its stream_url
	logPath string
}

// Logs returns the echo assistant's log (JSON lines).
func (e *echoProcess) Logs() string {
	data, _ := os.ReadFile(e.logPath)
	return string(data)
}

// startEchoAssistant runs the built binary's echo-assistant on a free
// port; it is stopped (SIGTERM) when t ends.
func startEchoAssistant(t *testing.T, b *Bridge) *echoProcess {
	t.Helper()
	port, err := freeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	e := &echoProcess{URL: "ws://" + addr + "/stream", logPath: filepath.Join(b.Dir, fmt.Sprintf("echo-assistant-%d.log", port))}
	logf, err := os.Create(e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(b.bin, "echo-assistant", "--addr", addr)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = b.Dir, []string{"PATH=" + os.Getenv("PATH")}, logf, logf
	cmd.SysProcAttr = dieWithTest()
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("echo-assistant did not stop within 5 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("echo assistant's log:\n%s", tailLines(e.Logs(), 20))
		}
	})
	testkit.Eventually(t, 10*time.Second, "the echo assistant listening", func() bool { return strings.Contains(e.Logs(), "echo assistant listening") }, e.Logs)
	return e
}

// waitRecording downloads a call's recording once it is there.
func (b *Bridge) waitRecording(t *testing.T, id string) []byte {
	t.Helper()
	var wav []byte
	testkit.Eventually(t, 10*time.Second, "the call's recording", func() bool {
		st, data := b.API.Do(t, "GET", "/api/v1/calls/"+id+"/recording", nil)
		wav = data
		return st == http.StatusOK && len(data) > 44
	}, nil)
	return wav
}

// longRuns keeps the runs of at least 200 ms.
func longRuns(runs [][2]int) [][2]int {
	var out [][2]int
	for _, r := range runs {
		if r[1] >= 200 {
			out = append(out, r)
		}
	}
	return out
}

// dtmfRunsMs returns the runs (start ms, length ms) of a digit's DTMF
// tone pair in pcm, judged per 40 ms window (narrow enough to tell
// keypad tones 73 Hz apart): both of its tones loud, the other six of the
// keypad quiet.
func dtmfRunsMs(pcm []int16, rate int, digit byte) [][2]int {
	rows, cols := []float64{697, 770, 852, 941}, []float64{1209, 1336, 1477, 1633}
	const keys = "123A456B789C*0#D"
	i := strings.IndexByte(keys, digit)
	low, high := rows[i/4], cols[i%4]
	w := rate / 25
	var runs [][2]int
	in := false
	for k := 0; (k+1)*w <= len(pcm); k++ {
		win := pcm[k*w : (k+1)*w]
		on := tone.Level(win, rate, low) > 2000 && tone.Level(win, rate, high) > 2000
		for _, f := range append(append([]float64(nil), rows...), cols...) {
			if f != low && f != high && tone.Level(win, rate, f) > 1000 {
				on = false
			}
		}
		switch {
		case on && !in:
			runs = append(runs, [2]int{k * 40, 40})
		case on:
			runs[len(runs)-1][1] += 40
		}
		in = on
	}
	return runs
}

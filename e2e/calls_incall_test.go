package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"incall", testInCall})
}

// srcInCall is the PBX of the incall scenario.
const srcInCall = "127.0.0.73"

// testInCall: what a caller and an assistant notice inside a call, on the
// real switch.
//
// refer_declined: the assistant transfers to a PBX user by REFER, the
// caller's PBX answers 603 and the URI holds no number to bridge to: the
// caller stays with the assistant, which gets transfer_failed with the
// target and the 603; the assistant's next reply reaches the caller (its
// echo, through the caller's sipp -rtp_echo, comes back to the assistant:
// both directions flow); the call ends only when the API hangs it up.
//
// bridge_busy: the API transfers the call to a number; the one trunk's
// carrier answers 486: the assistant gets transfer_failed with USER_BUSY
// and the conversation goes on, both ways.
//
// goodbye: the assistant sends a 2 s reply at once, then hangup: the
// caller's recording holds the whole 2 s before FreeSWITCH's BYE. The
// assistant's customParameters.call_id is the API's call id, call_sid the
// channel UUID, and GET /api/v1/calls/{channel uuid} finds the same record.
func testInCall(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "In-call Desk", asst, map[string]any{"recording_enabled": true})
	// The trunk's carrier answers every INVITE 486: a transfer bridged out
	// through it fails on its only leg.
	busy := StartSipp(t, SippOptions{Scenario: "uas-busy.xml", Calls: 1, Timeout: 90 * time.Second})
	tr := b.ipTrunk(t, "In-call PBX", srcInCall, fmt.Sprintf("%s:%d", busy.IP, busy.Port), nil)
	b.addNumberOn(t, "+16478494700", asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	t.Run("refer_declined", func(t *testing.T) {
		const from, to = "+14165550701", "sip:sales@pbx.example.com"
		uac := StartSipp(t, SippOptions{Scenario: "uac-refer.xml", IP: srcInCall, Remote: b.SW.remote(), Calls: 1, Timeout: 60 * time.Second,
			Args: []string{"-rtp_echo"}, Data: referCall{call: call{From: from, To: "+16478494700"}, Accept: false}})
		ac := asst.ByParam(t, "from", from, 10*time.Second)
		testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 5 }, nil)
		rec := b.waitRecord(t, "the call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.Status == "in-progress" })
		if err := ac.Transfer(to); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 15*time.Second, "transfer_failed at the assistant", func() bool { return len(ac.TransferFailed()) > 0 }, nil)
		f := ac.TransferFailed()[0]
		if f["to"] != to || !strings.Contains(f["reason"], "603") {
			t.Errorf("transfer_failed %v, want to %s and the 603 in the reason", f, to)
		}
		if refers := uac.Received("REFER "); len(refers) != 1 {
			t.Fatalf("the caller got %d REFERs, want 1", len(refers))
		}
		// The conversation goes on: a reply, heard by the caller and echoed
		// back to the assistant.
		time.Sleep(500 * time.Millisecond)
		sent := time.Now()
		if err := ac.SpeakTone(toneHz, 1500*time.Millisecond); err != nil {
			t.Fatalf("the assistant's stream is gone after the failed transfer: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
		echo := echoRun(ac, sent)
		if run := echo[1].Sub(echo[0]); echo[0].IsZero() || run < 1200*time.Millisecond {
			t.Errorf("after the failed transfer the assistant's 1.5 s reply came back from the caller as a run of %v", run)
		}
		if cur := b.waitRecord(t, "the call still up", 2*time.Second, func(c CallRecord) bool { return c.ID == rec.ID }); cur.EndedAt != nil {
			t.Fatalf("the call ended after the failed transfer: %+v", cur)
		}
		b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, http.StatusAccepted, nil)
		if code := uac.Wait(t, 15*time.Second); code != 0 {
			t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
		}
		done := b.waitRecord(t, "the call record closed", 10*time.Second, func(c CallRecord) bool { return c.ID == rec.ID && c.EndedAt != nil })
		if done.Reason != "hung up through the API" {
			t.Errorf("reason %q, want the API's hangup", done.Reason)
		}
		types := eventTypes(b.callEvents(t, rec.ID))
		for _, want := range []string{"refer_sent", "refer_failed", "transfer_failed"} {
			if !slices.Contains(types, want) {
				t.Errorf("timeline %q: no %s", types, want)
			}
		}
		if runs := b.recordingRuns(t, rec.ID); !slices.ContainsFunc(runs, func(r [2]int) bool { return r[1] >= 1400 }) {
			t.Errorf("the recording has no ≥ 1400 ms run of the reply after the failed transfer: %v", runs)
		}
	})

	t.Run("bridge_busy", func(t *testing.T) {
		const from, to = "+14165550703", "+12125550177"
		uac := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: srcInCall, Remote: b.SW.remote(), Calls: 1,
			Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: from, To: "+16478494700"}})
		ac := asst.ByParam(t, "from", from, 10*time.Second)
		rec := b.waitRecord(t, "the call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.Status == "in-progress" })
		testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 5 }, nil)
		b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/transfer", map[string]any{"to": to}, http.StatusAccepted, nil)
		testkit.Eventually(t, 15*time.Second, "transfer_failed at the assistant", func() bool { return len(ac.TransferFailed()) > 0 }, nil)
		if f := ac.TransferFailed()[0]; f["to"] != to || !strings.Contains(f["reason"], "USER_BUSY") {
			t.Errorf("transfer_failed %v, want to %s with USER_BUSY", f, to)
		}
		if code := busy.Wait(t, 10*time.Second); code != 0 {
			t.Errorf("the carrier's sipp exited %d (%s): %s", code, sippExit(code), busy.Report())
		}
		if n := len(busy.Received("INVITE ")); n != 1 {
			t.Errorf("the carrier got %d INVITEs, want 1", n)
		}
		sent := time.Now()
		if err := ac.SpeakTone(toneHz, time.Second); err != nil {
			t.Fatalf("the assistant's stream is gone after the failed transfer: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
		if echo := echoRun(ac, sent); echo[0].IsZero() || echo[1].Sub(echo[0]) < 700*time.Millisecond {
			t.Errorf("after the failed bridge the assistant's 1 s reply came back from the caller as a run of %v", echo[1].Sub(echo[0]))
		}
		b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, http.StatusAccepted, nil)
		if code := uac.Wait(t, 15*time.Second); code != 0 {
			t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
		}
		b.waitRecord(t, "the call record closed", 10*time.Second, func(c CallRecord) bool { return c.ID == rec.ID && c.EndedAt != nil })
		if types := eventTypes(b.callEvents(t, rec.ID)); !slices.Contains(types, "bridge_dialing") || !slices.Contains(types, "transfer_failed") || slices.Contains(types, "transferred") {
			t.Errorf("timeline %q: want bridge_dialing and transfer_failed, no transferred", types)
		}
	})

	t.Run("goodbye", func(t *testing.T) {
		const from = "+14165550702"
		uac := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: srcInCall, Remote: b.SW.remote(), Calls: 1,
			Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: from, To: "+16478494700"}})
		ac := asst.ByParam(t, "from", from, 10*time.Second)
		rec := b.waitRecord(t, "the call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.Status == "in-progress" })
		if got := ac.Param("call_id"); got != rec.ID {
			t.Errorf("customParameters.call_id %q, want the API's call id %s", got, rec.ID)
		}
		if got := ac.Param("call_sid"); got != rec.CallSID || got == "" {
			t.Errorf("customParameters.call_sid %q, want the channel UUID %s", got, rec.CallSID)
		}
		var byUUID CallRecord
		b.API.Call(t, "GET", "/api/v1/calls/"+rec.CallSID, nil, http.StatusOK, &byUUID)
		if byUUID.ID != rec.ID {
			t.Errorf("GET /api/v1/calls/{channel uuid} answered call %q, want %s", byUUID.ID, rec.ID)
		}
		testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 25 }, nil)
		sent := time.Now()
		if err := speakBurst(ac, toneHz, 2000); err != nil {
			t.Fatal(err)
		}
		if err := ac.Hangup(); err != nil {
			t.Fatal(err)
		}
		if code := uac.Wait(t, 15*time.Second); code != 0 {
			t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
		}
		byeAfter := time.Since(sent)
		done := b.waitRecord(t, "the call record closed", 10*time.Second, func(c CallRecord) bool { return c.ID == rec.ID && c.EndedAt != nil })
		if done.Reason != "assistant hung up" {
			t.Errorf("reason %q, want \"assistant hung up\"", done.Reason)
		}
		runs := b.recordingRuns(t, rec.ID)
		t.Logf("BYE %v after the 2 s reply was sent; the caller heard the tone in runs (start ms, length ms) %v", byeAfter.Round(time.Millisecond), runs)
		if !slices.ContainsFunc(runs, func(r [2]int) bool { return r[1] >= 1970 }) {
			t.Errorf("the 2 s goodbye was not heard whole before the BYE: runs %v", runs)
		}
	})
}

// recordingRuns downloads a call's stereo recording and returns the runs
// (start ms, length ms) of the test tone in what FreeSWITCH sent the caller.
func (b *Bridge) recordingRuns(t *testing.T, id string) [][2]int {
	t.Helper()
	var wav []byte
	testkit.Eventually(t, 10*time.Second, "the call's recording", func() bool {
		st, data := b.API.Do(t, "GET", "/api/v1/calls/"+id+"/recording", nil)
		wav = data
		return st == http.StatusOK && len(data) > 44
	}, nil)
	rate, chans, err := parseWAV(wav)
	if err != nil || len(chans) != 2 {
		t.Fatalf("recording: %v (%d channels)", err, len(chans))
	}
	return toneRunsMs(chans[1], rate, toneHz)
}

package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/audio/amd/amdtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"amd", testAMD})
}

// The carriers of the amd scenario's two trunks (ACL entries of their own).
const (
	srcAMDMachine = "127.0.0.51"
	srcAMDHuman   = "127.0.0.52"
)

// testAMD: outbound calls with amd: true to carriers (sipp) that answer
// and play, as RTP, a voicemail (a 4 s spoken greeting, then a 400 ms
// 1 kHz beep) or a person ("Hello?", then silence), through the real
// switch and mod_audio_stream:
//
//   - wait_beep on the voicemail: the assistant gets amd machine, then
//     amd machine with beep true once the beep has ended; the timeline
//     holds both;
//   - the person: amd human;
//   - hangup on the voicemail: the call ends (the carrier gets the BYE),
//     the record says why, the timeline says amd asked for it.
func testAMD(t *testing.T, b *Bridge) {
	requireRawSocket(t)
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "AMD Caller", asst, nil)
	machine := answerTrack(t, "amd-machine.pcap", amdtest.Answer{Greeting: "machine_mark", LeadMS: 300, BeepGapMS: 300, BeepMS: 400, TailMS: 3000})
	human := answerTrack(t, "amd-human.pcap", amdtest.Answer{Greeting: "human_hello_us", LeadMS: 300, TailMS: 5000})
	vm := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 2, Timeout: 60 * time.Second, Data: uasData{Code: 200, PCAP: machine}})
	person := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 1, Timeout: 60 * time.Second, Data: uasData{Code: 200, PCAP: human}})
	trVM := b.ipTrunk(t, "AMD Voicemail", srcAMDMachine, fmt.Sprintf("%s:%d", vm.IP, vm.Port), nil)
	trPerson := b.ipTrunk(t, "AMD Person", srcAMDHuman, fmt.Sprintf("%s:%d", person.IP, person.Port), nil)
	const fromVM, fromPerson = "+16478496100", "+16478496200"
	b.addNumberOn(t, fromVM, asstID, trVM.ID)
	b.addNumberOn(t, fromPerson, asstID, trPerson.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	place := func(from, to string, extra map[string]any) string {
		var res struct {
			CallID string `json:"call_id"`
		}
		body := map[string]any{"from_phone_number": from, "to_phone_number": to, "wait": true, "amd": true}
		for k, v := range extra {
			body[k] = v
		}
		b.API.Call(t, "POST", "/api/v1/calls/initiate", body, http.StatusOK, &res)
		return res.CallID
	}
	const toBeep, toPerson, toHangup = "+12125556101", "+12125556102", "+12125556103"
	beepCall := place(fromVM, toBeep, map[string]any{"amd_action": "wait_beep"})
	personCall := place(fromPerson, toPerson, nil)
	hangupCall := place(fromVM, toHangup, map[string]any{"amd_action": "hangup"})
	beepConn, personConn, hangupConn := asst.ByParam(t, "to", toBeep, 10*time.Second), asst.ByParam(t, "to", toPerson, 10*time.Second), asst.ByParam(t, "to", toHangup, 10*time.Second)

	t.Run("wait_beep", func(t *testing.T) {
		testkit.Eventually(t, 15*time.Second, "amd machine, then the beep, at the assistant", func() bool { return len(beepConn.AMD()) >= 2 },
			func() string { return jsonString(beepConn.AMD()) })
		got := beepConn.AMD()
		t.Logf("wait_beep: %s", jsonString(got))
		ms0, _ := got[0]["ms"].(float64)
		ms1, _ := got[1]["ms"].(float64)
		if len(got) != 2 || got[0]["result"] != "machine" || got[0]["beep"] != nil || ms0 < 1500 || ms0 > 4000 ||
			got[1]["result"] != "machine" || got[1]["beep"] != true || ms1 < ms0+2000 {
			t.Errorf("amd messages %s: want machine at 1.5–4 s, then machine with beep true after the 4 s greeting", jsonString(got))
		}
		var tl []CallEvent
		for _, e := range b.callEvents(t, beepCall) {
			if e.Type == "amd" {
				tl = append(tl, e)
			}
		}
		var hz float64
		if len(tl) == 2 {
			hz, _ = tl[1].Detail["beep_hz"].(float64)
		}
		if len(tl) != 2 || tl[0].Detail["result"] != "machine" || tl[1].Detail["beep"] != true || hz < 980 || hz > 1020 {
			t.Errorf("amd timeline %s: want the machine, then its 1 kHz beep", jsonString(tl))
		}
	})
	t.Run("human", func(t *testing.T) {
		testkit.Eventually(t, 10*time.Second, "amd at the assistant", func() bool { return len(personConn.AMD()) >= 1 }, nil)
		got := personConn.AMD()
		t.Logf("human: %s", jsonString(got))
		if len(got) != 1 || got[0]["result"] != "human" {
			t.Errorf("amd messages %s: want one human", jsonString(got))
		}
		if ev, ok := findEvent(b.callEvents(t, personCall), "amd"); !ok || ev.Detail["result"] != "human" || ev.Detail["cause"] != "short_greeting" {
			t.Errorf("amd timeline %s, want human (short_greeting)", jsonString(ev))
		}
	})
	t.Run("hangup", func(t *testing.T) {
		rec := b.WaitCall(t, "the machine's call ended", 15*time.Second, func(c Call) bool { return c.ID == hangupCall && c.EndedAt != nil })
		if rec.Status != "completed" || rec.Reason != "answering machine detected (amd_action hangup)" {
			t.Errorf("record %s: want completed, reason answering machine detected (amd_action hangup)", jsonString(rec))
		}
		if got := hangupConn.AMD(); len(got) != 1 || got[0]["result"] != "machine" {
			t.Errorf("the assistant got amd %s, want the machine before the hangup", jsonString(got))
		}
		if ev, ok := findEvent(b.callEvents(t, hangupCall), "hangup_requested"); !ok || ev.Detail["by"] != "amd" {
			t.Errorf("hangup_requested %s, want by amd", jsonString(ev))
		}
		testkit.Eventually(t, 5*time.Second, "the BYE at the voicemail's carrier", func() bool { return len(vm.Received("BYE ")) == 1 }, nil)
	})

	for _, id := range []string{beepCall, personCall} {
		b.API.Call(t, "POST", "/api/v1/calls/"+id+"/hangup", nil, http.StatusAccepted, nil)
		b.WaitCall(t, "the record completed", 10*time.Second, func(c Call) bool { return c.ID == id && c.Status == "completed" })
	}
	for _, s := range []*Sipp{vm, person} {
		if code := s.Wait(t, 10*time.Second); code != 0 {
			t.Errorf("carrier %s:%d exited %d (%s): %s", s.IP, s.Port, code, sippExit(code), s.Report())
		}
	}
}

// answerTrack writes a callee's answer as RTP (PCMU, 20 ms) for sipp.
func answerTrack(t testing.TB, name string, a amdtest.Answer) string {
	t.Helper()
	r, err := a.Render()
	if err != nil {
		t.Fatal(err)
	}
	return writeTrack(t, name, newRTPTrack().PCM(r.PCM8))
}

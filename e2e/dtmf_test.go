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
	addScenario(scenario{"dtmf_out", testDTMFOut})
}

// testDTMFOut: an assistant presses keys on its outbound call (IVR
// navigation) and the far end gets them as RFC 2833 telephone-events, in
// order. The far end is the switch itself: the trunk's gateway is
// FreeSWITCH's own SIP port and lets its address in, so the call comes
// back as an inbound call to a second number of the organization, whose
// assistant is the judge, with FreeSWITCH's DTMF events on that B leg.
// Along the way, uuid_send_dtmf answers as the simulator says it does.
func testDTMFOut(t *testing.T, b *Bridge) {
	caller, ivr := StartAssistant(t), StartAssistant(t)
	callerID := b.CreateAssistant(t, "DTMF Caller", caller, nil)
	ivrID := b.CreateAssistant(t, "DTMF IVR", ivr, nil)
	loop := b.ipTrunk(t, "DTMF Loop", "127.0.0.1", b.SW.remote(), nil)
	const from, to = "+12125557000", "+12125557001"
	b.addNumberOn(t, from, callerID, loop.ID)
	b.addNumberOn(t, to, ivrID, loop.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	var res struct {
		CallID  string `json:"call_id"`
		CallSID string `json:"call_sid"`
	}
	b.API.Call(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": to, "wait": true}, http.StatusOK, &res)
	ac := caller.ByParam(t, "to", to, 10*time.Second)
	in := ivr.ByParam(t, "from", from, 10*time.Second)
	testkit.Eventually(t, 5*time.Second, "audio at both assistants", func() bool { return ac.Frames() >= 5 && in.Frames() >= 5 }, nil)
	bLeg := in.Param("call_sid")

	m := b.SW.Mark()
	if err := ac.Send(map[string]any{"event": "dtmf", "dtmf": map[string]any{"digits": "12#9*"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"1", "2", "#", "9", "*"}
	testkit.Eventually(t, 10*time.Second, "the keys at the far end's assistant", func() bool { return len(in.DTMF()) >= len(want) },
		func() string { return fmt.Sprintf("%q", in.DTMF()) })
	if got := in.DTMF(); !slices.Equal(got, want) {
		t.Errorf("the far end's assistant got %q, want %q", got, want)
	}
	// The harness's own Event Socket connection may get the events after
	// sipbridge's did.
	var onB []string
	testkit.Eventually(t, 5*time.Second, "FreeSWITCH's DTMF events at the harness", func() bool {
		return len(b.SW.EventsSince(m, "DTMF")) >= len(want)
	}, nil)
	for _, e := range b.SW.EventsSince(m, "DTMF") {
		if e.Get("Unique-ID") == bLeg {
			onB = append(onB, e.Get("DTMF-Digit"))
		} else {
			t.Errorf("a DTMF event on channel %s (not the B leg %s): %s", e.Get("Unique-ID"), bLeg, e.Get("DTMF-Digit"))
		}
	}
	if !slices.Equal(onB, want) {
		t.Errorf("FreeSWITCH's DTMF events on the B leg: %q, want %q", onB, want)
	}
	if got := ac.DTMF(); len(got) != 0 {
		t.Errorf("the caller's assistant was told of keys %q: its own keys came back", got)
	}

	// Refused digits: dtmf_refused, nothing sent, the call goes on.
	if err := ac.Send(map[string]any{"event": "dtmf", "dtmf": map[string]any{"digits": "5x"}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "dtmf_sent and dtmf_refused on the caller's timeline", func() bool {
		types := eventTypes(b.callEvents(t, res.CallID))
		return slices.Contains(types, "dtmf_sent") && slices.Contains(types, "dtmf_refused")
	}, func() string { return jsonString(b.callEvents(t, res.CallID)) })
	if ev, _ := findEvent(b.callEvents(t, res.CallID), "dtmf_sent"); jsonString(ev.Detail) != `{"digits":"12#9*"}` {
		t.Errorf("dtmf_sent %s, want the digits 12#9*", jsonString(ev))
	}

	// The real switch's answers to uuid_send_dtmf (the simulator's
	// TestUUIDSendDTMF holds the same).
	for cmd, want := range map[string]string{
		"uuid_send_dtmf 00000000-0000-0000-0000-000000000000 1": "-ERR Cannot locate session!",
		"uuid_send_dtmf " + bLeg:                                "-USAGE: <uuid> <dtmf_data>",
		"uuid_send_dtmf " + bLeg + " xyz":                       "-ERR Operation failed",
		"uuid_send_dtmf " + bLeg + " 4":                         "+OK " + bLeg + " sent DTMF 4.",
	} {
		if got := b.SW.API(t, cmd); strings.TrimSpace(got) != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	testkit.Eventually(t, 5*time.Second, "the B leg's key at the caller's assistant", func() bool { return slices.Equal(ac.DTMF(), []string{"4"}) },
		func() string { return fmt.Sprintf("%q", ac.DTMF()) })
	if n := len(in.DTMF()); n != len(want) {
		t.Errorf("the far end's assistant got %d keys, want %d: 5x was refused", n, len(want))
	}

	b.API.Call(t, "POST", "/api/v1/calls/"+res.CallID+"/hangup", nil, http.StatusAccepted, nil)
	b.WaitCall(t, "the caller's record completed", 10*time.Second, func(c Call) bool { return c.ID == res.CallID && c.Status == "completed" })
}

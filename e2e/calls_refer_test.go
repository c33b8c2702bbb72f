package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"refer", testRefer})
}

// referCall is the data of uac-refer.xml.
type referCall struct {
	call
	Accept bool
}

// testRefer: the assistant's `transfer` to a sip: URI on the real switch.
//
// accepted: FreeSWITCH sends the caller a REFER naming the URI, without the
// INVITE's Diversion and X- headers (exclude_outgoing_extra_header); the
// caller answers 202 and NOTIFYs "SIP/2.0 200 OK"; sipbridge hangs its leg
// up (BYE to the caller, hangup_cause BLIND_TRANSFER) and the timeline shows
// refer_sent then refer_accepted.
//
// declined: the caller answers the REFER 603; sipbridge falls back to
// bridging the URI's number out through the organization's trunks: the
// trunk's carrier (a sipp UAS) gets the INVITE for that number with the
// caller's number as caller ID, answers, and hangs up after a while, which ends the
// caller's call; the timeline shows refer_failed, transfer_fallback and
// transferred.
func testRefer(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Refer Desk", asst, nil)
	carrier := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 1, Timeout: 60 * time.Second,
		Data: uasData{Code: 200, HoldMs: 1500}})
	tr := b.ipTrunk(t, "Refer PBX", srcRefer, fmt.Sprintf("%s:%d", carrier.IP, carrier.Port), nil)
	b.addNumberOn(t, "+16478494000", asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	// transferFrom places a call from `from` and has the assistant transfer it to `to`
	// once the caller's audio flows.
	transferFrom := func(t *testing.T, from, to string, accept bool) (*Sipp, CallRecord) {
		uac := StartSipp(t, SippOptions{Scenario: "uac-refer.xml", IP: srcRefer, Remote: b.SW.remote(), Calls: 1, Timeout: 30 * time.Second,
			Data: referCall{call: call{From: from, To: "+16478494000", Headers: []string{
				"Diversion: <sip:+16478494000@pbx.example.com>;reason=unconditional", "X-Customer-Id: e2e-" + from[len(from)-3:]}}, Accept: accept}})
		ac := asst.ByParam(t, "from", from, 10*time.Second)
		testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 5 }, nil)
		if err := ac.Transfer(to); err != nil {
			t.Fatalf("the assistant's transfer: %v", err)
		}
		if code := uac.Wait(t, 30*time.Second); code != 0 {
			t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
		}
		select {
		case <-ac.Closed():
		case <-time.After(5 * time.Second):
			t.Errorf("the assistant's websocket is still open after the transfer")
		}
		rec := b.waitRecord(t, "the call record closed", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.EndedAt != nil })
		refers := uac.Received("REFER ")
		if len(refers) != 1 {
			t.Fatalf("the caller got %d REFERs, want 1", len(refers))
		}
		if rt := sipHeader(refers[0], "Refer-To"); !strings.Contains(rt, to) {
			t.Errorf("REFER's Refer-To %q, want %s", rt, to)
		}
		for _, h := range []string{"Diversion", "X-Customer-Id"} {
			if v := sipHeader(refers[0], h); v != "" {
				t.Errorf("the REFER carries the INVITE's %s header (%q): inbound headers must not be copied", h, v)
			}
		}
		return uac, rec
	}

	t.Run("accepted", func(t *testing.T) {
		_, rec := transferFrom(t, "+14165550501", "sip:frontdesk@pbx.example.com", true)
		evs := b.callEvents(t, rec.ID)
		types := eventTypes(evs)
		if !slices.Contains(types, "refer_sent") || !slices.Contains(types, "refer_accepted") || slices.Contains(types, "refer_failed") {
			t.Errorf("timeline %q: want refer_sent and refer_accepted", types)
		}
		if rec.HangupCause != "BLIND_TRANSFER" || rec.Status != "completed" {
			t.Errorf("record status %s hangup_cause %s reason %q; want completed with BLIND_TRANSFER", rec.Status, rec.HangupCause, rec.Reason)
		}
		if n := len(carrier.Received("INVITE ")); n != 0 {
			t.Errorf("an accepted REFER still dialled the trunk (%d INVITEs)", n)
		}
	})

	t.Run("declined_fallback", func(t *testing.T) {
		uac, rec := transferFrom(t, "+14165550502", "sip:+12125550188@pbx.example.com", false)
		if got := uac.Received("SIP/2.0 200"); len(got) == 0 {
			t.Errorf("no 200 at the caller")
		}
		if code := carrier.Wait(t, 10*time.Second); code != 0 {
			t.Errorf("the carrier's sipp exited %d (%s): %s", code, sippExit(code), carrier.Report())
		}
		invites := carrier.Received("INVITE ")
		if len(invites) != 1 {
			t.Fatalf("the trunk's carrier got %d INVITEs, want 1", len(invites))
		}
		ruri, _, _ := strings.Cut(invites[0], "\n")
		// The trunk keeps caller-id-in-from false (its default): the caller's
		// number travels in Remote-Party-ID, the From user is FreeSWITCH's.
		rpid := sipHeader(invites[0], "Remote-Party-ID")
		if !strings.HasPrefix(ruri, "INVITE sip:+12125550188@") || !strings.Contains(rpid, "+14165550502@") {
			t.Errorf("the carrier got %q with Remote-Party-ID %q; want the URI's number +12125550188 with the caller's +14165550502", ruri, rpid)
		}
		types := eventTypes(b.callEvents(t, rec.ID))
		for _, want := range []string{"refer_sent", "refer_failed", "transfer_fallback", "bridge_dialing", "transferred"} {
			if !slices.Contains(types, want) {
				t.Errorf("timeline %q: no %s", types, want)
			}
		}
		if slices.Contains(types, "refer_accepted") {
			t.Errorf("timeline %q: a declined REFER shows refer_accepted", types)
		}
		if ev, ok := findEvent(b.callEvents(t, rec.ID), "transfer_fallback"); !ok || ev.Detail["to"] != "+12125550188" {
			t.Errorf("transfer_fallback %+v, want to +12125550188", ev)
		}
	})
}

package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

func init() {
	addScenario(scenario{"warm_transfer", testWarmTransfer})
}

// testWarmTransfer: a warm transfer on the real switch. The caller (sipp,
// its RTP to a sink of the test's) talks to the assistant, which asks for
// a warm transfer to a number; the trunk's carrier (a sipp UAS whose RTP
// also goes to a sink of the test's, which talks back) answers.
//
// complete: while the caller hears the hold tone (440 + 480 Hz) and none
// of the assistant, the target hears the assistant's briefing (1000 Hz);
// then transfer_complete: the assistant's stream closes, and a tone the
// target sends (600 Hz) reaches the caller: they are bridged.
//
// cancel: after the briefing, transfer_cancel: the target is hung up and
// the assistant, told by transfer_failed, is heard by the caller again.
func testWarmTransfer(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Warm Desk", asst, nil)
	target := startRTPSink(t, "127.0.0.1")
	carrier := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 2, Timeout: 60 * time.Second,
		Data: uasData{Code: 200, MediaPort: target.port()}})
	var targetTone atomic.Int64
	go target.talkToneTo(carrier, &targetTone)
	pbx := b.CreateTrunk(t, map[string]any{"name": "PBX Warm", "gateway": fmt.Sprintf("%s:%d", carrier.IP, carrier.Port), "register": false,
		"allowed_addresses": []string{"127.0.0.5/32"}})
	const number = "+16478492031"
	b.AddNumber(t, number, asstID, pbx.ID)
	b.WaitApplied(t, pbx.ID, 10*time.Second)
	b.SW.WaitQuiet(t, 300*time.Millisecond, 10*time.Second)

	// briefed places a call, asks for the warm transfer and has the
	// assistant brief the target for 1 s once it answered.
	briefed := func(t *testing.T, from, to string) (*sinkCall, *AssistantConn, CallRecord) {
		c := placeSinkCall(t, b, from, number)
		ac := asst.ByParam(t, "from", from, 10*time.Second)
		testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 5 }, nil)
		rec := b.waitRecord(t, "the call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.Status == "in-progress" })
		asked := time.Now()
		if err := ac.Send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": to, "mode": "warm"}}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "transfer_answered at the assistant", func() bool { return slices.Contains(ac.Events(), "transfer_answered") },
			func() string { return fmt.Sprintf("assistant events %q", ac.Events()) })
		brief := time.Now()
		if err := ac.SpeakTone(sinkAssist, time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		t.Logf("caller heard %s; target heard %s", c.sink.runs(), target.runs())
		if n := target.countAfter(sinkAssist, brief); n < 30 {
			t.Errorf("the target heard %d packets of the assistant's 1 s briefing, want ≥ 30: %s", n, target.runs())
		}
		if n := c.sink.countAfter(sinkAssist, asked); n > 0 {
			t.Errorf("the caller heard %d packets of the briefing: %s", n, c.sink.runs())
		}
		if n := c.sink.countAfter(sinkRingback, asked); n < 25 {
			t.Errorf("the caller heard %d packets of the hold tone, want ≥ 25 (its first 2 s): %s", n, c.sink.runs())
		}
		return c, ac, rec
	}
	hangup := func(t *testing.T, c *sinkCall, rec CallRecord) CallRecord {
		b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, http.StatusAccepted, nil)
		c.wait(t)
		return b.waitRecord(t, "the call record closed", 10*time.Second, func(r CallRecord) bool { return r.ID == rec.ID && r.EndedAt != nil })
	}

	t.Run("complete", func(t *testing.T) {
		c, ac, rec := briefed(t, "+14165550131", "+12125550131")
		if err := ac.Send(map[string]any{"event": "transfer_complete"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ac.Closed():
		case <-time.After(5 * time.Second):
			t.Fatal("the assistant's websocket is still open after transfer_complete")
		}
		done := time.Now()
		targetTone.Store(sinkWelcome)
		time.Sleep(1200 * time.Millisecond)
		targetTone.Store(0)
		if n := c.sink.countAfter(sinkWelcome, done); n < 30 {
			t.Errorf("the caller heard %d packets of the target's 1.2 s tone, want ≥ 30 (bridged): %s", n, c.sink.runs())
		}
		if !ac.Stopped() {
			t.Error("the assistant got no stop")
		}
		hangup(t, c, rec)
		types := eventTypes(b.callEvents(t, rec.ID))
		for _, want := range []string{"transfer_requested", "hold_started", "target_answered", "transfer_completed"} {
			if !slices.Contains(types, want) {
				t.Errorf("timeline %q: no %s", types, want)
			}
		}
	})

	t.Run("cancel", func(t *testing.T) {
		c, ac, rec := briefed(t, "+14165550132", "+12125550132")
		if err := ac.Send(map[string]any{"event": "transfer_cancel"}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, "transfer_failed at the assistant", func() bool { return len(ac.TransferFailed()) > 0 }, nil)
		if code := carrier.Wait(t, 10*time.Second); code != 0 {
			t.Errorf("the carrier's sipp exited %d (%s): %s", code, sippExit(code), carrier.Report())
		}
		time.Sleep(300 * time.Millisecond)
		back := time.Now()
		if err := ac.SpeakTone(sinkAssist, time.Second); err != nil {
			t.Fatalf("the assistant's stream is gone after the cancel: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
		if n := c.sink.countAfter(sinkAssist, back); n < 30 {
			t.Errorf("after the cancel the caller heard %d packets of the assistant's 1 s, want ≥ 30: %s", n, c.sink.runs())
		}
		if n := c.sink.countAfter(sinkRingback, back); n > 0 {
			t.Errorf("the hold tone went on after the cancel (%d packets): %s", n, c.sink.runs())
		}
		hangup(t, c, rec)
		types := eventTypes(b.callEvents(t, rec.ID))
		if !slices.Contains(types, "transfer_cancelled") || slices.Contains(types, "transfer_completed") {
			t.Errorf("timeline %q: want transfer_cancelled, no transfer_completed", types)
		}
	})
}

// talkToneTo is talkTo (RTP every 20 ms to the SDP of each INVITE peer
// received, the latest first) sending freq's tone while it is not 0,
// silence otherwise, until the sink closes.
func (s *rtpSink) talkToneTo(peer *Sipp, freq *atomic.Int64) {
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	pcm := make([]int16, 160)
	gens := map[int64]*tone.Generator{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seq := uint16(1); ; seq++ {
		var to *net.UDPAddr
		if got := peer.Received("INVITE "); len(got) > 0 {
			to = sdpAudioAddr(got[len(got)-1])
		}
		if f := freq.Load(); f != 0 {
			if gens[f] == nil {
				gens[f] = tone.New(float64(f), 8000, 8000)
			}
			gens[f].Read(pcm)
		} else {
			clear(pcm)
		}
		audio.MulawEncode(pkt[12:], pcm)
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
		binary.BigEndian.PutUint32(pkt[8:], 0x5e2e0031)
		if to != nil {
			if _, err := s.conn.WriteToUDP(pkt, to); err != nil && errors.Is(err, net.ErrClosed) {
				return
			}
		}
		select {
		case <-tick.C:
		case <-peer.exited:
			return
		}
	}
}

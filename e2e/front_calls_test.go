package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() { addScenario(scenario{"front_calls", testFrontCalls}) }

// frontCalls is how many calls the carrier sends to the one address.
const frontCalls = 20

// testFrontCalls: Kamailio in front of two real FreeSWITCH nodes (own
// ports and conf copies, one generated folder), its dispatcher list from
// `sipbridge render-dispatcher`, and a sipbridge of its own with FS_NODES
// naming both and Kamailio as its SIP front. The carrier sends its calls
// to Kamailio's one address; round robin spreads them over both nodes, and
// each node's call control answers its own: every call reaches the
// assistant with the caller's audio and is completed, and the records'
// node shows both nodes. Then fs2 is killed, and the calls sent on go to
// fs1 (frontNodeKill).
func testFrontCalls(t *testing.T, shared *Bridge) {
	bin := kamailioBinary()
	if bin == "" {
		t.Skip("kamailio is not installed (Debian package kamailio): the scenario needs it")
	}
	requireRawSocket(t)
	dir := filepath.Join(suite.tmp, "front-calls-"+shared.Name)
	gen, sws := startNodes(t, dir, "fs1", "fs2")
	url := ""
	if shared.Name == "postgres" {
		url = dbtest.DSN(t)
	}
	b := StartBridge(t, sws[0], shared.Name+"-front-calls", url, "FS_GEN_DIR="+gen, "SIP_PROXIES="+srcFront,
		"FS_NODES=fs1="+sws[0].ESLAddr+";sip="+sws[0].remote()+",fs2="+sws[1].ESLAddr+";sip="+sws[1].remote())
	for i, sw := range sws {
		testkit.Eventually(t, 15*time.Second, fmt.Sprintf("fs%d's proxy list holding Kamailio", i+1), func() bool {
			return strings.TrimSpace(sw.API(t, "acl "+srcFront+" sipbridge_proxies")) == "true"
		}, nil)
	}
	kam := StartKamailio(t, bin, srcFront, b.Run(t, "render-dispatcher"))

	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Front Desk", asst, nil)
	carrier := b.CreateTrunk(t, map[string]any{"name": "Front Carrier", "gateway": srcFrontCarrier + ":5060", "register": false,
		"allowed_addresses": []string{srcFrontCarrier + "/32"}})
	b.WaitTrunk(t, carrier.ID, "applied on both nodes", 15*time.Second, func(tr Trunk) bool {
		return len(tr.Nodes) == 2 && tr.Nodes[0].SyncStatus.State == "applied" && tr.Nodes[1].SyncStatus.State == "applied"
	})
	const number = "+16478497100"
	b.addNumberOn(t, number, asstID, carrier.ID)
	for _, sw := range sws {
		sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	}

	track := newRTPTrack().Tone(callerTone, 2*time.Second)
	c := toUser("+14165550961", number)
	c.PCAP, c.HoldMs, c.RecordRoute = writeTrack(t, "front-calls-tone.pcap", track), 2500, true
	started := time.Now()
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcFrontCarrier, Remote: kam.Addr, Calls: frontCalls,
		Timeout: 60 * time.Second, Data: c, Args: []string{"-r", "5"}})
	if code := uac.Wait(t, 70*time.Second); code != 0 {
		t.Fatalf("the carrier's %d calls through Kamailio: sipp exited %d (%s): %s", frontCalls, code, sippExit(code), uac.Report())
	}
	t.Logf("%d calls through Kamailio in %v", frontCalls, time.Since(started).Round(time.Millisecond))

	var recs []Call
	testkit.Eventually(t, 15*time.Second, "every record ended", func() bool {
		recs = recs[:0]
		for _, r := range b.Calls(t, "") {
			if r.To == number {
				recs = append(recs, r)
			}
		}
		if len(recs) != frontCalls {
			return false
		}
		for _, r := range recs {
			if r.EndedAt == nil {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%+v", recs) })
	perNode := map[string]int{}
	for _, r := range recs {
		perNode[r.Node]++
		if r.Status != "completed" || r.AnsweredAt == nil {
			t.Errorf("call %s on %q: status %s (%s), want completed", r.ID, r.Node, r.Status, r.Reason)
		}
	}
	t.Logf("calls per node: %v; the timeline of one (a row each): %s", perNode, strings.Join(eventTypes(b.callEvents(t, recs[0].ID)), " "))
	if len(perNode) != 2 || perNode["fs1"] == 0 || perNode["fs2"] == 0 {
		t.Errorf("calls per node %v, want both fs1 and fs2", perNode)
	}
	conns := asst.Conns()
	if len(conns) != frontCalls {
		t.Errorf("the assistant got %d streams, want %d", len(conns), frontCalls)
	}
	for i, ac := range conns {
		if ac.Frames() < 25 {
			t.Errorf("stream %d: the assistant heard %d caller frames, want the tone's (≥ 25)", i, ac.Frames())
		}
	}
	frontNodeKill(t, b, sws, kam, number)
}

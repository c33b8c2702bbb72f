package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/secret"
)

func init() { addScenario(scenario{"replicas", testReplicas}) }

// srcReplicas is the PBX of the replicas scenario.
const srcReplicas = "127.0.0.87"

// leaseTaken is a replica's log line when it takes a node's lease.
const leaseTaken = "node lease taken: this replica controls the node's calls"

// testReplicas: two sipbridge replicas (REPLICA_ADDR) on one PostgreSQL
// and one real FreeSWITCH node of their own. The first to start holds the
// node's lease and alone handles its calls; a hangup of its live call
// asked of the other replica is forwarded to it and ends the call. Killed,
// it stops renewing: the other takes the node over within the lease's
// 10 s and answers the next call.
func testReplicas(t *testing.T, shared *Bridge) {
	if shared.Name != "postgres" {
		t.Skip("replicas share one PostgreSQL")
	}
	dir := filepath.Join(suite.tmp, "replicas-"+shared.Name)
	os.RemoveAll(dir)
	gen := filepath.Join(dir, "gen")
	for _, d := range []string{"gateways", "acl", "profile"} {
		if err := os.MkdirAll(filepath.Join(gen, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sw, err := StartSwitchWith(filepath.Join(dir, "fs1"), map[string]string{"sipbridge_gen_dir": gen})
	if sw != nil {
		t.Cleanup(func() {
			if err := sw.Stop(); err != nil {
				t.Errorf("stopping fs1: %v", err)
			}
			sw.esl.Close()
		})
	}
	if err != nil {
		t.Fatalf("FreeSWITCH fs1: %v", err)
	}
	dsn, key := dbtest.DSN(t), secret.NewKey()
	start := func(name string) *Bridge {
		port, err := freeTCPPort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		return StartBridge(t, sw, shared.Name+"-replica-"+name, dsn, "SIPBRIDGE_ADDR="+addr, "STREAM_WS_BASE=ws://"+addr,
			"SECRET_KEY="+key, "FS_GEN_DIR="+gen, "FS_NODES=fs1="+sw.ESLAddr, "REPLICA_NAME="+name, "REPLICA_ADDR=http://"+addr)
	}
	a := start("a")
	testkit.Eventually(t, 10*time.Second, "a holding fs1", func() bool { return len(a.LogSince(0, leaseTaken)) == 1 }, nil)
	b := start("b")
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Replica Desk", asst, nil)
	tr := b.ipTrunk(t, "Replica PBX", srcReplicas, srcReplicas+":5060", nil)
	const number = "+16478497200"
	b.addNumberOn(t, number, asstID, tr.ID)
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	markA, markB := a.LogMark(), b.LogMark()

	const from = "+14165550971"
	uac := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: srcReplicas, Remote: sw.remote(), Calls: 1,
		Timeout: 60 * time.Second, Args: []string{"-rtp_echo"}, Data: call{From: from, To: number}})
	asst.ByParam(t, "from", from, 10*time.Second)
	rec := b.waitRecord(t, "the call in progress", 10*time.Second, func(c CallRecord) bool { return c.From == from && c.Status == "in-progress" })
	if rec.Node != "fs1" {
		t.Errorf("the call's node %q, want fs1", rec.Node)
	}
	if na, nb := len(a.LogSince(markA, "inbound call accepted")), len(b.LogSince(markB, "inbound call accepted")); na != 1 || nb != 0 {
		t.Errorf("the call was accepted %d times by a and %d by b, want once by a (the lease holder)", na, nb)
	}
	b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, http.StatusAccepted, nil)
	if code := uac.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	rec = b.waitRecord(t, "the call record closed", 10*time.Second, func(c CallRecord) bool { return c.ID == rec.ID && c.EndedAt != nil })
	if rec.Status != "completed" {
		t.Errorf("the call hung up through b: %s (%s), want completed", rec.Status, rec.Reason)
	}

	killed := time.Now()
	a.cmd.Process.Kill()
	<-a.exited
	testkit.Eventually(t, 15*time.Second, "b holding fs1 after a was killed", func() bool {
		return len(b.LogSince(markB, leaseTaken)) == 1
	}, nil)
	t.Logf("b took fs1 over %v after a was killed (lease 10 s, renewed every 3 s)", time.Since(killed).Round(100*time.Millisecond))
	const from2 = "+14165550972"
	c := toUser(from2, number)
	second := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcReplicas, Remote: sw.remote(), Calls: 1, Timeout: 20 * time.Second, Data: c})
	if code := second.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("the call after the takeover: sipp exited %d (%s): %s", code, sippExit(code), second.Report())
	}
	rec = b.waitRecord(t, "the second call closed", 10*time.Second, func(c CallRecord) bool { return c.From == from2 && c.EndedAt != nil })
	if rec.Status != "completed" || rec.Node != "fs1" {
		t.Errorf("the call after the takeover: %s on %q (%s), want completed on fs1", rec.Status, rec.Node, rec.Reason)
	}
}

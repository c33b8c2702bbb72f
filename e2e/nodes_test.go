package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/secret"
)

func init() { addScenario(scenario{"nodes", testNodes}) }

// testNodes: two FreeSWITCH processes of their own (own ports, own conf
// copies) reading one generated folder, as two nodes on one box, and a
// sipbridge of its own (same kind of database) with FS_NODES naming both;
// on PostgreSQL two replicas (nodeReplicas), the trunk created through the
// one that holds no node. A registration trunk is REGED on each node, as
// its nodes entries show,
// with the aggregate gateway_state REGED; the carrier saw a REGISTER from
// each node. GET /api/v1/switch/nodes lists both, connected, with the
// gateway, to the operator token only.
func testNodes(t *testing.T, shared *Bridge) {
	dir := filepath.Join(suite.tmp, "nodes-"+shared.Name)
	gen, sws := startNodes(t, dir, "fs1", "fs2")
	const token = "operator-e2e-token"
	env := []string{"FS_GEN_DIR=" + gen, "OPERATOR_TOKEN=" + token, "FS_NODES=fs1=" + sws[0].ESLAddr + ",fs2=" + sws[1].ESLAddr}
	var b *Bridge
	if shared.Name == "postgres" {
		b = nodeReplicas(t, sws[0], shared.Name, env)
	} else {
		b = StartBridge(t, sws[0], shared.Name+"-nodes", "", env...)
	}

	reg := registrar(t, "200 OK")
	created := time.Now()
	tr := b.CreateTrunk(t, map[string]any{"name": "Both Nodes", "gateway": fmt.Sprintf("127.0.0.1:%d", reg.Port),
		"username": "nodesuser", "password": "s3cret", "expire_seconds": 60, "retry_seconds": 5})
	tr = b.WaitTrunk(t, tr.ID, "REGED on both nodes", 10*time.Second, func(tr Trunk) bool {
		return len(tr.Nodes) == 2 && tr.Nodes[0].GatewayState == "REGED" && tr.Nodes[1].GatewayState == "REGED" &&
			tr.GatewayState == "REGED" && tr.SyncStatus.State == "applied"
	})
	t.Logf("REGED on both nodes %v after the trunk was created", time.Since(created).Round(time.Millisecond))
	for i, n := range tr.Nodes {
		if want := fmt.Sprintf("fs%d", i+1); n.Node != want || n.SyncStatus.State != "applied" || n.LastStatusCode != 200 {
			t.Errorf("nodes[%d] = %+v, want %s applied with last_status_code 200", i, n, want)
		}
		if g, ok := sws[i].Gateway(t, tr.GatewayName); !ok || g.State != "REGED" {
			t.Errorf("fs%d's gateway: %+v (present %v), want REGED", i+1, g, ok)
		}
	}
	regs := strings.Join(reg.Received("REGISTER "), "\n")
	for i, sw := range sws {
		if !strings.Contains(regs, ":"+strconv.Itoa(sw.SIPPort)) {
			t.Errorf("the registrar saw no REGISTER from fs%d (port %d):\n%s", i+1, sw.SIPPort, regs)
		}
	}

	// The nodes route: the operator's, not a tenant's.
	if st, body := b.API.Do(t, "GET", "/api/v1/switch/nodes", nil); st != http.StatusUnauthorized {
		t.Errorf("nodes with an organization's API key: %d %s, want 401", st, body)
	}
	var nodes []struct {
		Name       string `json:"name"`
		ESLAddress string `json:"esl_address"`
		Connected  bool   `json:"connected"`
		LastError  string `json:"last_error"`
		Gateways   int    `json:"gateways"`
		LeaseOwner string `json:"lease_owner"`
	}
	op := &Client{Base: b.API.Base, Key: token}
	_, raw := op.Do(t, "GET", "/api/v1/switch/nodes", nil)
	op.Call(t, "GET", "/api/v1/switch/nodes", nil, http.StatusOK, &nodes)
	if len(nodes) != 2 {
		t.Fatalf("nodes: %s", raw)
	}
	for i, n := range nodes {
		if n.Name != fmt.Sprintf("fs%d", i+1) || n.ESLAddress != sws[i].ESLAddr || !n.Connected || n.LastError != "" || n.Gateways != 1 {
			t.Errorf("nodes[%d] = %+v, want fs%d at %s, connected, one gateway", i, n, i+1, sws[i].ESLAddr)
		}
		if shared.Name == "postgres" && n.LeaseOwner != "a" {
			t.Errorf("nodes[%d] lease_owner %q, want a (the first replica started takes every free node)", i, n.LeaseOwner)
		}
	}
	if strings.Contains(string(raw), sws[0].ESLPassword) {
		t.Errorf("the nodes route shows the Event Socket password: %s", raw)
	}
}

// nodeReplicas starts two replicas on one fresh PostgreSQL schema, a then
// b, each with env (FS_NODES naming both nodes), and returns b once a
// holds both nodes' leases: what b is asked is applied to both nodes all
// the same (trunk sync runs on every replica).
func nodeReplicas(t *testing.T, sw *Switch, name string, env []string) *Bridge {
	dsn, key := dbtest.DSN(t), secret.NewKey()
	start := func(replica string) *Bridge {
		port, err := freeTCPPort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		return StartBridge(t, sw, name+"-nodes-"+replica, dsn, append(slices.Clone(env), "SIPBRIDGE_ADDR="+addr, "STREAM_WS_BASE=ws://"+addr,
			"SECRET_KEY="+key, "REPLICA_NAME="+replica, "REPLICA_ADDR=http://"+addr)...)
	}
	a := start("a")
	testkit.Eventually(t, 10*time.Second, "a holding both nodes", func() bool { return len(a.LogSince(0, leaseTaken)) == 2 }, nil)
	return start("b")
}

// startNodes starts FreeSWITCH nodes of a scenario's own, one per name,
// under dir (emptied first), all reading one generated folder (gen), as
// nodes on one box do; each is stopped when the test ends.
func startNodes(t *testing.T, dir string, names ...string) (gen string, sws []*Switch) {
	t.Helper()
	os.RemoveAll(dir)
	gen = filepath.Join(dir, "gen")
	for _, d := range []string{"gateways", "acl", "profile"} {
		if err := os.MkdirAll(filepath.Join(gen, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		sw, err := StartSwitchWith(filepath.Join(dir, name), map[string]string{"sipbridge_gen_dir": gen})
		if sw != nil {
			t.Cleanup(func() {
				if err := sw.Stop(); err != nil {
					t.Errorf("stopping %s: %v", name, err)
				}
				sw.esl.Close()
			})
		}
		if err != nil {
			t.Fatalf("FreeSWITCH %s: %v", name, err)
		}
		sws = append(sws, sw)
	}
	return gen, sws
}

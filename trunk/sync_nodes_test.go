package trunk_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/trunk"
)

// nodesEnv is the reconciler over two FreeSWITCH simulators (fs1, fs2)
// reading one generated folder, as two nodes on one box; fs2's Event
// Socket goes through a cable the test can pull.
type nodesEnv struct {
	t      *testing.T
	ctx    context.Context
	store  *db.Store
	sync   *trunk.Sync
	trunks *trunk.Service
	sw     map[string]*fstest.Switch
	cable  *cable
	org    int64
}

func newNodesEnv(t *testing.T, g *gorm.DB) *nodesEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gen := t.TempDir()
	e := &nodesEnv{t: t, ctx: ctx, store: db.NewStore(g, dbtest.Keyring(t), nil), sw: map[string]*fstest.Switch{}}
	var nodes []trunk.Node
	var clients []*esl.Client
	fast := esl.WithBackoff(20*time.Millisecond, 100*time.Millisecond)
	for _, name := range []string{"fs1", "fs2"} {
		sw := fstest.New(fstest.Options{GenDir: gen})
		if err := sw.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sw.Close() })
		e.sw[name] = sw
		addr := sw.Addr()
		if name == "fs2" {
			e.cable = newCable(t, addr)
			addr = e.cable.addr
		}
		resync := esl.WithOnConnect(func(context.Context) { e.sync.NodeConnected(name); e.sync.Kick() })
		cmd := esl.New(addr, "ClueCon", resync, fast)
		// The events' connection: on its loss the node's gateway states go.
		evConnected := esl.WithOnConnect(func(c context.Context) {
			e.sync.NodeConnected(name)
			e.sync.Kick()
			<-c.Done()
			if ctx.Err() == nil {
				e.sync.NodeLost(ctx, name)
			}
		})
		ev := esl.New(addr, "ClueCon", evConnected, fast, esl.WithEvents(trunk.GatewayEventSubclasses...))
		ev.OnEvent(func(ev *esl.Event) {
			if ge, ok := trunk.GatewayEventFrom(ev); ok {
				ge.Node = name
				e.sync.HandleGatewayEvent(ctx, ge)
			}
		})
		nodes = append(nodes, trunk.Node{Name: name, API: cmd})
		clients = append(clients, cmd, ev)
	}
	e.sync = trunk.NewSync(e.store, nil, trunk.SyncOptions{GenDir: gen, Profile: "external", DeleteTimeout: 5 * time.Second, Nodes: nodes,
		Resolver: func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("198.51.100.20")}, nil
		}})
	e.trunks = trunk.New(e.store, nil).WithSync(e.sync)
	for _, c := range clients {
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.sync.Run(ctx, trunk.RunOptions{Changed: e.trunks.ChangedC(), Debounce: 20 * time.Millisecond, Every: time.Hour,
			Ready: func() bool { return clients[0].Connected() || clients[2].Connected() }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	org, _, err := e.store.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	e.org = org.ID
	for _, name := range []string{"fs1", "fs2"} {
		e.eventually(name+"'s first pass", func() bool { return count(e.sw[name].Commands(), "sofia profile external rescan") == 1 })
	}
	time.Sleep(150 * time.Millisecond)
	e.reset()
	return e
}

func (e *nodesEnv) reset() {
	for _, sw := range e.sw {
		sw.ResetCommands()
	}
}

func (e *nodesEnv) eventually(what string, cond func() bool) {
	e.t.Helper()
	testkit.Eventually(e.t, 10*time.Second, what, cond, func() string {
		return fmt.Sprintf("fs1: %q\nfs2: %q\nnodes: %+v", e.sw["fs1"].Commands(), e.sw["fs2"].Commands(), e.sync.Nodes())
	})
}

func (e *nodesEnv) node(tr *db.SIPTrunk, name string) trunk.NodeState {
	for _, st := range e.sync.TrunkNodes(tr.ID, tr.GatewayName) {
		if st.Node == name {
			return st
		}
	}
	e.t.Fatalf("no entry for node %s", name)
	return trunk.NodeState{}
}

func (e *nodesEnv) status(tr *db.SIPTrunk) *db.TrunkStatus {
	e.t.Helper()
	got, err := e.store.GetTrunk(e.ctx, tr.OrgID, tr.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got.Status
}

func params(sw *fstest.Switch, gw string) map[string]string {
	for _, g := range sw.Gateways() {
		if g.Name == gw {
			return g.Params
		}
	}
	return nil
}

// TestTrunkOnTwoNodes: a trunk is applied to both nodes and REGED on each;
// with fs2's Event Socket gone, a change reaches fs1 alone and fs2's entry
// shows the error (fs1's stays applied); when fs2 comes back only fs2 gets
// commands, and the trunk is applied everywhere again.
func TestTrunkOnTwoNodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newNodesEnv(t, g)
		gw, err := e.trunks.GatewayName(e.ctx, e.org, "Main", "")
		if err != nil {
			t.Fatal(err)
		}
		tr := &db.SIPTrunk{ID: db.NewID(), OrgID: e.org, Name: "Main", GatewayName: gw, Gateway: "sip.carrier.example:5060",
			Username: "user1", Priority: 1, Enabled: true, Register: true, Transport: "udp", ExpireSeconds: 60}
		if err := e.store.SetTrunkPassword(tr, "s3cret"); err != nil {
			t.Fatal(err)
		}
		if err := e.store.CreateTrunk(e.ctx, tr); err != nil {
			t.Fatal(err)
		}
		e.trunks.Changed(e.org)
		e.eventually("REGED and applied on both nodes", func() bool {
			a, b := e.node(tr, "fs1"), e.node(tr, "fs2")
			st := e.status(tr)
			return a.GatewayState == "REGED" && b.GatewayState == "REGED" && a.SyncState == "applied" && b.SyncState == "applied" &&
				st.GatewayState == "REGED" && st.SyncState == "applied"
		})
		for name, sw := range e.sw {
			if n := count(sw.Commands(), "sofia profile external rescan"); n != 1 {
				t.Errorf("%s: %d rescans for one new trunk: %q", name, n, sw.Commands())
			}
		}

		// fs2 unreachable: the change reaches fs1, fs2's entry shows why not.
		e.cable.pull()
		e.reset()
		tr.ExpireSeconds, tr.Status = 120, nil
		if err := e.store.UpdateTrunk(e.ctx, tr); err != nil {
			t.Fatal(err)
		}
		e.trunks.Changed(e.org)
		e.eventually("fs1 REGED with the new params, fs2's entry and the aggregate the error", func() bool {
			a, b, st := e.node(tr, "fs1"), e.node(tr, "fs2"), e.status(tr)
			return params(e.sw["fs1"], gw)["expire-seconds"] == "120" && a.SyncState == "applied" && a.GatewayState == "REGED" &&
				b.SyncState == "error" && strings.Contains(b.SyncMessage, "not connected") &&
				st.SyncState == "error" && strings.HasPrefix(st.SyncMessage, "node fs2: ")
		})
		// What fs2 said before it was lost is not shown as its state now:
		// no state on its entry, and the aggregate not REGED.
		if b, st := e.node(tr, "fs2"), e.status(tr); b.GatewayState != "" || st.GatewayState == "REGED" {
			t.Errorf("fs2 unreachable: its entry says %q and the trunk %q; want no state and not REGED", b.GatewayState, st.GatewayState)
		}
		if p := params(e.sw["fs2"], gw)["expire-seconds"]; p != "60" {
			t.Errorf("fs2 changed while unreachable: expire-seconds %q", p)
		}

		// fs2 back: it alone gets the change.
		time.Sleep(100 * time.Millisecond)
		e.reset()
		e.cable.plug()
		e.eventually("fs2 has the new params and the trunk is applied everywhere", func() bool {
			st := e.status(tr)
			return params(e.sw["fs2"], gw)["expire-seconds"] == "120" && e.node(tr, "fs2").SyncState == "applied" &&
				st.SyncState == "applied" && st.GatewayState == "REGED"
		})
		time.Sleep(150 * time.Millisecond)
		if cmds := e.sw["fs1"].Commands(); len(cmds) != 0 {
			t.Errorf("fs1 got %q when fs2 came back", cmds)
		}
		cmds := e.sw["fs2"].Commands()
		if count(cmds, "sofia profile external killgw "+gw) != 1 || count(cmds, "sofia profile external restart") != 0 {
			t.Errorf("fs2's commands on its return: %q", cmds)
		}
	})
}

// TestAggregateIsTheWorstNode: a carrier refusing one node's REGISTER
// leaves that node FAILED (403) and the other REGED; the trunk's
// gateway_state is FAILED with that node's status code.
func TestAggregateIsTheWorstNode(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newNodesEnv(t, g)
		gw, err := e.trunks.GatewayName(e.ctx, e.org, "Half", "")
		if err != nil {
			t.Fatal(err)
		}
		e.sw["fs2"].SetRegistrar(gw, fstest.RegistrarForbidden)
		tr := &db.SIPTrunk{ID: db.NewID(), OrgID: e.org, Name: "Half", GatewayName: gw, Gateway: "sip.carrier.example:5060",
			Username: "user1", Priority: 1, Enabled: true, Register: true, Transport: "udp", ExpireSeconds: 60}
		if err := e.store.SetTrunkPassword(tr, "s3cret"); err != nil {
			t.Fatal(err)
		}
		if err := e.store.CreateTrunk(e.ctx, tr); err != nil {
			t.Fatal(err)
		}
		e.trunks.Changed(e.org)
		failed := func(st string) bool { return st == "FAILED" || st == "FAIL_WAIT" }
		e.eventually("fs1 REGED, fs2 FAILED, the trunk FAILED with 403", func() bool {
			a, b, st := e.node(tr, "fs1"), e.node(tr, "fs2"), e.status(tr)
			return a.GatewayState == "REGED" && failed(b.GatewayState) && b.LastStatusCode == 403 &&
				failed(st.GatewayState) && st.LastStatusCode == 403 && st.SyncState == "applied"
		})
	})
}

// cable forwards TCP connections to a target until pulled: then it closes
// them and refuses new ones; plugged again, it listens on the same port.
type cable struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newCable(t *testing.T, target string) *cable {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cable{t: t, addr: ln.Addr().String(), target: target}
	c.serve(ln)
	t.Cleanup(c.pull)
	return c
}

func (c *cable) serve(ln net.Listener) {
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", c.target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
}

func (c *cable) pull() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for _, cn := range c.conns {
		cn.Close()
	}
	c.conns = nil
}

func (c *cable) plug() {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.serve(ln)
}

package trunk_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
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

// syncEnv is the trunk reconciler wired as in `sipbridge serve`: a store on
// the embedded SQLite or PostgreSQL, the FreeSWITCH simulator, two ESL
// connections, the loop.
type syncEnv struct {
	t      *testing.T
	ctx    context.Context
	store  *db.Store
	sw     *fstest.Switch
	sync   *trunk.Sync
	trunks *trunk.Service
	gen    string
	org    int64
	cmd    *esl.Client
	// hold keeps the loop's Ready false (the switch not all connected)
	// while the ESL connections stay up.
	hold atomic.Bool
}

// eachSyncEnv runs test on a fresh reconciler over each database.
func eachSyncEnv(t *testing.T, test func(t *testing.T, e *syncEnv)) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { test(t, newSyncEnv(t, g)) })
}

func newSyncEnv(t *testing.T, g *gorm.DB) *syncEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gen := t.TempDir()
	store := db.NewStore(g, dbtest.Keyring(t), nil)
	sw := fstest.New(fstest.Options{GenDir: gen})
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	e := &syncEnv{t: t, ctx: ctx, store: store, sw: sw, gen: gen}
	resync := esl.WithOnConnect(func(context.Context) { e.sync.Connected(); e.sync.Kick() })
	fast := esl.WithBackoff(20*time.Millisecond, 200*time.Millisecond)
	e.cmd = esl.New(sw.Addr(), "ClueCon", resync, fast)
	ev := esl.New(sw.Addr(), "ClueCon", resync, fast, esl.WithEvents(trunk.GatewayEventSubclasses...))
	e.sync = trunk.NewSync(store, e.cmd, trunk.SyncOptions{
		GenDir: gen, Profile: "external", DeleteTimeout: 5 * time.Second,
		Resolver: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if host == "sip.carrier.example" {
				return []netip.Addr{netip.MustParseAddr("198.51.100.20"), netip.MustParseAddr("198.51.100.21")}, nil
			}
			return nil, &os.PathError{Op: "lookup", Path: host, Err: os.ErrNotExist}
		},
	})
	ev.OnEvent(func(ev *esl.Event) {
		if ge, ok := trunk.GatewayEventFrom(ev); ok {
			e.sync.HandleGatewayEvent(ctx, ge)
		}
	})
	e.trunks = trunk.New(store, nil).WithSync(e.sync)
	for _, c := range []*esl.Client{e.cmd, ev} {
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	// The loop ends (and stops writing under gen) before gen is removed.
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.sync.Run(ctx, trunk.RunOptions{Changed: e.trunks.ChangedC(), Debounce: 20 * time.Millisecond, Every: time.Hour,
			Ready: func() bool { return e.cmd.Connected() && ev.Connected() && !e.hold.Load() }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	org, _, err := store.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	e.org = org.ID
	// The first pass after connecting writes the (empty) profile ACL file and
	// rescans; start each test after it.
	e.eventually("initial sync", func() bool {
		_, err := os.Stat(filepath.Join(gen, "profile", "inbound-acl.xml"))
		return err == nil && count(sw.Commands(), "sofia profile external rescan") == 1
	})
	e.settle()
	sw.ResetCommands()
	return e
}

// addTrunk writes a trunk the way the API does and signals the change.
func (e *syncEnv) addTrunk(orgID int64, name string, mutate func(*db.SIPTrunk)) *db.SIPTrunk {
	e.t.Helper()
	gw, err := e.trunks.GatewayName(e.ctx, orgID, name, "")
	if err != nil {
		e.t.Fatal(err)
	}
	tr := &db.SIPTrunk{ID: db.NewID(), OrgID: orgID, Name: name, GatewayName: gw, Gateway: "sip.carrier.example:5060",
		Username: "user1", Priority: 1, Enabled: true, Register: true, Transport: "udp", ExpireSeconds: 60}
	if err := e.store.SetTrunkPassword(tr, "s3cret"); err != nil {
		e.t.Fatal(err)
	}
	if mutate != nil {
		mutate(tr)
	}
	if err := e.store.CreateTrunk(e.ctx, tr); err != nil {
		e.t.Fatal(err)
	}
	e.trunks.Changed(orgID)
	return tr
}

func (e *syncEnv) update(tr *db.SIPTrunk, mutate func(*db.SIPTrunk)) {
	e.t.Helper()
	mutate(tr)
	tr.Status = nil
	if err := e.store.UpdateTrunk(e.ctx, tr); err != nil {
		e.t.Fatal(err)
	}
	e.trunks.Changed(tr.OrgID)
}

func (e *syncEnv) status(tr *db.SIPTrunk) *db.TrunkStatus {
	e.t.Helper()
	got, err := e.store.GetTrunk(e.ctx, tr.OrgID, tr.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got.Status
}

func (e *syncEnv) eventually(what string, cond func() bool) {
	e.t.Helper()
	testkit.Eventually(e.t, 10*time.Second, what, cond, func() string { return fmt.Sprintf("switch commands: %q", e.sw.Commands()) })
}

func (e *syncEnv) gateway(name string) (fstest.GatewayInfo, bool) {
	for _, g := range e.sw.Gateways() {
		if g.Name == name {
			return g, true
		}
	}
	return fstest.GatewayInfo{}, false
}

func count(cmds []string, prefix string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (e *syncEnv) settle() {
	e.t.Helper()
	time.Sleep(150 * time.Millisecond) // debounce + pass
}

func TestTrunkLifecycleOnSimulator(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		tr := e.addTrunk(e.org, "Zadarma Main", nil)
		gw := tr.GatewayName
		e.eventually("REGED in the API", func() bool { st := e.status(tr); return st.SyncState == "applied" && st.GatewayState == "REGED" })
		if _, err := os.Stat(filepath.Join(e.gen, "gateways", gw+".xml")); err != nil {
			t.Fatalf("gateway file: %v", err)
		}
		if n := count(e.sw.Commands(), "sofia profile external rescan"); n != 1 {
			t.Fatalf("%d rescans for one new trunk: %q", n, e.sw.Commands())
		}
		// Registration trunk without allowed_addresses: its ACL list holds what its host resolves to.
		if acl := e.sw.ACL(gw); !slices.Equal(acl, []string{"198.51.100.20/32", "198.51.100.21/32"}) {
			t.Fatalf("ACL of %s: %v", gw, acl)
		}
		if !slices.Contains(e.sw.InboundACLs(), gw) {
			t.Fatalf("profile ACLs %v lack %s", e.sw.InboundACLs(), gw)
		}

		// A pass with nothing to change sends nothing.
		e.sw.ResetCommands()
		e.trunks.Changed(e.org)
		e.settle()
		if cmds := e.sw.Commands(); len(cmds) != 0 {
			t.Fatalf("no-op pass sent %q", cmds)
		}

		// Update: killgw, wait for delete, rescan; FreeSWITCH has the new params.
		e.update(tr, func(t *db.SIPTrunk) { t.ExpireSeconds = 120 })
		e.eventually("new params loaded", func() bool {
			g, ok := e.gateway(gw)
			return ok && g.Params["expire-seconds"] == "120"
		})
		cmds := e.sw.Commands()
		kill, rescan := slices.Index(cmds, "sofia profile external killgw "+gw), slices.Index(cmds, "sofia profile external rescan")
		if kill < 0 || rescan < kill || count(cmds, "sofia profile external restart") > 0 {
			t.Fatalf("update commands %q", cmds)
		}
		e.eventually("applied after update", func() bool { return e.status(tr).SyncState == "applied" })

		// Disable: killgw, files removed.
		e.sw.ResetCommands()
		e.update(tr, func(t *db.SIPTrunk) { t.Enabled = false })
		// killgw first, then the rescan that drops the list from the profile.
		e.eventually("gateway and ACL gone", func() bool {
			_, ok := e.gateway(gw)
			return !ok && !slices.Contains(e.sw.InboundACLs(), gw)
		})
		if _, err := os.Stat(filepath.Join(e.gen, "gateways", gw+".xml")); !os.IsNotExist(err) {
			t.Fatalf("disabled trunk's file still there: %v", err)
		}
		// Re-enable then delete.
		e.update(tr, func(t *db.SIPTrunk) { t.Enabled = true })
		e.eventually("back", func() bool { _, ok := e.gateway(gw); return ok })
		if err := e.store.DeleteTrunk(e.ctx, e.org, tr.ID); err != nil {
			t.Fatal(err)
		}
		e.trunks.Changed(e.org)
		e.eventually("deleted gateway gone", func() bool { _, ok := e.gateway(gw); return !ok })
		if n := count(e.sw.Commands(), "sofia profile external restart"); n != 0 {
			t.Fatal("the profile was restarted")
		}
	})
}

func TestRegistrarFailureShownAsFailed(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		gw, _ := e.trunks.GatewayName(e.ctx, e.org, "Bad Creds", "")
		e.sw.SetRegistrar(gw, fstest.RegistrarForbidden)
		tr := e.addTrunk(e.org, "Bad Creds", nil)
		e.eventually("FAILED with 403", func() bool {
			st := e.status(tr)
			return (st.GatewayState == "FAILED" || st.GatewayState == "FAIL_WAIT") && st.LastStatusCode == 403
		})
	})
}

func TestIPAuthTrunkACL(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		tr := e.addTrunk(e.org, "Carrier IP", func(t *db.SIPTrunk) {
			t.Register, t.Username, t.PasswordEnc = false, "", ""
			t.AllowedAddresses = db.StringList{"203.0.113.0/28"}
		})
		gw := tr.GatewayName
		e.eventually("NOREG", func() bool { st := e.status(tr); return st.SyncState == "applied" && st.GatewayState == "NOREG" })
		if acl := e.sw.ACL(gw); !slices.Equal(acl, []string{"203.0.113.0/28"}) {
			t.Fatalf("ACL %v", acl)
		}
		cmds := e.sw.Commands()
		if count(cmds, "reloadacl") < 1 || count(cmds, "sofia profile external rescan") != 1 || count(cmds, "sofia profile external killgw") != 0 {
			t.Fatalf("new list: want reloadacl and one rescan, got %q", cmds)
		}
		// Only the nodes change: reloadacl, no rescan, no killgw.
		e.sw.ResetCommands()
		e.update(tr, func(t *db.SIPTrunk) { t.AllowedAddresses = db.StringList{"203.0.113.0/28", "192.0.2.7/32"} })
		e.eventually("new node", func() bool { return slices.Contains(e.sw.ACL(gw), "192.0.2.7/32") })
		e.settle()
		cmds = e.sw.Commands()
		if count(cmds, "reloadacl") != 1 || count(cmds, "sofia profile external rescan") != 0 || count(cmds, "sofia profile external killgw") != 0 {
			t.Fatalf("changed nodes: want reloadacl only, got %q", cmds)
		}
	})
}

func TestUnresolvableHostWarnsAndDenies(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		tr := e.addTrunk(e.org, "Nowhere", func(t *db.SIPTrunk) { t.Gateway = "no-such-host.invalid" })
		e.eventually("applied with warning", func() bool {
			st := e.status(tr)
			return st.SyncState == "applied" && strings.Contains(st.SyncMessage, "does not resolve")
		})
		if acl := e.sw.ACL(tr.GatewayName); len(acl) != 0 {
			t.Fatalf("ACL of an unresolvable host: %v", acl)
		}
	})
}

func TestReconnectAndRestartConverge(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		a := e.addTrunk(e.org, "A", nil)
		b := e.addTrunk(e.org, "B", func(t *db.SIPTrunk) {
			t.Register, t.Username, t.PasswordEnc = false, "", ""
			t.AllowedAddresses = db.StringList{"203.0.113.9"}
		})
		e.eventually("both applied", func() bool { return e.status(a).SyncState == "applied" && e.status(b).SyncState == "applied" })

		// Connection dropped in the middle of a change: converge, no duplicates.
		e.update(a, func(t *db.SIPTrunk) { t.ExpireSeconds = 300 })
		e.sw.DropConnections()
		e.eventually("converged after drop", func() bool {
			g, ok := e.gateway(a.GatewayName)
			return ok && g.Params["expire-seconds"] == "300" && e.status(a).SyncState == "applied"
		})
		names := map[string]int{}
		for _, g := range e.sw.Gateways() {
			names[g.Name]++
		}
		for n, c := range names {
			if c > 1 {
				t.Fatalf("gateway %s loaded %d times", n, c)
			}
		}

		// The switch restarts empty: everything is re-applied.
		e.sw.Restart()
		e.eventually("re-applied after restart", func() bool {
			_, okA := e.gateway(a.GatewayName)
			_, okB := e.gateway(b.GatewayName)
			return okA && okB && slices.Equal(e.sw.ACL(b.GatewayName), []string{"203.0.113.9/32"}) &&
				slices.Contains(e.sw.InboundACLs(), a.GatewayName)
		})
	})
}

func TestRescanErrorRestoresPreviousFiles(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		tr := e.addTrunk(e.org, "A", nil)
		e.eventually("applied", func() bool { return e.status(tr).SyncState == "applied" })
		path := filepath.Join(e.gen, "gateways", tr.GatewayName+".xml")
		before, _ := os.ReadFile(path)

		e.sw.FailNext("sofia profile external rescan", "-ERR simulated failure\n")
		e.update(tr, func(t *db.SIPTrunk) { t.ExpireSeconds = 900 })
		e.eventually("error status", func() bool {
			st := e.status(tr)
			return st.SyncState == "error" && strings.Contains(st.SyncMessage, "simulated failure")
		})
		// The previous file went back and the gateway is loaded again (old params).
		after, _ := os.ReadFile(path)
		if string(after) != string(before) {
			t.Fatalf("previous file not restored:\n%s\nvs\n%s", after, before)
		}
		e.eventually("old gateway back", func() bool { g, ok := e.gateway(tr.GatewayName); return ok && g.Params["expire-seconds"] == "60" })
		// The next pass (retry) applies the change once FreeSWITCH accepts it.
		e.eventually("retry applies", func() bool {
			g, ok := e.gateway(tr.GatewayName)
			return ok && g.Params["expire-seconds"] == "900" && e.status(tr).SyncState == "applied"
		})
	})
}

func TestOrganizationsNeverShareNames(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		other, _, _ := e.store.EnsureOrg(e.ctx, "globex")
		a := e.addTrunk(e.org, "Main", nil)
		b := e.addTrunk(other.ID, "Main", nil)
		a2 := e.addTrunk(e.org, "main!", nil) // slugs the same as "Main"
		if a.GatewayName == b.GatewayName || a.GatewayName == a2.GatewayName {
			t.Fatalf("shared gateway names: %s %s %s", a.GatewayName, b.GatewayName, a2.GatewayName)
		}
		e.eventually("all three loaded", func() bool {
			_, x := e.gateway(a.GatewayName)
			_, y := e.gateway(b.GatewayName)
			_, z := e.gateway(a2.GatewayName)
			return x && y && z
		})
		acls := e.sw.InboundACLs()
		for _, tr := range []*db.SIPTrunk{a, b, a2} {
			if !slices.Contains(acls, tr.GatewayName) {
				t.Fatalf("ACL list of %s not applied: %v", tr.GatewayName, acls)
			}
		}
	})
}

func TestRefreshTouchesOnlyNamedGateways(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		a := e.addTrunk(e.org, "A", nil)
		b := e.addTrunk(e.org, "B", nil)
		e.eventually("applied", func() bool { return e.status(a).SyncState == "applied" && e.status(b).SyncState == "applied" })
		e.sw.ResetCommands()
		e.trunks.Refresh(a.GatewayName)
		e.eventually("refreshed", func() bool { return count(e.sw.Commands(), "sofia profile external rescan") == 1 })
		cmds := e.sw.Commands()
		if !slices.Contains(cmds, "sofia profile external killgw "+a.GatewayName) || count(cmds, "sofia profile external killgw") != 1 {
			t.Fatalf("refresh of %s sent %q", a.GatewayName, cmds)
		}
	})
}

// TestDollarAndMarkupReachFreeSWITCHLiterally: values that FreeSWITCH's
// preprocessor or XML parser would interpret arrive as typed.
func TestDollarAndMarkupReachFreeSWITCHLiterally(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		pw := `pa$${domain}ss"/><param name="register" value="false`
		tr := e.addTrunk(e.org, "Tricky", func(t *db.SIPTrunk) {
			e.store.SetTrunkPassword(t, pw)
			t.FromUser = "${caller}&<x>"
		})
		e.eventually("loaded", func() bool { _, ok := e.gateway(tr.GatewayName); return ok })
		g, _ := e.gateway(tr.GatewayName)
		if g.Params["password"] != pw || g.Params["from-user"] != "${caller}&<x>" || g.Params["register"] != "true" {
			t.Fatalf("params as loaded: %v", g.Params)
		}
	})
}

// ResolvedACL tells inbound routing what a trunk without allowed_addresses
// allows: what its hosts resolved to at the last pass, with no lookup of
// its own; a trunk with allowed_addresses gets nil (they are its list).
func TestResolvedACL(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		tr := e.addTrunk(e.org, "Carrier", nil)
		e.eventually("ACL rendered", func() bool { return len(e.sw.ACL(tr.GatewayName)) == 2 })
		want := []netip.Prefix{netip.MustParsePrefix("198.51.100.20/32"), netip.MustParsePrefix("198.51.100.21/32")}
		if got := e.sync.ResolvedACL(tr); !slices.Equal(got, want) {
			t.Fatalf("resolved %v, want %v", got, want)
		}
		lit := *tr
		lit.Gateway, lit.Proxy = "192.0.2.7:5060", "[2001:db8::7]:5061"
		if got := e.sync.ResolvedACL(&lit); !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::7/128")}) {
			t.Fatalf("IP literals: %v", got)
		}
		unknown := *tr
		unknown.Gateway = "never-resolved.example"
		if got := e.sync.ResolvedACL(&unknown); len(got) != 0 {
			t.Fatalf("a host no pass resolved: %v", got)
		}
		tr.AllowedAddresses = db.StringList{"203.0.113.0/24"}
		if got := e.sync.ResolvedACL(tr); got != nil {
			t.Fatalf("with allowed_addresses: %v", got)
		}
	})
}

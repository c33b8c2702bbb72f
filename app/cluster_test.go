package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/freeswitch/nodes"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

// clusterEnv is a store with an organization, its API key and a PBX
// trunk, and simulated FreeSWITCH nodes reading one generated folder.
type clusterEnv struct {
	store  *db.Store
	org    int64
	key    string
	trunk  *db.SIPTrunk
	genDir string
	sws    []*fstest.Switch
	nodes  []nodes.Node
}

func newClusterEnv(t *testing.T, g *gorm.DB, names ...string) *clusterEnv {
	t.Helper()
	ctx := context.Background()
	e := &clusterEnv{store: db.NewStore(g, dbtest.Keyring(t), slog.New(slog.DiscardHandler)), genDir: t.TempDir()}
	org, _, err := e.store.EnsureOrg(ctx, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	e.org = org.ID
	e.key, _, _ = e.store.CreateAPIKey(ctx, org.ID, "a")
	e.trunk = &db.SIPTrunk{ID: db.NewID(), OrgID: org.ID, Name: "PBX", GatewayName: fmt.Sprintf("o%d_pbx", org.ID), Gateway: "127.0.0.1",
		Priority: 1, Enabled: true, Transport: "udp", TransferMode: "bridge", AllowedAddresses: db.StringList{"127.0.0.1/32"}}
	if err := e.store.CreateTrunk(ctx, e.trunk); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		sw := fstest.New(fstest.Options{GenDir: e.genDir, Step: 5 * time.Millisecond})
		if err := sw.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sw.Close() })
		e.sws, e.nodes = append(e.sws, sw), append(e.nodes, nodes.Node{Name: name, ESL: sw.Addr()})
	}
	return e
}

// bridge builds and starts a bridge on the nodes (replica: nil for none).
func (e *clusterEnv) bridge(t *testing.T, replica *app.Replica) *app.App {
	t.Helper()
	return e.bridgeWith(t, replica, nil)
}

// bridgeLogging is bridge with a log.
func (e *clusterEnv) bridgeLogging(t *testing.T, replica *app.Replica, log *slog.Logger) *app.App {
	t.Helper()
	return e.bridgeWith(t, replica, func(c *app.Config) { c.Log = log })
}

// bridgeWith is bridge with the configuration adjusted (nil: as bridge's).
func (e *clusterEnv) bridgeWith(t *testing.T, replica *app.Replica, adjust func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.Config{Store: e.store, RecordingsDir: t.TempDir(), ManualSync: true, Replica: replica,
		OperatorToken: "op-token",
		Switch:        &app.Switch{Addr: e.nodes[0].ESL, Password: "ClueCon", GenDir: e.genDir, Nodes: e.nodes},
		SyncInterval:  time.Hour, DrainTimeout: time.Second}
	if adjust != nil {
		adjust(&cfg)
	}
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	return a
}

// call places the PBX's call to an unknown number on node i: refused
// (404) with a record, which names the node that handled it.
func (e *clusterEnv) call(t *testing.T, i int) string {
	t.Helper()
	uuid, err := e.sws[i].Call(fstest.InboundCall{FromUser: "+14165550100", RequestUser: "9228", ACLAuthedBy: e.trunk.GatewayName,
		Headers: map[string][]string{"Diversion": {"<sip:+16478491999@pbx.example.com>;reason=unconditional"}}})
	if err != nil {
		t.Fatal(err)
	}
	return uuid
}

// records returns the organization's call records by call_sid.
func (e *clusterEnv) records(t *testing.T) map[string][]db.Call {
	t.Helper()
	calls, _, err := e.store.ListCalls(context.Background(), e.org, db.CallFilter{}, db.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]db.Call{}
	for _, c := range calls {
		out[c.CallSID] = append(out[c.CallSID], c)
	}
	return out
}

// A call on either node is handled by that node's call control: each
// record names its node.
func TestEveryNodeHasCallControl(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newClusterEnv(t, g, "fs1", "fs2")
		a := e.bridge(t, nil)
		if len(a.CallNodes) != 2 || a.CallNodes[1].Name != "fs2" {
			t.Fatalf("call nodes %+v", a.CallNodes)
		}
		testkit.Eventually(t, 5*time.Second, "both nodes' call connections up", func() bool {
			return a.CallNodes[1].Events.Connected() && a.CallNodes[1].Pool.Connected() && a.SwitchUp()
		}, nil)
		uuids := []string{e.call(t, 1), e.call(t, 0)}
		var recs map[string][]db.Call
		testkit.Eventually(t, 5*time.Second, "a record of each call", func() bool {
			recs = e.records(t)
			return len(recs[uuids[0]]) == 1 && len(recs[uuids[1]]) == 1
		}, func() string { return fmt.Sprintf("%+v", recs) })
		for i, want := range []string{"fs2", "fs1"} {
			if r := recs[uuids[i]][0]; r.Node != want || r.Status != db.CallRefused {
				t.Errorf("the call on %s: node %q status %s, want %s refused", want, r.Node, r.Status, want)
			}
		}
	})
}

// Two replicas on one database and one node: the first to start holds the
// node's lease and alone handles its calls (one record per call); the
// other, holding no lease, refuses outbound calls with 503 (but a hosted
// number's, which needs no node). When the first
// stops, it releases the lease and the second takes the node over within
// a renewal and handles its next call.
func TestReplicasShareTheNodeThroughItsLease(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newClusterEnv(t, g, "fs1")
		rep := func(name string) *app.Replica {
			return &app.Replica{Name: name, Addr: "http://" + name + ".internal:8080", TTL: 3 * time.Second, Renew: 200 * time.Millisecond}
		}
		a := e.bridge(t, rep("a"))
		testkit.Eventually(t, 5*time.Second, "a holding fs1", func() bool { return a.Leases.Holds("fs1") && a.SwitchUp() }, nil)
		b := e.bridge(t, rep("b"))
		testkit.Eventually(t, 5*time.Second, "b connected", b.SwitchUp, nil)
		time.Sleep(600 * time.Millisecond) // three of b's renewals
		if b.Leases.Holds("fs1") {
			t.Fatal("b holds fs1 while a renews its lease")
		}
		baseB := serve(t, b)
		owner := func() string {
			var ns []struct {
				Name       string `json:"name"`
				LeaseOwner string `json:"lease_owner"`
			}
			if st := getJSON(t, baseB+"/api/v1/switch/nodes", "op-token", &ns); st != 200 || len(ns) != 1 || ns[0].Name != "fs1" {
				t.Fatalf("nodes: %d %+v", st, ns)
			}
			return ns[0].LeaseOwner
		}
		if o := owner(); o != "a" {
			t.Errorf("b's nodes route: fs1's lease_owner %q, want a", o)
		}
		_, err := b.Calls.Initiate(context.Background(), call.InitiateRequest{OrgID: e.org, From: "+16478491000", To: "+14165550199"})
		if !errors.Is(err, call.ErrSwitchUnavailable) {
			t.Errorf("an outbound call on b, holding no node: %v, want switch_unavailable", err)
		}
		// A number hosted at a provider needs no node: its call goes on (to
		// the number's lack of an assistant here).
		hosted := &db.PhoneNumber{OrgID: e.org, PhoneNumber: "+16478491001", Provider: db.ProviderTwilio, CapVoice: true, IsActive: true}
		if err := e.store.SaveNumber(context.Background(), hosted); err != nil {
			t.Fatal(err)
		}
		_, err = b.Calls.Initiate(context.Background(), call.InitiateRequest{OrgID: e.org, From: hosted.PhoneNumber, To: "+14165550199"})
		if !errors.Is(err, call.ErrNoAssistant) {
			t.Errorf("a hosted number's call on b, holding no node: %v, want it placed (no assistant)", err)
		}

		first := e.call(t, 0)
		testkit.Eventually(t, 5*time.Second, "the first call's record", func() bool { return len(e.records(t)[first]) > 0 }, nil)
		time.Sleep(300 * time.Millisecond)
		if n := len(e.records(t)[first]); n != 1 {
			t.Fatalf("the first call has %d records, want 1 (only the lease holder handles it)", n)
		}

		a.Close()
		testkit.Eventually(t, 2*time.Second, "b holding fs1 once a released it (before it expired)", func() bool { return b.Leases.Holds("fs1") }, nil)
		second := e.call(t, 0)
		testkit.Eventually(t, 5*time.Second, "the second call's record, by b", func() bool { return len(e.records(t)[second]) == 1 }, nil)
		if r := e.records(t)[second][0]; r.Node != "fs1" {
			t.Errorf("the second call's node %q, want fs1", r.Node)
		}
		if o := owner(); o != "b" {
			t.Errorf("after the takeover fs1's lease_owner %q, want b", o)
		}
	})
}

// A hangup or transfer of a live call held by another replica is forwarded
// to the owner's internal route, signed by this replica for the caller's
// organization (the caller's own key does not travel), marked, and the
// owner's answer is the answer; a request already forwarded is not
// forwarded again. An outbound call asked of a replica that controls no
// node is forwarded whole to one that does.
func TestCallRequestsForwardedToTheOwner(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newClusterEnv(t, g, "fs1")
		var mu sync.Mutex
		var got []string
		answer, answerBody := http.StatusAccepted, `{"error":{"code":"call_not_live","message":"gone"}}`
		checker := cluster.NewSigner(e.store.Keys.Derive(cluster.SigningPurpose), "b", nil)
		owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			signed := "unsigned"
			if sig, err := checker.Verify(r.Method, r.URL.Path, body, r.Header.Get(cluster.SignatureHeader)); err == nil {
				signed = fmt.Sprintf("signed by %s for %d", sig.By, sig.Org)
			}
			if strings.HasSuffix(r.URL.Path, "/initiate") {
				signed = r.Header.Get("Authorization")
			}
			mu.Lock()
			got = append(got, r.URL.Path+" "+signed+" "+r.Header.Get("X-Sipbridge-Forwarded-By")+" "+string(body))
			status, errBody := answer, answerBody
			mu.Unlock()
			if strings.HasSuffix(r.URL.Path, "/initiate") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, `{"call_id":"owner-call","status":"ringing"}`)
				return
			}
			w.WriteHeader(status)
			if status != http.StatusAccepted {
				io.WriteString(w, errBody)
			}
		}))
		t.Cleanup(owner.Close)
		ctx := context.Background()
		if ok, err := e.store.TakeLease(ctx, "fs1", "b", owner.URL, time.Now(), time.Hour); !ok || err != nil {
			t.Fatalf("b's lease: %v %v", ok, err)
		}
		a := e.bridge(t, &app.Replica{Name: "a", Addr: "http://a.internal:8080", Renew: 100 * time.Millisecond})
		// b's live call on fs1 (after a's start, which closes a previous
		// run's open records).
		rec := &db.Call{OrgID: e.org, Direction: db.DirectionInbound, Status: db.CallInProgress, Node: "fs1"}
		if err := e.store.CreateCall(ctx, rec); err != nil {
			t.Fatal(err)
		}
		base := serve(t, a)
		post := func(path, body string, hdr ...string) (int, string) {
			req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.key)
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		if st, body := post("/api/v1/calls/"+rec.ID+"/hangup", ""); st != http.StatusAccepted {
			t.Errorf("hangup through a: %d %s, want the owner's 202", st, body)
		}
		if st, body := post("/api/v1/calls/"+rec.ID+"/transfer", `{"to":"+14165550199"}`); st != http.StatusAccepted {
			t.Errorf("transfer through a: %d %s, want the owner's 202", st, body)
		}
		mu.Lock()
		signed := fmt.Sprintf(" signed by a for %d a ", e.org)
		want := []string{"/internal/v1/calls/" + rec.ID + "/hangup" + signed,
			"/internal/v1/calls/" + rec.ID + "/transfer" + signed + `{"mode":"","to":"+14165550199"}`}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("the owner got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		answer, got = http.StatusConflict, nil
		mu.Unlock()
		if st, body := post("/api/v1/calls/"+rec.ID+"/hangup", ""); st != http.StatusConflict || !strings.Contains(body, "call_not_live") {
			t.Errorf("the owner's 409: a answered %d %s", st, body)
		}
		if st, _ := post("/api/v1/calls/"+rec.ID+"/hangup", "", "X-Sipbridge-Forwarded-By", "c"); st != http.StatusConflict {
			t.Errorf("a forwarded request: %d, want 409 here", st)
		}
		mu.Lock()
		if len(got) != 1 {
			t.Errorf("the owner got %d requests after the 409, want 1 (a forwarded request is not forwarded again)", len(got))
		}
		got = nil
		mu.Unlock()

		// The owner's refusals are answered as they are: status, code,
		// field and message; the scheme of the caller's key in any case.
		// Its refusal of a's signature is a's failure (503), not the
		// caller's.
		for _, c := range []struct {
			status int
			body   string
		}{
			{http.StatusBadRequest, `{"error":{"code":"validation_failed","message":"to: not a sip: URI or an E.164 number","field":"to"}}`},
			{http.StatusTooManyRequests, `{"error":{"code":"limit_exceeded","message":"too many calls a second"}}`},
		} {
			mu.Lock()
			answer, answerBody = c.status, c.body
			mu.Unlock()
			st, body := post("/api/v1/calls/"+rec.ID+"/transfer", `{"to":"+14165550199"}`, "Authorization", "bearer "+e.key)
			if st != c.status || !strings.Contains(body, c.body[len(`{"error":{`):len(c.body)-3]) {
				t.Errorf("the owner's %d: a answered %d %s, want %s", c.status, st, body, c.body)
			}
		}
		mu.Lock()
		answer, answerBody = http.StatusForbidden, `{"error":{"code":"forbidden","message":"the replica signature does not match"}}`
		mu.Unlock()
		if st, body := post("/api/v1/calls/"+rec.ID+"/hangup", ""); st != http.StatusServiceUnavailable || !strings.Contains(body, "switch_unavailable") {
			t.Errorf("the owner refusing a's signature: a answered %d %s, want 503 switch_unavailable", st, body)
		}
		mu.Lock()
		answer, answerBody, got = http.StatusAccepted, "", nil
		mu.Unlock()

		// An outbound call asked of a, which controls no node, is the
		// owner's, whole.
		in := `{"from_phone_number":"+16478491000","to_phone_number":"+14165550199"}`
		if st, body := post("/api/v1/calls/initiate", in); st != http.StatusOK || !strings.Contains(body, `"call_id":"owner-call"`) {
			t.Errorf("initiate through a: %d %s, want the owner's answer", st, body)
		}
		mu.Lock()
		defer mu.Unlock()
		if want := "/api/v1/calls/initiate Bearer " + e.key + " a " + in; len(got) != 1 || got[0] != want {
			t.Errorf("the owner got %q, want %q", got, want)
		}
	})
}

// serve runs the bridge's HTTP server until the test ends and returns its
// base URL.
func serve(t *testing.T, a *app.App) string {
	t.Helper()
	return serveOn(t, a, listen(t))
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveOn is serve on a listener of the test's.
func serveOn(t *testing.T, a *app.App, ln net.Listener) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx, ln, make(chan os.Signal)) }()
	t.Cleanup(func() { cancel(); <-ran })
	return "http://" + ln.Addr().String()
}

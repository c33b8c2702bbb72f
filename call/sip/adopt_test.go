package sip_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/call/sip/adopt"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/trunk"
	"gorm.io/gorm"
)

// adoptAsst is an assistant that keeps, for each of its websockets, the
// start's customParameters and how many media messages came.
type adoptAsst struct {
	srv   *httptest.Server
	mu    sync.Mutex
	conns []*adoptConn
}

type adoptConn struct {
	params map[string]string
	media  int
	closed bool
}

func newAdoptAsst(t *testing.T) *adoptAsst {
	a := &adoptAsst{}
	up := websocket.Upgrader{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		c := &adoptConn{}
		a.mu.Lock()
		a.conns = append(a.conns, c)
		a.mu.Unlock()
		defer func() { a.mu.Lock(); c.closed = true; a.mu.Unlock() }()
		for {
			var m struct {
				Event string `json:"event"`
				Start struct {
					CustomParameters map[string]string `json:"customParameters"`
				} `json:"start"`
			}
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			a.mu.Lock()
			switch m.Event {
			case "start":
				c.params = m.Start.CustomParameters
			case "media":
				c.media++
			}
			a.mu.Unlock()
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// conn returns the i-th websocket's state (a copy), ok false until it exists.
func (a *adoptAsst) conn(i int) (adoptConn, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i >= len(a.conns) {
		return adoptConn{}, false
	}
	return *a.conns[i], true
}

// adoptRig is one switch and one database that sipbridge processes take
// turns on (startApp).
type adoptRig struct {
	t      *testing.T
	sw     *fstest.Switch
	store  *db.Store
	genDir string
	org    *db.Organization
	other  *db.Organization
	trunk  *db.SIPTrunk
	asst   *adoptAsst
	number string
}

func newAdoptRig(t *testing.T, g *gorm.DB) *adoptRig {
	log := slog.New(slog.DiscardHandler)
	r := &adoptRig{t: t, store: db.NewStore(g, dbtest.Keyring(t), log), genDir: t.TempDir(), number: "+16478491100"}
	r.sw = fstest.New(fstest.Options{GenDir: r.genDir, Step: 5 * time.Millisecond})
	if err := r.sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.sw.Close() })
	r.asst = newAdoptAsst(t)
	ctx := context.Background()
	var err error
	if r.org, _, err = r.store.EnsureOrg(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	if r.other, _, err = r.store.EnsureOrg(ctx, "org-b"); err != nil {
		t.Fatal(err)
	}
	r.trunk = &db.SIPTrunk{ID: db.NewID(), OrgID: r.org.ID, Name: "PBX", GatewayName: fmt.Sprintf("o%d_pbx", r.org.ID), Gateway: "127.0.0.1",
		Priority: 1, Enabled: true, Transport: "udp", AllowedAddresses: db.StringList{"127.0.0.1/32"}}
	if err := r.store.CreateTrunk(ctx, r.trunk); err != nil {
		t.Fatal(err)
	}
	as := &db.Assistant{OrgID: r.org.ID, Name: "Receptionist", StreamURL: "ws" + strings.TrimPrefix(r.asst.srv.URL, "http") + "/stream",
		WelcomeMessage: "Hello!"}
	if err := r.store.SaveAssistant(ctx, as, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	n := &db.PhoneNumber{OrgID: r.org.ID, PhoneNumber: r.number, Provider: db.ProviderBYOSIP, CountryCode: "CA",
		SIPTrunkID: &r.trunk.ID, CapVoice: true, IsActive: true, AssistantID: &as.ID}
	if err := r.store.SaveNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	return r
}

// startApp starts a sipbridge process on the rig's switch and database;
// shutdown is its SHUTDOWN_CALLS.
func (r *adoptRig) startApp(shutdown string) *app.App {
	t := r.t
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	loopback := &netpolicy.Policy{AllowPrivate: true, AllowLoopback: true}
	a, err := app.New(context.Background(), app.Config{Store: r.store, Log: slog.New(slog.DiscardHandler), AddressPolicy: loopback,
		Switch:       &app.Switch{Addr: r.sw.Addr(), Password: "ClueCon", CallConnections: 1, GenDir: r.genDir},
		StreamWSBase: "ws://" + ln.Addr().String(), RecordingsDir: t.TempDir(), ManualSync: true,
		SyncOptions: func(o *trunk.SyncOptions) { o.AddressPolicy = loopback },
		CallsOptions: func(co *sip.CallsOptions) {
			co.AddressPolicy, co.ShutdownCalls = loopback, shutdown
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Web.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { a.Close(); srv.Close() })
	return a
}

// startConnected is startApp once the process's Event Socket connection
// to the switch is up.
func (r *adoptRig) startConnected(shutdown string) *app.App {
	a := r.startApp(shutdown)
	if err := a.WaitSwitch(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	return a
}

func (r *adoptRig) record(org int64, ref string) *db.Call {
	c, err := r.store.FindCall(context.Background(), org, ref)
	if err != nil {
		return nil
	}
	return c
}

func (r *adoptRig) waitRecord(what string, org int64, ref string, ok func(*db.Call) bool) *db.Call {
	r.t.Helper()
	var c *db.Call
	if !waitFor(10*time.Second, func() bool { c = r.record(org, ref); return c != nil && ok(c) }) {
		r.t.Fatalf("%s: record %+v", what, c)
	}
	return c
}

func (r *adoptRig) events(c *db.Call) []db.CallEvent {
	evs, err := r.store.CallEvents(context.Background(), c.OrgID, c.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

func eventOf(evs []db.CallEvent, typ string) *db.CallEvent {
	for i := range evs {
		if evs[i].Type == typ {
			return &evs[i]
		}
	}
	return nil
}

// A live call survives a restart of sipbridge: the first process stops
// with SHUTDOWN_CALLS=handoff, leaving the caller's channel up and its
// record in progress; the next one adopts the call (a new stream, a new
// assistant socket whose start says resumed, the caller's audio flowing
// again), hangs up a call left unanswered (503), closes a record whose
// channel is gone, and leaves alone what it does not own: a record whose
// channel is on another node (another organization's) and a hosted call.
// The adopted call ends completed with the adoption in its timeline.
func TestAdoptAfterRestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		r := newAdoptRig(t, g)
		ctx := context.Background()
		first := r.startConnected(sip.ShutdownHandoff)
		live, rec := r.liveCall("+14165551100")
		if c, _ := r.asst.conn(0); c.params["resumed"] != "" {
			t.Errorf("a new call's start says resumed=%q", c.params["resumed"])
		}

		first.Close() // SIGTERM with SHUTDOWN_CALLS=handoff
		if !slices.Contains(r.sw.Channels(), live) {
			t.Fatal("the handoff hung the caller up")
		}
		if c := r.record(r.org.ID, live); c.Status != db.CallInProgress || c.EndedAt != nil {
			t.Fatalf("the handoff closed the record: %+v", c)
		}
		if eventOf(r.events(rec), "handed_off") == nil {
			t.Error("no handed_off event in the timeline")
		}
		if c, _ := r.asst.conn(0); !c.closed {
			t.Error("the first process's assistant socket is still open")
		}

		// Left while no sipbridge runs: a call still routing (its record
		// ringing, no sipbridge_call_id yet) and a record whose channel is gone.
		ringing, err := r.sw.Call(fstest.InboundCall{FromUser: "+14165551101", RequestUser: r.number, ACLAuthedBy: r.trunk.GatewayName})
		if err != nil {
			t.Fatal(err)
		}
		mk := func(org int64, sid, status, provider string) *db.Call {
			now := time.Now().UTC()
			c := &db.Call{OrgID: org, CallSID: sid, Direction: db.DirectionInbound, Status: status, Provider: provider, StartedAt: now}
			if status == db.CallInProgress {
				c.AnsweredAt = &now
			}
			if err := r.store.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		mk(r.org.ID, ringing, db.CallRinging, "sip")
		mk(r.org.ID, "a7f1c2d0-0000-4000-8000-00000000dead", db.CallInProgress, "sip")

		second := r.startApp(sip.ShutdownHangup)
		if !waitFor(10*time.Second, func() bool { c, ok := r.asst.conn(1); return ok && c.media >= 5 }) {
			t.Fatal("the adopted call's caller audio never reached a new assistant socket")
		}
		if c, _ := r.asst.conn(1); c.params["resumed"] != "true" || c.params["call_id"] != rec.ID || c.params["welcome_message"] != "" {
			t.Errorf("the adopted call's start: customParameters %v, want resumed=true, call_id %s and no welcome message", c.params, rec.ID)
		}
		gone := r.waitRecord("the unanswered call hung up", r.org.ID, ringing, func(c *db.Call) bool { return c.EndedAt != nil })
		if gone.Status != db.CallFailed || gone.Reason != adopt.ReasonUnanswered || gone.HangupCause != "NORMAL_TEMPORARY_FAILURE" {
			t.Errorf("the unanswered call: status %q reason %q cause %q", gone.Status, gone.Reason, gone.HangupCause)
		}
		if slices.Contains(r.sw.Channels(), ringing) {
			t.Error("the unanswered call's channel is still up")
		}
		lost := r.waitRecord("the record without a channel closed", r.org.ID, "a7f1c2d0-0000-4000-8000-00000000dead", func(c *db.Call) bool { return c.EndedAt != nil })
		if lost.Status != db.CallFailed || lost.Reason != adopt.ReasonGone {
			t.Errorf("the record without a channel: status %q reason %q", lost.Status, lost.Reason)
		}

		// A record whose channel is on a node this process does not
		// control, and a hosted call: not this process's to adopt or close.
		elsewhere := mk(r.other.ID, "b8e2d3c1-0000-4000-8000-00000000beef", db.CallInProgress, "sip")
		hosted := mk(r.other.ID, "CA0123", db.CallInProgress, "twilio")
		adopted, closed, err := second.CallNodes[0].Calls.Adopt(ctx, sip.AdoptOptions{Elsewhere: func(_ context.Context, uuid string) bool { return uuid == elsewhere.CallSID }})
		if err != nil || adopted != 0 || closed != 0 {
			t.Errorf("Adopt again: adopted %d, closed %d, %v; want nothing (the live call is followed already)", adopted, closed, err)
		}
		for _, c := range []*db.Call{elsewhere, hosted} {
			if got := r.record(c.OrgID, c.CallSID); got.Status != db.CallInProgress || got.EndedAt != nil {
				t.Errorf("record %s (%s) touched: %+v", c.CallSID, c.Provider, got)
			}
		}

		r.sw.Hangup(live, "NORMAL_CLEARING")
		done := r.waitRecord("the adopted call completed", r.org.ID, live, func(c *db.Call) bool { return c.EndedAt != nil })
		if done.Status != db.CallCompleted {
			t.Errorf("the adopted call ended %q (%s), want completed", done.Status, done.Reason)
		}
		ev := eventOf(r.events(done), "adopted")
		if ev == nil {
			t.Fatal("no adopted event in the timeline")
		}
		if gap, ok := ev.Detail["gap_ms"].(float64); !ok || gap < 0 || gap > 10000 {
			t.Errorf("adopted event %v: want gap_ms between 0 and 10 s", ev.Detail)
		}
		if !waitFor(5*time.Second, func() bool { return second.Calls.Active() == 0 }) {
			t.Errorf("%d calls still live in call control", second.Calls.Active())
		}
	})
}

// liveCall places an inbound call from `from` to the rig's number and
// waits until the first assistant socket has the caller's audio and the
// record is in progress: the caller's channel and the record.
func (r *adoptRig) liveCall(from string) (string, *db.Call) {
	r.t.Helper()
	live, err := r.sw.Call(fstest.InboundCall{FromUser: from, RequestUser: r.number, ACLAuthedBy: r.trunk.GatewayName})
	if err != nil {
		r.t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { c, ok := r.asst.conn(0); return ok && c.media >= 5 }) {
		r.t.Fatal("the assistant never got the caller's audio")
	}
	return live, r.waitRecord("the call in progress", r.org.ID, live, func(c *db.Call) bool { return c.Status == db.CallInProgress })
}

// An answered outbound call handed off by one process goes on in the
// next: its answered leg carries sipbridge_call_id from the originate.
func TestAdoptOutboundCall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		r := newAdoptRig(t, g)
		ctx := context.Background()
		first := r.startConnected(sip.ShutdownHandoff)
		if _, err := first.TrunkSync.Pass(ctx); err != nil { // the gateway, for originate
			t.Fatal(err)
		}
		res, err := first.Calls.Initiate(ctx, call.InitiateRequest{OrgID: r.org.ID, From: r.number, To: "+12125551200", Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		if !waitFor(10*time.Second, func() bool { c, ok := r.asst.conn(0); return ok && c.media >= 5 }) {
			t.Fatal("the outbound call's assistant never got the callee's audio")
		}
		r.waitRecord("the call in progress", r.org.ID, res.CallID, func(c *db.Call) bool { return c.Status == db.CallInProgress })
		first.Close()

		second := r.startApp(sip.ShutdownHangup)
		if !waitFor(10*time.Second, func() bool { c, ok := r.asst.conn(1); return ok && c.media >= 5 }) {
			t.Fatal("the adopted outbound call's audio never reached a new assistant socket")
		}
		if c, _ := r.asst.conn(1); c.params["resumed"] != "true" || c.params["direction"] != db.DirectionOutbound || c.params["to"] != "+12125551200" {
			t.Errorf("the adopted outbound call's start: customParameters %v", c.params)
		}
		r.sw.Hangup(res.CallSID, "NORMAL_CLEARING")
		done := r.waitRecord("the adopted call completed", r.org.ID, res.CallID, func(c *db.Call) bool { return c.EndedAt != nil })
		if done.Status != db.CallCompleted || eventOf(r.events(done), "adopted") == nil {
			t.Errorf("the adopted outbound call ended %q (%s), timeline %v", done.Status, done.Reason, r.events(done))
		}
		if !waitFor(5*time.Second, func() bool { return second.Calls.Active() == 0 }) {
			t.Errorf("%d calls still live in call control", second.Calls.Active())
		}
	})
}

// A call transferred out (bridged to a leg through a trunk) when the
// process stopped is followed by the next one without an assistant, and
// its record completes when the caller hangs up.
func TestAdoptTransferredCall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		r := newAdoptRig(t, g)
		ctx := context.Background()
		first := r.startConnected(sip.ShutdownHandoff)
		if _, err := first.TrunkSync.Pass(ctx); err != nil { // the gateway, for the bridge's originate
			t.Fatal(err)
		}
		live, rec := r.liveCall("+14165551300")
		if err := first.Calls.Transfer(ctx, r.org.ID, rec.ID, "+12125551300", call.TransferMode("bridge")); err != nil {
			t.Fatal(err)
		}
		if !waitFor(10*time.Second, func() bool { return r.sw.Bridged(live) != "" }) {
			t.Fatal("the caller was never bridged")
		}
		leg := r.sw.Bridged(live)
		first.Close()
		if ch := r.sw.Channels(); !slices.Contains(ch, live) || !slices.Contains(ch, leg) {
			t.Fatalf("the handoff ended the transferred call: channels %v", ch)
		}

		second := r.startApp(sip.ShutdownHangup)
		if !waitFor(10*time.Second, func() bool { return second.Calls.Active() == 1 }) {
			t.Fatal("the transferred call is not followed by the next process")
		}
		time.Sleep(200 * time.Millisecond)
		if _, ok := r.asst.conn(1); ok {
			t.Error("the transferred call got an assistant again")
		}
		if r.sw.Bridged(live) != leg {
			t.Errorf("the caller's bridge changed: %q, want %q", r.sw.Bridged(live), leg)
		}
		r.sw.Hangup(live, "NORMAL_CLEARING")
		done := r.waitRecord("the transferred call completed", r.org.ID, live, func(c *db.Call) bool { return c.EndedAt != nil })
		ev := eventOf(r.events(done), "adopted")
		if done.Status != db.CallCompleted || ev == nil || ev.Detail["transferred"] != true {
			t.Errorf("the transferred call ended %q (%s), adopted event %+v", done.Status, done.Reason, ev)
		}
		if !waitFor(5*time.Second, func() bool { return second.Calls.Active() == 0 }) {
			t.Errorf("%d calls still live in call control", second.Calls.Active())
		}
	})
}

// Adoptions that overlap (the start's, and a lease taken again while it
// runs) take a call once: one new assistant socket, one session.
func TestAdoptionsAtOnceTakeTheCallOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		r := newAdoptRig(t, g)
		ctx := context.Background()
		first := r.startConnected(sip.ShutdownHandoff)
		r.liveCall("+14165551100")
		first.Close()

		second := r.startConnected(sip.ShutdownHangup) // its own adoption starts once the switch answers
		var wg sync.WaitGroup
		var taken atomic.Int32
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, _, err := second.CallNodes[0].Calls.Adopt(ctx, sip.AdoptOptions{})
				if err != nil {
					t.Error(err)
				}
				taken.Add(int32(n))
			}()
		}
		wg.Wait()
		if !waitFor(10*time.Second, func() bool { c, ok := r.asst.conn(1); return ok && c.media >= 5 }) {
			t.Fatal("the adopted call's audio never reached a new assistant socket")
		}
		time.Sleep(300 * time.Millisecond) // a second adoption's socket would be open by now
		if _, ok := r.asst.conn(2); ok || second.Calls.Active() != 1 {
			t.Errorf("the call was taken more than once: a third assistant socket %v, %d live calls (the overlapping Adopts took %d)",
				ok, second.Calls.Active(), taken.Load())
		}
	})
}

// A process that loses a node's lease lets its live calls go
// (Calls.Release): the caller stays up, the record in progress with
// handed_off in its timeline, the session and its assistant socket end;
// the node's next controller (here the same process, its lease taken
// again) adopts the call with a new assistant socket.
func TestReleaseLeavesTheCallForTheNextController(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		r := newAdoptRig(t, g)
		ctx := context.Background()
		a := r.startConnected(sip.ShutdownHangup)
		live, rec := r.liveCall("+14165551100")
		calls := a.CallNodes[0].Calls
		calls.Release()
		if !waitFor(5*time.Second, func() bool { return calls.Active() == 0 }) {
			t.Fatalf("%d calls still followed after the handoff", calls.Active())
		}
		if !slices.Contains(r.sw.Channels(), live) {
			t.Fatal("the handoff hung the caller up")
		}
		if c := r.record(r.org.ID, live); c.Status != db.CallInProgress || c.EndedAt != nil {
			t.Fatalf("the handoff closed the record: %+v", c)
		}
		if eventOf(r.events(rec), "handed_off") == nil {
			t.Error("no handed_off event in the timeline")
		}
		if n, _, err := calls.Adopt(ctx, sip.AdoptOptions{}); err != nil || n != 1 {
			t.Fatalf("adopting it again: %d, %v", n, err)
		}
		if !waitFor(10*time.Second, func() bool { c, ok := r.asst.conn(1); return ok && c.media >= 5 }) {
			t.Fatal("the call taken over again never reached a new assistant socket")
		}
	})
}

// A call that reached the switch while no sipbridge controlled it (here,
// before any process started) waits in park, routed by nobody: the next
// process's adoption hangs it up with a 503 once its grace has passed, so
// its carrier may try elsewhere, rather than leaving it parked for good.
func TestAdoptionHangsUpAStrayParkedCall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		r := newAdoptRig(t, g)
		stray, err := r.sw.Call(fstest.InboundCall{FromUser: "+14165551100", RequestUser: r.number, ACLAuthedBy: r.trunk.GatewayName})
		if err != nil {
			t.Fatal(err)
		}
		a := r.startApp(sip.ShutdownHangup)
		if err := a.WaitSwitch(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(r.sw.Channels(), stray) {
			t.Fatal("the stray call was hung up before its grace")
		}
		if !waitFor(10*time.Second, func() bool { return !slices.Contains(r.sw.Channels(), stray) }) {
			t.Fatal("the stray parked call is still up")
		}
		if !slices.Contains(r.sw.Commands(), "uuid_kill "+stray+" NORMAL_TEMPORARY_FAILURE") {
			t.Errorf("the stray call was not hung up with a 503: %q", r.sw.Commands())
		}
		if _, ok := r.asst.conn(0); ok || a.Calls.Active() != 0 {
			t.Error("the stray call reached an assistant")
		}
	})
}

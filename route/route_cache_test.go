package route_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/route"
)

// The router's reads are cached on the change feed (cache.go). The routing
// tests run again with the cache, each decision after the writes before
// it; these tests route each call twice before a write, so that a cache
// that missed the write would route the call as before.

func TestInboundRoutingCached(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { testInboundRouting(t, g, true) })
}

func TestInboundRoutingSharedAddressCached(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { testInboundRoutingSharedAddress(t, g, true) })
}

// feedOn registers the change feed on g and runs its listener until the
// test ends, waiting until it is valid.
func feedOn(t testing.TB, g *gorm.DB) *changes.Feed {
	t.Helper()
	f, err := changes.Register(g)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the feed to be valid", f.Valid)
	return f
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("waited 5 s for %s", what)
		}
	}
}

// routerOn is a router on store, its reads cached on g's change feed when
// cached.
func routerOn(t testing.TB, g *gorm.DB, store *db.Store, cached bool) *route.Router {
	t.Helper()
	if !cached {
		return route.NewRouter(store, nil)
	}
	return route.New(store, route.Options{Changes: feedOn(t, g)})
}

// carrierCall is a call to +16478491000 from 203.0.113.9 on o1_carrier.
var carrierCall = vars("variable_sip_acl_authed_by", "o1_carrier",
	"variable_sip_network_ip", "203.0.113.9", "variable_sip_req_user", "+16478491000", "variable_sip_to_user", "+16478491000",
	"Caller-Caller-ID-Number", "+14165550100")

// decideTwice routes carrierCall twice (the second from the caches) and
// returns the second route.
func decideTwice(t *testing.T, r *route.Router) *route.Route {
	t.Helper()
	var rt *route.Route
	for range 2 {
		var err error
		if rt, err = r.Decide(context.Background(), carrierCall); err != nil {
			t.Fatal(err)
		}
	}
	return rt
}

// A number re-assigned to another assistant is routed to it on the very
// next call; a number deactivated, or a trunk disabled, refuses the next
// call. A call routed again reads nothing.
func TestDecideCachedSeesWrites(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store, tr, asst := carrierNumber(t, g, "sip.example.com")
		r := routerOn(t, g, store, true)
		if rt := decideTwice(t, r); rt.Refused != nil || rt.AssistantID != asst.ID {
			t.Fatalf("route %+v, refused %+v", rt, rt.Refused)
		}
		if n := statements(t, g, func() { decideTwice(t, r) }); len(n) != 0 {
			t.Errorf("a call routed again made %d statements, want none:\n%s", len(n), strings.Join(n, "\n"))
		}
		other := &db.Assistant{OrgID: tr.OrgID, Name: "Other"}
		if err := store.SaveAssistant(ctx, other, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		nums, _, err := store.ListNumbers(ctx, tr.OrgID, db.NumberFilter{Exact: "+16478491000"}, db.Page{Limit: 1})
		if err != nil || len(nums) != 1 {
			t.Fatalf("the number: %v %v", nums, err)
		}
		n := nums[0]
		n.AssistantID = &other.ID
		if err := store.SaveNumber(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if rt := decideTwice(t, r); rt.Refused != nil || rt.AssistantID != other.ID {
			t.Fatalf("after the number's re-assignment: assistant %q, refused %+v; want %q", rt.AssistantID, rt.Refused, other.ID)
		}
		n.IsActive = false
		if err := store.SaveNumber(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if rt := decideTwice(t, r); rt.Refused != &route.RefuseUnknownNumber {
			t.Fatalf("after the number's deactivation: refused %+v, want %+v", rt.Refused, route.RefuseUnknownNumber)
		}
		n.IsActive = true
		if err := store.SaveNumber(ctx, &n); err != nil {
			t.Fatal(err)
		}
		decideTwice(t, r)
		tr.Enabled = false
		if err := store.UpdateTrunk(ctx, tr); err != nil {
			t.Fatal(err)
		}
		if rt := decideTwice(t, r); rt.Refused != &route.RefuseUnknownTrunk {
			t.Fatalf("after the trunk was disabled: refused %+v, want %+v", rt.Refused, route.RefuseUnknownTrunk)
		}
	})
}

// statements runs f and returns the statements it made on g.
func statements(t *testing.T, g *gorm.DB, f func()) []string {
	t.Helper()
	var mu sync.Mutex
	var stmts []string
	on := true
	count := func(tx *gorm.DB) {
		mu.Lock()
		if on {
			stmts = append(stmts, tx.Statement.SQL.String())
		}
		mu.Unlock()
	}
	name := "test:statements_" + t.Name()
	for _, reg := range []error{
		g.Callback().Query().After("gorm:query").Register(name+"_query", count),
		g.Callback().Row().After("gorm:row").Register(name+"_row", count),
		g.Callback().Raw().After("gorm:raw").Register(name+"_raw", count),
	} {
		if reg != nil {
			t.Fatal(reg)
		}
	}
	f()
	mu.Lock()
	defer mu.Unlock()
	on = false
	return stmts
}

// On PostgreSQL, a number re-assigned by another replica is routed to its
// new assistant within a second; with the feed's LISTEN connection killed,
// every call reads the database, so a re-assignment meanwhile is in the
// next call's route.
func TestDecideCachedOtherReplica(t *testing.T) {
	g := dbtest.Postgres(t)
	store, tr, asst := carrierNumber(t, g, "sip.example.com")
	f := feedOn(t, g)
	r := route.New(store, route.Options{Changes: f})
	g2 := dbtest.Reopen(t, g)
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"B", "C", "D"} {
		a := &db.Assistant{OrgID: tr.OrgID, Name: name}
		if err := store.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	assign := func(id string) {
		t.Helper()
		if err := g2.Exec(`UPDATE phone_numbers SET assistant_id = ? WHERE phone_number = '+16478491000'`, id).Error; err != nil {
			t.Fatal(err)
		}
	}
	routedWithin := func(d time.Duration, id, after string) {
		t.Helper()
		end := time.Now().Add(d)
		for {
			rt, err := r.Decide(ctx, carrierCall)
			if err != nil {
				t.Fatal(err)
			}
			if rt.AssistantID == id {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("%v after %s: routed to %q, want %q", d, after, rt.AssistantID, id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	routedWithin(0, asst.ID, "the start")
	decideTwice(t, r)
	assign(ids[0])
	routedWithin(time.Second, ids[0], "another replica re-assigned the number")

	decideTwice(t, r)
	pid := f.ListenerPID()
	if err := g2.Exec(`SELECT pg_terminate_backend(?)`, pid).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the feed to see its listener gone", func() bool { return !f.Valid() || f.ListenerPID() != pid })
	assign(ids[1])
	routedWithin(0, ids[1], "another replica re-assigned the number, the listener down")
	waitFor(t, "the feed to listen again", func() bool { return f.Valid() && f.ListenerPID() != pid })
	decideTwice(t, r)
	assign(ids[2])
	routedWithin(time.Second, ids[2], "another replica re-assigned the number, the listener back")
}

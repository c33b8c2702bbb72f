package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
)

// The API answers GET /sip-trunks, /sip-trunks/{id} and /organization from
// caches the change feed validates (package db/changes). These tests read
// each answer twice before a write, so that a cache that missed the write
// would serve the old answer.

func (e *env) getTwice(path, key string, status int) resp {
	e.t.Helper()
	e.mustDo("GET", path, key, nil, status)
	return e.mustDo("GET", path, key, nil, status)
}

func (e *env) trunkNames(key string) []string {
	e.t.Helper()
	var names []string
	for _, it := range e.listOf("/api/v1/sip-trunks", key) {
		names = append(names, fmt.Sprint(it["name"]))
	}
	return names
}

// A write through the API, or through the trunk sync's store path, is in
// the next answer.
func TestAPICacheSeesWrites(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.waitFeed("the feed to be valid", e.changes.Valid) // PostgreSQL: listening
		ctx := context.Background()
		e.getTwice("/api/v1/sip-trunks", e.keyA, 200)
		e.getTwice("/api/v1/organization", e.keyA, 200)
		created := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, map[string]any{"name": "t1", "gateway": "carrier.example.com", "username": "u", "password": "secret-pw"}, 201)
		id := created.Body["id"].(string)
		if got := e.trunkNames(e.keyA); len(got) != 1 || got[0] != "t1" {
			t.Fatalf("after create: list %v, want [t1]", got)
		}
		if r := e.getTwice("/api/v1/organization", e.keyA, 200); r.Body["sip_trunk_id"] != nil {
			t.Fatalf("an API trunk became the default trunk: %v", r.Body["sip_trunk_id"])
		}
		e.getTwice("/api/v1/sip-trunks/"+id, e.keyA, 200)
		e.mustDo("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"name": "t2"}, 200)
		r := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200)
		if r.Body["name"] != "t2" {
			t.Fatalf("after update: name %v, want t2", r.Body["name"])
		}
		gw := r.Body["gateway_name"].(string)
		if got := e.trunkNames(e.keyA); len(got) != 1 || got[0] != "t2" {
			t.Fatalf("after update: list %v, want [t2]", got)
		}
		if err := e.store.SetGatewayLive(ctx, db.GatewayLive{GatewayName: gw, State: "REGED"}); err != nil {
			t.Fatal(err)
		}
		if r := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200); r.Body["gateway_state"] != "REGED" {
			t.Fatalf("after the gateway registered: gateway_state %v, want REGED", r.Body["gateway_state"])
		}
		if it := e.listOf("/api/v1/sip-trunks", e.keyA); it[0]["gateway_state"] != "REGED" {
			t.Fatalf("after the gateway registered: list's gateway_state %v, want REGED", it[0]["gateway_state"])
		}
		e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"name": "renamed"}, 200)
		if r := e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200); r.Body["name"] != "renamed" {
			t.Fatalf("after update: organization name %v, want renamed", r.Body["name"])
		}
		e.mustDo("DELETE", "/api/v1/sip-trunks/"+id, e.keyA, nil, 204)
		if got := e.trunkNames(e.keyA); len(got) != 0 {
			t.Fatalf("after delete: list %v, want none", got)
		}
		e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 404)
	})
}

// An organization is never served another's cached answer.
func TestAPICacheOrganizationScope(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.waitFeed("the feed to be valid", e.changes.Valid) // PostgreSQL: listening
		created := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, map[string]any{"name": "a-only", "gateway": "carrier.example.com", "username": "u", "password": "secret-pw"}, 201)
		id := created.Body["id"].(string)
		for _, path := range []string{"/api/v1/sip-trunks", "/api/v1/sip-trunks?limit=10", "/api/v1/sip-trunks/" + id, "/api/v1/organization"} {
			e.getTwice(path, e.keyA, 200)
		}
		if r := e.mustDo("GET", "/api/v1/sip-trunks", e.keyB, nil, 200); len(r.List) != 0 || r.Total != 0 {
			t.Fatalf("B's list: %s (total %d), want none", r.Raw, r.Total)
		}
		if r := e.mustDo("GET", "/api/v1/sip-trunks?limit=10", e.keyB, nil, 200); len(r.List) != 0 {
			t.Fatalf("B's page: %s, want none", r.Raw)
		}
		e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyB, nil, 404)
		if r := e.mustDo("GET", "/api/v1/organization", e.keyB, nil, 200); r.Body["name"] != "org-b" {
			t.Fatalf("B's organization: %v, want org-b", r.Body["name"])
		}
		if got := e.trunkNames(e.keyA); len(got) != 1 || got[0] != "a-only" {
			t.Fatalf("A's list after B's reads: %v", got)
		}
	})
}

// within polls GET path until check passes, for at most d.
func (e *env) within(d time.Duration, path string, check func(resp) bool) resp {
	e.t.Helper()
	end := time.Now().Add(d)
	for {
		r := e.mustDo("GET", path, e.keyA, nil, 200)
		if check(r) || time.Now().After(end) {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) waitFeed(what string, cond func() bool) {
	e.t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			e.t.Fatalf("waited 5 s for %s", what)
		}
	}
}

// On PostgreSQL, another replica's write is in this replica's answers
// within a second; with the feed's LISTEN connection killed, answers are
// read from the database (fresh) until it listens again.
func TestAPICacheOtherReplica(t *testing.T) {
	g := dbtest.Postgres(t)
	e := newEnvOn(t, defaultPolicy(), g)
	g2 := dbtest.Reopen(t, g)
	e.waitFeed("the feed to be valid", e.changes.Valid)
	created := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, map[string]any{"name": "t1", "gateway": "carrier.example.com", "username": "u", "password": "secret-pw"}, 201)
	id := created.Body["id"].(string)
	one, list, org := "/api/v1/sip-trunks/"+id, "/api/v1/sip-trunks", "/api/v1/organization"
	rename := func(name string) {
		t.Helper()
		if err := g2.Exec(`UPDATE sip_trunks SET name = ? WHERE id = ?`, name, id).Error; err != nil {
			t.Fatal(err)
		}
	}
	named := func(name string) func(resp) bool {
		return func(r resp) bool {
			return r.Body["name"] == name || (len(r.List) == 1 && r.List[0].(map[string]any)["name"] == name)
		}
	}
	for _, p := range []string{one, list, org} {
		e.getTwice(p, e.keyA, 200)
	}
	rename("t2")
	for _, p := range []string{one, list} {
		if r := e.within(time.Second, p, named("t2")); !named("t2")(r) {
			t.Fatalf("GET %s 1 s after another replica renamed the trunk: %s", p, r.Raw)
		}
	}
	if err := g2.Exec(`UPDATE sip_trunk_status SET gateway_state = 'FAILED' WHERE trunk_id = ?`, id).Error; err != nil {
		t.Fatal(err)
	}
	if r := e.within(time.Second, one, func(r resp) bool { return r.Body["gateway_state"] == "FAILED" }); r.Body["gateway_state"] != "FAILED" {
		t.Fatalf("GET %s 1 s after another replica's status write: %s", one, r.Raw)
	}
	if err := g2.Exec(`UPDATE organizations SET name = 'elsewhere' WHERE id = ?`, e.orgA).Error; err != nil {
		t.Fatal(err)
	}
	if r := e.within(time.Second, org, named("elsewhere")); !named("elsewhere")(r) {
		t.Fatalf("GET %s 1 s after another replica renamed the organization: %s", org, r.Raw)
	}

	// The listener killed: another replica's notices are lost meanwhile.
	e.getTwice(one, e.keyA, 200)
	pid := e.changes.ListenerPID()
	if err := g2.Exec(`SELECT pg_terminate_backend(?)`, pid).Error; err != nil {
		t.Fatal(err)
	}
	e.waitFeed("the feed to see its listener gone", func() bool { return !e.changes.Valid() || e.changes.ListenerPID() != pid })
	rename("t3")
	if r := e.mustDo("GET", one, e.keyA, nil, 200); r.Body["name"] != "t3" {
		t.Fatalf("with the listener killed, GET %s: %s, want t3", one, r.Raw)
	}
	e.waitFeed("the feed to listen again", func() bool { return e.changes.Valid() && e.changes.ListenerPID() != pid })
	e.getTwice(one, e.keyA, 200)
	rename("t4")
	if r := e.within(time.Second, one, named("t4")); !named("t4")(r) {
		t.Fatalf("after the listener came back, GET %s 1 s after another replica renamed the trunk: %s", one, r.Raw)
	}
}

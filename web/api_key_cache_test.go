package web_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// Verified API keys are cached per replica on the change feed (package
// httpapi, keys.go). These tests use each key twice before a write, so that
// a cache that missed the write would let the key in.

// newKey makes a key in A through the API and uses it until it is cached;
// it returns the key and its id.
func (e *env) newKey(name string) (key, id string) {
	e.t.Helper()
	made := e.mustDo("POST", "/api/v1/api-keys", e.keyA, map[string]any{"name": name}, 201)
	key, id = made.Body["key"].(string), made.Body["id"].(string)
	e.useKey(key)
	return key, id
}

// useKey uses key until this replica has it cached: its first use writes
// last_used_at, and on PostgreSQL the notice of that write (and of the
// key's creation) comes back to this replica a moment later, which
// drops what it read before. So: use it, wait until the feed is quiet for
// 50 ms, and use it again.
func (e *env) useKey(key string) {
	e.t.Helper()
	e.mustDo("GET", "/api/v1/organization", key, nil, 200)
	stamp := func() changes.Stamp {
		s, ok := e.changes.Stamp(changes.APIKeys, changes.Organizations)
		if !ok {
			e.t.Fatal("the feed is not valid")
		}
		return s
	}
	for end := time.Now().Add(5 * time.Second); ; {
		before := stamp()
		time.Sleep(50 * time.Millisecond)
		if stamp() == before {
			break
		}
		if time.Now().After(end) {
			e.t.Fatal("the feed kept changing for 5 s")
		}
	}
	e.getTwice("/api/v1/organization", key, 200)
}

// refusedWithin sends requests with key until one is refused, for at most
// d (0: one request), and fails the test if none was.
func (e *env) refusedWithin(d time.Duration, key, after string) {
	e.t.Helper()
	end := time.Now().Add(d)
	for {
		r := e.do("GET", "/api/v1/organization", key, nil)
		if r.Status == http.StatusUnauthorized && r.errCode() == "unauthorized" {
			return
		}
		if r.Status != 200 {
			e.t.Fatalf("after %s: %d %s", after, r.Status, r.Raw)
		}
		if time.Now().After(end) {
			e.t.Fatalf("a key still authenticated %v after %s", d, after)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A key revoked, deleted or given another hash by a write through this
// process is refused by the very next request; a refused key is not
// cached, so a key made live again is accepted at once.
func TestAPIKeyCacheSeesWrites(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.waitFeed("the feed to be valid", e.changes.Valid) // PostgreSQL: listening
		g := e.store.DB
		writes := []struct {
			name  string
			write func(id string) error
		}{
			{"revoked through the API", func(id string) error {
				e.mustDo("DELETE", "/api/v1/api-keys/"+id, e.keyA, nil, 204)
				return nil
			}},
			{"revoked by SQL", func(id string) error {
				return g.Exec(`UPDATE api_keys SET revoked_at = ? WHERE id = ?`, time.Now().UTC(), id).Error
			}},
			{"rotated (hash changed)", func(id string) error {
				return g.Exec(`UPDATE api_keys SET hash = ? WHERE id = ?`, db.HashAPIKey("sb_rotated"+id), id).Error
			}},
			{"deleted", func(id string) error { return g.Exec(`DELETE FROM api_keys WHERE id = ?`, id).Error }},
		}
		for _, w := range writes {
			key, id := e.newKey(w.name)
			if err := w.write(id); err != nil {
				t.Fatalf("%s: %v", w.name, err)
			}
			e.refusedWithin(0, key, w.name)
		}
		key, id := e.newKey("again")
		e.mustDo("DELETE", "/api/v1/api-keys/"+id, e.keyA, nil, 204)
		e.refusedWithin(0, key, "revoked")
		if err := g.Exec(`UPDATE api_keys SET revoked_at = NULL WHERE id = ?`, id).Error; err != nil {
			t.Fatal(err)
		}
		e.mustDo("GET", "/api/v1/organization", key, nil, 200)
	})
}

// A cached key's last_used_at is still written once it is a minute old.
func TestAPIKeyCacheWritesLastUsed(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.waitFeed("the feed to be valid", e.changes.Valid)
		key, id := e.newKey("used")
		used := func() time.Time {
			t.Helper()
			for _, it := range e.listOf("/api/v1/api-keys", e.keyA) {
				if it["id"] == id {
					at, err := time.Parse(time.RFC3339Nano, it["last_used_at"].(string))
					if err != nil {
						t.Fatal(err)
					}
					return at
				}
			}
			t.Fatalf("key %s not listed", id)
			return time.Time{}
		}
		first := used()
		later := time.Now().UTC().Add(2 * time.Minute)
		e.store.Now = func() time.Time { return later }
		e.mustDo("GET", "/api/v1/organization", key, nil, 200)
		if at := used(); !at.After(first.Add(time.Minute)) {
			t.Fatalf("last_used_at %v after a use 2 minutes on, was %v", at, first)
		}
	})
}

// On PostgreSQL with two replicas, a key revoked through one replica's API,
// or rotated or deleted by another client, is refused by the other replica
// within a second. With its feed's LISTEN connection killed, a replica
// reads the database for every key: a revocation meanwhile is refused at
// once.
func TestAPIKeyCacheOtherReplica(t *testing.T) {
	g := dbtest.Postgres(t)
	e := newEnvOn(t, defaultPolicy(), g)
	g2 := dbtest.Reopen(t, g)
	e2 := newEnvOn(t, defaultPolicy(), g2) // the second replica
	e.waitFeed("the feed to be valid", e.changes.Valid)
	e2.waitFeed("the second replica's feed to be valid", e2.changes.Valid)

	key, id := e.newKey("both")
	e2.useKey(key)
	e2.mustDo("DELETE", "/api/v1/api-keys/"+id, e2.keyA, nil, 204)
	e2.refusedWithin(0, key, "its revocation on this replica")
	e.refusedWithin(time.Second, key, "its revocation on the other replica")

	sql := []struct{ name, stmt string }{
		{"revoked by another client", `UPDATE api_keys SET revoked_at = now() WHERE id = ?`},
		{"rotated by another client", `UPDATE api_keys SET hash = md5(hash) WHERE id = ?`},
		{"deleted by another client", `DELETE FROM api_keys WHERE id = ?`},
	}
	for _, w := range sql {
		key, id := e.newKey(w.name)
		if err := g2.Exec(w.stmt, id).Error; err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		e.refusedWithin(time.Second, key, w.name)
	}

	// The listener killed: another replica's notices are lost meanwhile.
	key, id = e.newKey("while down")
	pid := e.changes.ListenerPID()
	if err := g2.Exec(`SELECT pg_terminate_backend(?)`, pid).Error; err != nil {
		t.Fatal(err)
	}
	e.waitFeed("the feed to see its listener gone", func() bool { return !e.changes.Valid() || e.changes.ListenerPID() != pid })
	e2.mustDo("DELETE", "/api/v1/api-keys/"+id, e2.keyA, nil, 204)
	e.refusedWithin(0, key, "its revocation on the other replica, with the listener down")
	e.waitFeed("the feed to listen again", func() bool { return e.changes.Valid() && e.changes.ListenerPID() != pid })
	key, id = e.newKey("after")
	e2.mustDo("DELETE", "/api/v1/api-keys/"+id, e2.keyA, nil, 204)
	e.refusedWithin(time.Second, key, "its revocation on the other replica, the listener back")
}

// A request whose key and answer are both cached reads nothing from the
// database, also after another key's last use was written (a write of
// last_used_at alone drops no cached key).
func TestAPIKeyCacheHitReadsNothing(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.waitFeed("the feed to be valid", e.changes.Valid)
		other := e.mustDo("POST", "/api/v1/api-keys", e.keyA, map[string]any{"name": "other"}, 201).Body["key"].(string)
		key, _ := e.newKey("hit")
		e.mustDo("GET", "/api/v1/organization", other, nil, 200) // its first use: last_used_at written
		var mu sync.Mutex
		var stmts []string
		count := func(tx *gorm.DB) {
			mu.Lock()
			defer mu.Unlock()
			stmts = append(stmts, tx.Statement.SQL.String())
		}
		cb := e.store.DB.Callback()
		for _, err := range []error{
			cb.Query().After("gorm:query").Register("test:hit_query", count),
			cb.Row().After("gorm:row").Register("test:hit_row", count),
			cb.Raw().After("gorm:raw").Register("test:hit_raw", count),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		e.mustDo("GET", "/api/v1/organization", key, nil, 200)
		mu.Lock()
		defer mu.Unlock()
		if len(stmts) != 0 {
			t.Errorf("a cached request made %d statements:\n%s", len(stmts), strings.Join(stmts, "\n"))
		}
	})
}

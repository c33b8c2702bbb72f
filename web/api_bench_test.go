package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
)

// The API's read paths on PostgreSQL, as a client of a loaded server sees
// them: authentication, the organization's queries, the views, JSON and
// the request's log line (written, then discarded) and metrics. Run with
// (BENCHMARKS.md, "API throughput"):
//
//	scripts/with-postgres.sh go test -run '^$' -bench API -benchmem ./web/
//
// ns/op is wall time per request with 16 goroutines sending in parallel
// (as scripts/load-api.sh's 16 clients), so req/s = 1e9/(ns/op) is what
// one process serves on this machine, PostgreSQL sharing its cores, the
// network and the clients' own work aside.

// benchAPI is a server with one organization of n trunks and its API key.
type benchAPI struct {
	h       http.Handler
	key     string
	trunkID string
}

func newBenchAPI(b *testing.B, trunks int) *benchAPI {
	b.Helper()
	g := dbtest.Postgres(b)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	store := db.NewStore(g, dbtest.Keyring(b), log)
	a, err := app.New(context.Background(), app.Config{Store: store, Log: log, AddressPolicy: defaultPolicy(), ManualSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	for end := time.Now().Add(5 * time.Second); !a.Changes.Valid() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond) // the change feed listening: the caches work
	}
	org, _, err := store.EnsureOrg(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	key, _, err := store.CreateAPIKey(context.Background(), org.ID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	api := &benchAPI{h: a.Web.Handler(), key: key}
	for i := range trunks {
		body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("bench-%03d", i), "gateway": fmt.Sprintf("10.77.0.%d", i+1),
			"username": "u", "password": "secret", "priority": i%5 + 1, "codecs": []string{"PCMU", "PCMA"}})
		rec := api.serve(http.MethodPost, "/api/v1/sip-trunks", bytes.NewReader(body))
		if rec.Code != http.StatusCreated {
			b.Fatalf("create trunk: %d %s", rec.Code, rec.Body)
		}
		if api.trunkID == "" {
			var t struct{ ID string }
			_ = json.Unmarshal(rec.Body.Bytes(), &t)
			api.trunkID = t.ID
		}
	}
	return api
}

func (a *benchAPI) serve(method, path string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

// run sends GET path from GOMAXPROCS goroutines; each answer must be 200.
func (a *benchAPI) run(b *testing.B, path string) {
	b.Helper()
	if rec := a.serve(http.MethodGet, path, nil); rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.SetParallelism(16 / runtime.GOMAXPROCS(0)) // 16 clients, as the load test
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := a.serve(http.MethodGet, path, nil); rec.Code != http.StatusOK {
				b.Errorf("GET %s: %d", path, rec.Code)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkAPIListTrunks100: GET /api/v1/sip-trunks?limit=100 of an
// organization with 100 trunks (target ≥ 5,000 req/s on the server).
func BenchmarkAPIListTrunks100(b *testing.B) {
	newBenchAPI(b, 100).run(b, "/api/v1/sip-trunks?limit=100")
}

// BenchmarkAPIListTrunksPage: the default page (50) of the same 100 trunks.
func BenchmarkAPIListTrunksPage(b *testing.B) {
	newBenchAPI(b, 100).run(b, "/api/v1/sip-trunks")
}

// BenchmarkAPIGetTrunk: GET /api/v1/sip-trunks/{id} (target ≥ 10,000 req/s).
func BenchmarkAPIGetTrunk(b *testing.B) {
	a := newBenchAPI(b, 100)
	a.run(b, "/api/v1/sip-trunks/"+a.trunkID)
}

// BenchmarkAPIGetOrganization: GET /api/v1/organization (target ≥ 10,000 req/s).
func BenchmarkAPIGetOrganization(b *testing.B) {
	newBenchAPI(b, 100).run(b, "/api/v1/organization")
}

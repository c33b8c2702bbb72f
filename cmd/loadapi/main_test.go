package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeAPI answers the trunk list and creation like sipbridge, with the key "sb_k".
func fakeAPI(t *testing.T) (*httptest.Server, func() int) {
	var mu sync.Mutex
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sb_k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/sip-trunks":
			ids = append(ids, fmt.Sprintf("id-%d", len(ids)))
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]string{"id": ids[len(ids)-1]})
		case r.URL.Path == "/api/v1/sip-trunks":
			w.Header().Set("X-Total-Count", fmt.Sprint(len(ids)))
			out := []map[string]string{}
			for _, id := range ids[:min(len(ids), 1)] {
				out = append(out, map[string]string{"id": id})
			}
			json.NewEncoder(w).Encode(out)
		case r.URL.Path == "/api/v1/sip-trunks/id-0":
			w.Write([]byte(`{}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return len(ids) }
}

func TestSeedAndLoad(t *testing.T) {
	srv, count := fakeAPI(t)
	var out, errOut bytes.Buffer
	args := []string{"-url", srv.URL, "-key", "sb_k", "-trunks", "5", "-c", "2", "-d", "100ms", "-warmup", "0",
		"-paths", "/api/v1/sip-trunks,/api/v1/sip-trunks/{trunk}"}
	if code := run(args, func(string) string { return "" }, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	if count() != 5 {
		t.Fatalf("%d trunks created, want 5", count())
	}
	for _, want := range []string{"/api/v1/sip-trunks ", "/api/v1/sip-trunks/{trunk} "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no line for %q:\n%s", want, out.String())
		}
	}
	// Seeding again creates nothing; a path answering 404 is an error (exit 1).
	out.Reset()
	args = []string{"-url", srv.URL, "-key", "sb_k", "-trunks", "5", "-c", "1", "-d", "50ms", "-warmup", "0", "-paths", "/missing"}
	if code := run(args, func(string) string { return "" }, &out, &errOut); code != 1 || count() != 5 || !strings.Contains(out.String(), "status 404") {
		t.Fatalf("exit %d, %d trunks: %s", code, count(), out.String())
	}
	if code := run([]string{"-url", srv.URL}, func(string) string { return "" }, &out, &errOut); code != 2 {
		t.Fatalf("no key: exit %d", code)
	}
}

package changes_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/db/dbtest"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// The cache serves an entry while its tables are unchanged, never past a
// bump, never what was read before a bump, and keeps at most its cap.
func TestCache(t *testing.T) {
	f, err := changes.Register(dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	c := changes.NewCache[string](f, 2, changes.Trunks)
	_, st, valid, ok := c.Get("1/a")
	if !valid || ok {
		t.Fatalf("empty cache: valid %v, hit %v", valid, ok)
	}
	c.Put("1/a", st, "A")
	if v, _, _, ok := c.Get("1/a"); !ok || v != "A" {
		t.Fatalf("got %q, %v; want A", v, ok)
	}
	if _, _, _, ok := c.Get("2/a"); ok {
		t.Fatal("another key was served the entry")
	}
	f.Bump(changes.Organizations)
	if _, _, _, ok := c.Get("1/a"); !ok {
		t.Fatal("a write to another table dropped the entry")
	}
	f.Bump(changes.Trunks)
	if _, _, _, ok := c.Get("1/a"); ok {
		t.Fatal("served after its table was bumped")
	}
	_, st, _, _ = c.Get("1/a")
	f.BumpAll()
	c.Put("1/a", st, "stale") // read before the bump
	if _, _, _, ok := c.Get("1/a"); ok {
		t.Fatal("kept what was read before a bump")
	}
	_, st, _, _ = c.Get("x")
	for _, k := range []string{"x", "y", "z"} {
		c.Put(k, st, k)
	}
	if c.Len() > 2 {
		t.Fatalf("%d entries, cap 2", c.Len())
	}
	var none *changes.Cache[string]
	if _, _, valid, _ := none.Get("x"); valid {
		t.Fatal("a nil cache is valid")
	}
}

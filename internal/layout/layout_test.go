package layout

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowed lists the offenders other work is still fixing. An entry ending in
// "/" covers a directory's files, functions and the package itself; any other
// entry is a Violation key. Remove an entry when its work lands: the test then
// keeps the limit from coming back.
var allowed = map[string]string{}

// unallowed returns the violations no allow-list entry covers, and the
// entries that covered nothing.
func unallowed(vs []Violation, allow map[string]string) (bad []Violation, stale []string) {
	used := map[string]bool{}
	for _, v := range vs {
		hit := ""
		for k := range allow {
			if k == v.Key || (strings.HasSuffix(k, "/") && strings.HasPrefix(v.Key+"/", k)) {
				hit = k
				break
			}
		}
		if hit == "" {
			bad = append(bad, v)
			continue
		}
		used[hit] = true
	}
	for k := range allow {
		if !used[k] {
			stale = append(stale, k)
		}
	}
	return bad, stale
}

func TestModuleWithinLimits(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	vs, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	bad, stale := unallowed(vs, allowed)
	for _, v := range bad {
		t.Errorf("over the limit: %s", v)
	}
	for _, k := range stale {
		t.Logf("allow-list entry %q matches nothing any more: remove it", k)
	}
}

// writeLines writes a Go file of exactly n lines whose body is a function of
// fn lines (0: no function).
func writeLines(t *testing.T, path string, n, fn int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("package p\n")
	lines := 1
	if fn > 0 {
		b.WriteString("func long() {\n")
		for i := 0; i < fn-2; i++ {
			fmt.Fprintf(&b, "\t_ = %d\n", i)
		}
		b.WriteString("}\n")
		lines += fn
	}
	for ; lines < n; lines++ {
		b.WriteString("// filler\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckNamesEveryOffender(t *testing.T) {
	root := t.TempDir()
	writeLines(t, filepath.Join(root, "big", "big.go"), 601, 81)      // file and function over
	writeLines(t, filepath.Join(root, "ok", "edge.go"), 600, 80)      // exactly at both limits
	writeLines(t, filepath.Join(root, "ok", "edge_test.go"), 5000, 0) // test files do not count
	writeLines(t, filepath.Join(root, "ok", "testdata", "x.go"), 900, 0)
	for i := 0; i < 6; i++ { // 6 × 501 = 3,006 lines, each file under 600
		writeLines(t, filepath.Join(root, "wide", fmt.Sprintf("f%d.go", i)), 501, 0)
	}
	lit := "package p\n\nvar f = func() {\n" + strings.Repeat("\t_ = 1\n", 79) + "}\n" // an 81-line literal
	if err := os.WriteFile(filepath.Join(root, "ok", "lit.go"), []byte(lit), 0o644); err != nil {
		t.Fatal(err)
	}

	vs, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.String())
	}
	want := []string{
		"file big/big.go has 601 lines, limit 600",
		"func big/big.go:long (line 2) has 81 lines, limit 80",
		"func ok/lit.go:init.func1 (line 3) has 81 lines, limit 80",
		"package wide has 3006 lines, limit 3000",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The module test fails on them unless an entry covers them.
	bad, _ := unallowed(vs, allowed)
	if len(bad) != len(want) {
		t.Fatalf("the allow-list hides synthetic offenders: %v", bad)
	}
	bad, stale := unallowed(vs, map[string]string{"big/": "", "wide/": "", "ok/lit.go:init.func1": "", "gone/": ""})
	if len(bad) != 0 || len(stale) != 1 || stale[0] != "gone/" {
		t.Fatalf("allow-list matching: bad %v, stale %v", bad, stale)
	}
}

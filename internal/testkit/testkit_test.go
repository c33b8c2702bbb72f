package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeT records what a helper reports instead of failing the real test.
type fakeT struct {
	testing.TB
	failed []string
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Name() string { return "TestX" }
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = append(f.failed, fmt.Sprintf(format, args...))
}
func (f *fakeT) Errorf(format string, args ...any) {
	f.failed = append(f.failed, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatal(args ...any) { f.failed = append(f.failed, fmt.Sprint(args...)) }

func TestUntil(t *testing.T) {
	start := time.Now()
	n := 0
	if !Until(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("Until stopped after %d calls", n)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("three polls took %v", d)
	}
	start = time.Now()
	if Until(60*time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition that never holds was met")
	}
	if d := time.Since(start); d < 60*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("a 60ms deadline returned after %v", d)
	}
}

func TestEventuallyNamesWhatItAwaited(t *testing.T) {
	f := &fakeT{}
	Eventually(f, 20*time.Millisecond, "the trunk to register", func() bool { return false }, func() string { return "state NOREG" })
	if len(f.failed) != 1 || f.failed[0] != "timed out after 20ms waiting for the trunk to register; state NOREG" {
		t.Fatalf("failure %q", f.failed)
	}
	f = &fakeT{}
	Eventually(f, time.Second, "x", func() bool { return true }, nil)
	if len(f.failed) != 0 {
		t.Fatalf("a condition that holds failed: %q", f.failed)
	}
}

func TestGolden(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("testdata/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "sub", "a.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeT{}
	Golden(f, "sub/a.txt", []byte("hello\n"))
	if len(f.failed) != 0 {
		t.Fatalf("equal content failed: %q", f.failed)
	}
	Golden(f, "sub/a.txt", []byte("world\n"))
	if len(f.failed) != 1 || !strings.Contains(f.failed[0], "-update rewrites it") || !strings.Contains(f.failed[0], "world") {
		t.Fatalf("a difference reported %q", f.failed)
	}
	f = &fakeT{}
	Golden(f, "missing.txt", nil)
	if len(f.failed) != 1 || !strings.Contains(f.failed[0], "-update to write it") {
		t.Fatalf("a missing file reported %q", f.failed)
	}

	*update = true
	defer func() { *update = false }()
	f = &fakeT{}
	Golden(f, "new/b.txt", []byte("written"))
	if b, err := os.ReadFile("testdata/new/b.txt"); err != nil || string(b) != "written" || len(f.failed) != 0 {
		t.Fatalf("-update wrote %q, %v, %q", b, err, f.failed)
	}
}

func TestClockStandsStillUntilAdvanced(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now %v, want %v", c.Now(), start)
	}
	time.Sleep(2 * time.Millisecond)
	if !c.Now().Equal(start) {
		t.Fatal("the clock moved by itself")
	}
	c.Advance(1500 * time.Millisecond)
	if got := c.Now().Sub(start); got != 1500*time.Millisecond {
		t.Fatalf("advanced by %v, want 1.5s", got)
	}
}

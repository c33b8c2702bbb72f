package e2e

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The suite's shared state: one FreeSWITCH and one sipbridge binary per
// `go test` run, both started on first use and stopped by TestMain.
var suite struct {
	skip string // why every e2e test skips ("" = they run)
	root string // the module root
	fs   string // the folder holding fs.sh and the FreeSWITCH bundle
	tmp  string // the run's temp folder

	swOnce sync.Once
	sw     *Switch
	swErr  error

	binOnce sync.Once
	bin     string
	binErr  error
}

// keepTemp keeps the run's temp folder (conf copy, logs, databases) for a
// look after the run: SIPBRIDGE_E2E_KEEP=1.
var keepTemp = os.Getenv("SIPBRIDGE_E2E_KEEP") != ""

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	suite.skip = prerequisites()
	if suite.skip != "" {
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "sipbridge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	suite.tmp = tmp
	code := m.Run()
	if suite.sw != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "e2e: tail of %s:\n%s\n", suite.sw.LogPath(), LogExcerpt(suite.sw.LogSince(Mark{}), 60))
		}
		stopping := time.Now()
		if err := suite.sw.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping FreeSWITCH:", err)
		} else if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "e2e: FreeSWITCH stopped in %v\n", time.Since(stopping).Round(time.Millisecond))
		}
	}
	if keepTemp || code != 0 && os.Getenv("CI") == "" {
		fmt.Fprintf(os.Stderr, "e2e: run folder kept: %s\n", tmp)
	} else {
		os.RemoveAll(tmp)
	}
	return code
}

// prerequisites returns why the suite cannot run here, in one line saying
// what to install, or "".
func prerequisites() string {
	root, err := moduleRoot()
	if err != nil {
		return "e2e: " + err.Error()
	}
	suite.root = root
	dir := os.Getenv("SIPBRIDGE_FS_DIR")
	if dir == "" {
		dir = filepath.Join(root, "..", "shared", "freeswitch")
	}
	suite.fs = filepath.Clean(dir)
	if _, err := os.Stat(filepath.Join(suite.fs, "fs.sh")); err != nil {
		return fmt.Sprintf("e2e: FreeSWITCH bundle not found at %s: put the shared folder beside the repository (../shared/freeswitch) or set SIPBRIDGE_FS_DIR", suite.fs)
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "e2e: the FreeSWITCH bundle runs on linux/amd64 only"
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		return "e2e: sipp not found: apt-get install sip-tester"
	}
	return ""
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/sipbridge/sipbridge\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root (go.mod of github.com/sipbridge/sipbridge) not found above the working directory")
		}
		dir = parent
	}
}

// dieWithTest makes a child process (FreeSWITCH, sipbridge, sipp) get
// SIGKILL when the test binary dies without cleaning up (a panic, the -timeout,
// a closed pipe), so nothing outlives the run holding its ports.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// requireSuite skips the test when the suite cannot run here (one line
// saying what to install).
func requireSuite(t testing.TB) {
	t.Helper()
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
}

// sharedSwitch returns the run's FreeSWITCH, starting it on first use.
func sharedSwitch(t testing.TB) *Switch {
	t.Helper()
	requireSuite(t)
	suite.swOnce.Do(func() {
		go buildSipbridge() // meanwhile
		suite.sw, suite.swErr = StartSwitch(filepath.Join(suite.tmp, "freeswitch"))
		if suite.swErr != nil && suite.sw != nil {
			suite.swErr = fmt.Errorf("%w\ntail of %s:\n%s", suite.swErr, suite.sw.LogPath(), suite.sw.LogTail(40))
		}
	})
	if suite.swErr != nil {
		t.Fatalf("e2e: FreeSWITCH did not start: %v", suite.swErr)
	}
	return suite.sw
}

// sipbridgeBinary builds ./cmd/sipbridge once per run.
func sipbridgeBinary(t testing.TB) string {
	t.Helper()
	requireSuite(t)
	buildSipbridge()
	if suite.binErr != nil {
		t.Fatal(suite.binErr)
	}
	return suite.bin
}

func buildSipbridge() {
	suite.binOnce.Do(func() {
		bin := filepath.Join(suite.tmp, "sipbridge")
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/sipbridge")
		cmd.Dir = suite.root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			suite.binErr = fmt.Errorf("go build ./cmd/sipbridge: %v\n%s", err, out)
			return
		}
		suite.bin = bin
	})
}

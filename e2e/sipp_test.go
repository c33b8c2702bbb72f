package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

// SippOptions describe one sipp run. Scenarios are testdata/<name>.xml,
// executed as Go text/template with Data (sipp's own [keywords] pass
// through untouched); testdata/common.tmpl holds shared blocks (the INVITE).
type SippOptions struct {
	Scenario string // testdata file, e.g. "registrar.xml"
	Data     any    // the template's data
	IP       string // local address (-i), default 127.0.0.1; any 127.x.y.z works on Linux
	// Remote is host:port of the peer for a UAC ("" for a UAS).
	Remote  string
	Calls   int           // -m: stop after this many calls (0 = run until stopped)
	Timeout time.Duration // -timeout: sipp quits after it (default 30 s)
	// Vars are sipp -set variables ([$name] in the scenario).
	Vars map[string]string
	Args []string // anything else
}

// Sipp is a running sipp process on its own ports, messages traced.
type Sipp struct {
	Name      string
	IP        string
	Port      int // SIP (UDP)
	MediaPort int // RTP
	Dir       string

	cmd    *exec.Cmd
	exited chan struct{}
	code   int
}

var sippSeq atomic.Int64

// StartSipp starts sipp in the background. It is stopped (SIGINT, then
// SIGKILL) when t ends, and on failure its unexpected messages and the tail
// of its message trace are printed.
func StartSipp(t testing.TB, o SippOptions) *Sipp {
	t.Helper()
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	name := strings.TrimSuffix(o.Scenario, ".xml")
	s := &Sipp{Name: name, IP: o.IP, Dir: filepath.Join(suite.tmp, "sipp", fmt.Sprintf("%03d-%s", sippSeq.Add(1), name))}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New(o.Scenario).ParseFiles(filepath.Join("testdata", o.Scenario), filepath.Join("testdata", "common.tmpl"))
	if err != nil {
		t.Fatalf("sipp scenario %s: %v", o.Scenario, err)
	}
	var xml bytes.Buffer
	if err := tmpl.Execute(&xml, o.Data); err != nil {
		t.Fatalf("sipp scenario %s: %v", o.Scenario, err)
	}
	sf := filepath.Join(s.Dir, o.Scenario)
	if err := os.WriteFile(sf, xml.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ports, err := freeUDPPorts(2)
	if err != nil {
		t.Fatal(err)
	}
	s.Port, s.MediaPort = ports[0], ports[1]
	args := []string{"-sf", sf, "-i", o.IP, "-p", strconv.Itoa(s.Port), "-mp", strconv.Itoa(s.MediaPort),
		"-nostdin", "-timeout", strconv.Itoa(int(o.Timeout.Seconds()+0.5)) + "s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(s.Dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(s.Dir, "messages.log"),
		"-deadcall_wait", "0"}
	if o.Calls > 0 {
		args = append(args, "-m", strconv.Itoa(o.Calls))
	}
	for k, v := range o.Vars {
		args = append(args, "-set", k, v)
	}
	args = append(args, o.Args...)
	if o.Remote != "" {
		args = append(args, o.Remote)
	}
	cmd := exec.Command("sipp", args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = dieWithTest()
	out, err := os.Create(filepath.Join(s.Dir, "screen.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("sipp: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		err := cmd.Wait()
		out.Close()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			s.code = ee.ExitCode()
		default:
			s.code = -1
		}
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sipp %s (%s:%d, exit %d): %s", s.Name, s.IP, s.Port, s.code, s.Report())
		}
	})
	// A UAS must be listening before anyone sends to it.
	if o.Remote == "" {
		testkit.Eventually(t, 5*time.Second, "sipp "+name+" listening on "+o.IP+":"+strconv.Itoa(s.Port), func() bool {
			select {
			case <-s.exited:
				t.Fatalf("sipp %s exited at once (%d): %s", name, s.code, s.Report())
			default:
			}
			return udpBound(o.IP, s.Port)
		}, nil)
	}
	return s
}

// RunSipp runs a sipp UAC to its end and fails the test unless every call
// succeeded (exit 0).
func RunSipp(t testing.TB, o SippOptions) *Sipp {
	t.Helper()
	s := StartSipp(t, o)
	if code := s.Wait(t, o.Timeout+10*time.Second); code != 0 {
		t.Fatalf("sipp %s exited with %d (%s): %s", s.Name, code, sippExit(code), s.Report())
	}
	return s
}

// Wait waits for sipp to exit and returns its exit code: 0 every call
// succeeded, 1 some failed, 97 stopped by a command, 99 no call, 255 fatal.
func (s *Sipp) Wait(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-s.exited:
		return s.code
	case <-time.After(within):
		s.Stop()
		t.Fatalf("sipp %s still running after %v: %s", s.Name, within, s.Report())
		return -1
	}
}

// Done is closed when sipp has exited.
func (s *Sipp) Done() <-chan struct{} { return s.exited }

// Stop ends sipp (SIGINT, SIGKILL after 3 s).
func (s *Sipp) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Errors returns sipp's unexpected-message trace (-trace_err).
func (s *Sipp) Errors() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "errors.log"))
	return string(b)
}

// Messages returns every SIP message sipp sent and received (-trace_msg).
func (s *Sipp) Messages() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "messages.log"))
	return string(b)
}

// Received returns the SIP messages sipp received whose first line
// contains first (e.g. "REGISTER " or "SIP/2.0 403"). The trace reads:
//
//	----------------------------------------------- <time>
//	UDP message received [596] bytes :
//
//	REGISTER sip:…
func (s *Sipp) Received(first string) []string {
	var out []string
	for _, block := range strings.Split(s.Messages(), "-----------------------------------------------") {
		head, msg, ok := strings.Cut(block, " bytes :\n")
		if !ok || !strings.Contains(head, "message received") {
			continue
		}
		msg = strings.TrimLeft(msg, "\r\n")
		if line, _, _ := strings.Cut(msg, "\n"); strings.Contains(line, first) {
			out = append(out, msg)
		}
	}
	return out
}

// Report is what to print when a test fails: sipp's errors and the last
// messages it traced.
func (s *Sipp) Report() string {
	screen, _ := os.ReadFile(filepath.Join(s.Dir, "screen.log"))
	return fmt.Sprintf("folder %s\nerrors:\n%s\nlast messages:\n%s\nscreen:\n%s", s.Dir, tailLines(s.Errors(), 30),
		tailLines(s.Messages(), 60), tailLines(string(screen), 10))
}

func sippExit(code int) string {
	switch code {
	case 0:
		return "every call succeeded"
	case 1:
		return "some calls failed"
	case 97:
		return "stopped by an internal command"
	case 99:
		return "no call processed"
	case 255, -1:
		return "fatal error"
	case 254, -2:
		return "could not bind"
	}
	return "unknown"
}

// udpBound reports whether something holds UDP ip:port.
func udpBound(ip string, port int) bool {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return true // cannot tell: assume yes
	}
	want := fmt.Sprintf(":%04X ", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasSuffix(f[1]+" ", want) {
			return true
		}
	}
	return false
}

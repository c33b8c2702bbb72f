package e2e

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

// Switch is a real FreeSWITCH started from a copy of freeswitch/conf whose
// vars.xml gives it ports and a generated-files folder of its own.
type Switch struct {
	Dir         string // everything of this switch: conf/, run/, gen/
	ConfDir     string // the conf copy
	RunDir      string // -base, log/, db/, …
	GenDir      string // sipbridge_gen_dir (FS_GEN_DIR of the sipbridges)
	Bundle      string // the extracted FreeSWITCH: bin/freeswitch, mod/
	ESLAddr     string // 127.0.0.1:port
	ESLPassword string
	SIPPort     int // the external profile (UDP and TCP on 127.0.0.1)
	TLSPort     int // its TLS port (certificates: writeSwitchCerts)
	RTPStart    int
	RTPEnd      int

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	bootFrom int64 // log offset where the current boot began
	bootTo   int64 // log offset once it was up
	esl      *esl.Client
	events   []*esl.Event // recorded events (see recordedEvents)
	eventAt  []time.Time  // when the harness received each of events
	lastConf time.Time    // when the last gateway or ACL command ran
}

// recordedEvents are the events the harness keeps: every api command
// FreeSWITCH runs (API: API-Command, API-Command-Argument), gateway
// lifecycle, channel lifecycle (the park included: the moment sipbridge is
// handed a call) and the keys received (DTMF).
var recordedEvents = []string{"API", "CHANNEL_CREATE", "CHANNEL_PARK", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "DTMF",
	"sofia::gateway_add", "sofia::gateway_delete", "sofia::gateway_state"}

// StartSwitch copies freeswitch/conf into dir/conf, rewrites vars.xml with
// free ports and dir/gen, and starts FreeSWITCH on it.
func StartSwitch(dir string) (*Switch, error) { return StartSwitchWith(dir, nil) }

// StartSwitchWith is StartSwitch with more vars.xml values set (e.g. the
// configuration source).
func StartSwitchWith(dir string, more map[string]string) (*Switch, error) {
	bundle, err := exec.Command(filepath.Join(suite.fs, "fs.sh"), "path").Output()
	if err != nil {
		return nil, fmt.Errorf("fs.sh path: %w", err)
	}
	sw := &Switch{Dir: dir, ConfDir: filepath.Join(dir, "conf"), RunDir: filepath.Join(dir, "run"), GenDir: filepath.Join(dir, "gen"),
		Bundle: strings.TrimSpace(string(bundle)), ESLPassword: "ClueCon"}
	if err := os.CopyFS(sw.ConfDir, os.DirFS(filepath.Join(suite.root, "freeswitch", "conf"))); err != nil {
		return nil, err
	}
	for _, d := range []string{"gateways", "acl", "profile"} {
		if err := os.MkdirAll(filepath.Join(sw.GenDir, d), 0o755); err != nil {
			return nil, err
		}
	}
	eslPort, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	if sw.SIPPort, err = freeSIPPort(); err != nil {
		return nil, err
	}
	if sw.TLSPort, err = freeTCPPort(); err != nil {
		return nil, err
	}
	if err := writeSwitchCerts(filepath.Join(dir, "tls")); err != nil {
		return nil, err
	}
	ports := rtpPorts()
	if sw.RTPStart, err = freeUDPRange(ports); err != nil {
		return nil, err
	}
	sw.RTPEnd = sw.RTPStart + ports - 2 // even: FreeSWITCH warns and rounds an odd end port
	sw.ESLAddr = "127.0.0.1:" + strconv.Itoa(eslPort)
	vars := map[string]string{
		"sip_port":          strconv.Itoa(sw.SIPPort),
		"rtp_start_port":    strconv.Itoa(sw.RTPStart),
		"rtp_end_port":      strconv.Itoa(sw.RTPEnd),
		"esl_listen_port":   strconv.Itoa(eslPort),
		"esl_password":      sw.ESLPassword,
		"sipbridge_gen_dir": sw.GenDir,
		"tls_sip_port":      strconv.Itoa(sw.TLSPort),
		"tls_cert_dir":      filepath.Join(dir, "tls"), // tls_verify_policy: the shipped out
	}
	maps.Copy(vars, more)
	if err := sw.rewriteVars(vars); err != nil {
		return nil, err
	}
	rec := func(e *esl.Event) {
		sw.mu.Lock()
		sw.events, sw.eventAt = append(sw.events, e), append(sw.eventAt, time.Now())
		if e.Name() == "API" && (e.Get("API-Command") == "reloadacl" || strings.HasPrefix(e.Get("API-Command-Argument"), "profile ")) {
			sw.lastConf = time.Now()
		}
		sw.mu.Unlock()
	}
	sw.esl = esl.New(sw.ESLAddr, sw.ESLPassword, esl.WithEvents(recordedEvents...), esl.WithBackoff(100*time.Millisecond, 500*time.Millisecond))
	sw.esl.OnEvent(rec)
	if err := sw.esl.Start(context.Background()); err != nil {
		return nil, err
	}
	return sw, sw.Start()
}

// rtpPorts is the size of FreeSWITCH's RTP port range: two ports a call,
// 200 (99 calls at once) for the suite, 1200 when TestSetupRate runs
// (SETUP_RATES: 100 calls/s of 3 s hold 300 at once).
func rtpPorts() int {
	if os.Getenv("SETUP_RATES") != "" {
		return 1200
	}
	return 200
}

// rewriteVars sets each `<X-PRE-PROCESS cmd="set" data="name=…"/>` of the
// conf copy's vars.xml; a name that is not there is an error (the conf
// changed under the harness).
func (sw *Switch) rewriteVars(vars map[string]string) error {
	path := filepath.Join(sw.ConfDir, "vars.xml")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for name, val := range vars {
		re := regexp.MustCompile(`(<X-PRE-PROCESS cmd="set" data="` + regexp.QuoteMeta(name) + `=)[^"]*(")`)
		if !re.Match(b) {
			return fmt.Errorf("vars.xml has no %s", name)
		}
		b = re.ReplaceAll(b, []byte("${1}"+strings.ReplaceAll(val, "$", "$$")+"${2}"))
	}
	return os.WriteFile(path, b, 0o644)
}

// Start runs FreeSWITCH with the command line of `fs.sh start` and waits
// until it is up: the Event Socket answers, the core is ready and the
// external profile RUNNING.
func (sw *Switch) Start() error {
	for _, d := range []string{"log", "db", "run", "tmp", "storage", "cache", "recordings", "sounds", "certs"} {
		if err := os.MkdirAll(filepath.Join(sw.RunDir, d), 0o755); err != nil {
			return err
		}
	}
	run := sw.RunDir
	restoreCerts(filepath.Join(run, "certs"))
	cmd := exec.Command(filepath.Join(sw.Bundle, "bin", "freeswitch"), "-nf", "-nc", "-nonat", "-base", run, "-conf", sw.ConfDir,
		"-mod", filepath.Join(sw.Bundle, "mod"), "-log", filepath.Join(run, "log"), "-db", filepath.Join(run, "db"),
		"-run", filepath.Join(run, "run"), "-temp", filepath.Join(run, "tmp"), "-storage", filepath.Join(run, "storage"),
		"-cache", filepath.Join(run, "cache"), "-recordings", filepath.Join(run, "recordings"), "-sounds", filepath.Join(run, "sounds"),
		"-certs", filepath.Join(run, "certs"))
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH=")
	cmd.SysProcAttr = dieWithTest()
	out, err := os.OpenFile(filepath.Join(run, "log", "console.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	sw.mu.Lock()
	sw.bootFrom = sw.logSize()
	sw.mu.Unlock()
	if err := cmd.Start(); err != nil {
		out.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(exited) }()
	sw.mu.Lock()
	sw.cmd, sw.exited = cmd, exited
	sw.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		select {
		case <-exited:
			return fmt.Errorf("FreeSWITCH exited while starting (%v); see %s", cmd.ProcessState, sw.LogPath())
		case <-ctx.Done():
			return fmt.Errorf("FreeSWITCH not up within 30 s; see %s", sw.LogPath())
		case <-time.After(50 * time.Millisecond):
		}
		if !sw.esl.Connected() {
			continue
		}
		st, err := sw.esl.API(ctx, "status")
		if err != nil || !strings.Contains(st, "is ready") {
			continue
		}
		if sofia, err := sw.esl.API(ctx, "sofia status"); err == nil && profileRunning(sofia, "external") {
			sw.mu.Lock()
			sw.bootTo = sw.logSize()
			sw.mu.Unlock()
			saveCerts(filepath.Join(run, "certs"))
			return nil
		}
	}
}

// FreeSWITCH generates its DTLS and WSS keys on a boot that finds none
// (about 4 s of RSA on this machine): the harness keeps the first ones it
// gets (self-signed, loopback tests only) and hands them to later runs.
var certsCache = filepath.Join(os.TempDir(), "sipbridge-e2e-freeswitch-certs")

var certFiles = []string{"dtls-srtp.pem", "wss.pem"}

func restoreCerts(dir string) {
	for _, f := range certFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(certsCache, f)); err == nil {
			os.WriteFile(filepath.Join(dir, f), b, 0o600)
		}
	}
}

func saveCerts(dir string) {
	for _, f := range certFiles {
		if _, err := os.Stat(filepath.Join(certsCache, f)); err == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || os.MkdirAll(certsCache, 0o700) != nil {
			continue
		}
		tmp, err := os.CreateTemp(certsCache, ".tmp-"+f)
		if err != nil {
			continue
		}
		tmp.Write(b)
		tmp.Close()
		os.Rename(tmp.Name(), filepath.Join(certsCache, f))
	}
}

var profileLine = regexp.MustCompile(`(?m)^\s*(\S+)\s+profile\s+\S+\s+(\S+)`)

// profileRunning reads `sofia status`: is the profile listed as RUNNING?
func profileRunning(sofiaStatus, profile string) bool {
	for _, m := range profileLine.FindAllStringSubmatch(sofiaStatus, -1) {
		if m[1] == profile && strings.HasPrefix(m[2], "RUNNING") {
			return true
		}
	}
	return false
}

// Stop shuts FreeSWITCH down with `fsctl shutdown` and waits for the
// process (killed after 20 s).
func (sw *Switch) Stop() error {
	sw.mu.Lock()
	cmd, exited := sw.cmd, sw.exited
	sw.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := sw.esl.API(ctx, "fsctl shutdown")
	cancel()
	if err != nil && !errors.Is(err, esl.ErrClosed) && !errors.Is(err, esl.ErrDisconnected) {
		cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-exited
		return errors.New("FreeSWITCH did not stop within 20 s of fsctl shutdown: killed")
	}
}

// Kill kills FreeSWITCH (SIGKILL: no shutdown, no BYE to anyone) and
// waits for the process.
func (sw *Switch) Kill() error {
	sw.mu.Lock()
	cmd, exited := sw.cmd, sw.exited
	sw.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	<-exited
	return nil
}

// Running reports whether the FreeSWITCH process is alive.
func (sw *Switch) Running() bool {
	sw.mu.Lock()
	exited := sw.exited
	sw.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// API runs an api command over the harness's own Event Socket connection
// (the fsAPI of the suite); an -ERR reply is returned with its error.
func (sw *Switch) API(t testing.TB, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := sw.esl.WaitConnected(ctx); err != nil {
		t.Fatalf("fsAPI %q: Event Socket not connected: %v", cmd, err)
	}
	reply, err := sw.esl.API(ctx, cmd)
	if err != nil && !errors.Is(err, esl.ErrCommand) {
		t.Fatalf("fsAPI %q: %v", cmd, err)
	}
	return reply
}

// GatewayStatus is one gateway of `sofia xmlstatus gateway`, each field as
// FreeSWITCH printed it. Beware: that output is not always XML. FreeSWITCH
// 1.11.1 writes username and to raw (a username "a&b" prints
// <username>a&b</username>) while from and contact are escaped
// (&lt;sip:a&amp;b@…&gt;), so the harness reads it line by line.
type GatewayStatus struct {
	Name     string
	Profile  string
	Realm    string
	Username string // raw
	Password string // yes | no
	From     string // XML-escaped
	To       string // raw
	Proxy    string
	Expires  string
	State    string // REGED, NOREG, FAIL_WAIT, …
	Status   string // UP | DOWN
	CallsIn  int
}

var (
	gatewayBlock = regexp.MustCompile(`(?s)<gateway>(.*?)</gateway>`)
	gatewayField = regexp.MustCompile(`(?m)^\s*<([a-z-]+)>(.*)</([a-z-]+)>\s*$`)
)

// parseGateways reads `sofia xmlstatus gateway [name]` the tolerant way.
func parseGateways(reply string) []GatewayStatus {
	var out []GatewayStatus
	for _, block := range gatewayBlock.FindAllStringSubmatch(reply, -1) {
		f := map[string]string{}
		for _, m := range gatewayField.FindAllStringSubmatch(block[1], -1) {
			if m[1] == m[3] {
				f[m[1]] = m[2]
			}
		}
		out = append(out, GatewayStatus{Name: f["name"], Profile: f["profile"], Realm: f["realm"], Username: f["username"],
			Password: f["password"], From: f["from"], To: f["to"], Proxy: f["proxy"], Expires: f["expires"], State: f["state"],
			Status: f["status"]})
		out[len(out)-1].CallsIn, _ = strconv.Atoi(f["calls-in"])
	}
	return out
}

// Gateways returns every gateway FreeSWITCH has (`sofia xmlstatus gateway`).
func (sw *Switch) Gateways(t testing.TB) []GatewayStatus {
	t.Helper()
	return parseGateways(sw.API(t, "sofia xmlstatus gateway"))
}

// Gateway returns one gateway's status (`sofia xmlstatus gateway <name>`);
// ok is false when FreeSWITCH has no such gateway.
func (sw *Switch) Gateway(t testing.TB, name string) (GatewayStatus, bool) {
	t.Helper()
	gs := parseGateways(sw.API(t, "sofia xmlstatus gateway "+name))
	if len(gs) != 1 || gs[0].Name != name {
		return GatewayStatus{}, false
	}
	return gs[0], true
}

// GatewayParams returns the params of a gateway as FreeSWITCH parsed them
// from its XML (`xml_locate` on sofia.conf), entities decoded: exactly the
// values it uses.
func (sw *Switch) GatewayParams(t testing.TB, name string) (map[string]string, bool) {
	t.Helper()
	reply := sw.API(t, "xml_locate configuration configuration name sofia.conf")
	var doc struct {
		Gateways []struct {
			Name   string `xml:"name,attr"`
			Params []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"param"`
		} `xml:"profiles>profile>gateways>gateway"`
	}
	dec := xml.NewDecoder(strings.NewReader(reply))
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("xml_locate sofia.conf: %v\n%s", err, reply)
	}
	for _, g := range doc.Gateways {
		if g.Name == name {
			out := map[string]string{}
			for _, p := range g.Params {
				out[p.Name] = p.Value
			}
			return out, true
		}
	}
	return nil, false
}

// Channels returns the UUIDs of the live channels (`show channels`).
func (sw *Switch) Channels(t testing.TB) []string {
	t.Helper()
	reply := sw.API(t, "show channels")
	var out []string
	for i, line := range strings.Split(reply, "\n") {
		if i == 0 || line == "" || strings.HasSuffix(line, " total.") {
			continue
		}
		if uuid, _, ok := strings.Cut(line, ","); ok {
			out = append(out, uuid)
		}
	}
	return out
}

// Mark is a point in the switch's history: its log size and event count.
type Mark struct {
	log    int64
	events int
}

// Mark returns the current point, for LogSince and EventsSince.
func (sw *Switch) Mark() Mark {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return Mark{log: sw.logSize(), events: len(sw.events)}
}

// EventsSince returns the recorded events since m whose Event-Name or
// Event-Subclass is name ("" = all).
func (sw *Switch) EventsSince(m Mark, name string) []*esl.Event {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	var out []*esl.Event
	for _, e := range sw.events[min(m.events, len(sw.events)):] {
		if name == "" || e.Name() == name || e.Subclass() == name {
			out = append(out, e)
		}
	}
	return out
}

// receivedEvent is a recorded event and when the harness received it (on
// this machine's clock, to the microsecond: FreeSWITCH's own
// Event-Date-Timestamp moves in steps of its timer's tick, 20 ms when idle).
type receivedEvent struct {
	E  *esl.Event
	At time.Time
}

// ReceivedSince returns the recorded events since m, with when each came.
func (sw *Switch) ReceivedSince(m Mark) []receivedEvent {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	var out []receivedEvent
	for i := min(m.events, len(sw.events)); i < len(sw.events); i++ {
		out = append(out, receivedEvent{sw.events[i], sw.eventAt[i]})
	}
	return out
}

// APICommandsSince returns the api commands FreeSWITCH ran since m (from
// every Event Socket connection, sipbridge's included), as "cmd args",
// those starting with prefix.
func (sw *Switch) APICommandsSince(m Mark, prefix string) []string {
	var out []string
	for _, e := range sw.EventsSince(m, "API") {
		c := strings.TrimSpace(e.Get("API-Command") + " " + e.Get("API-Command-Argument"))
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// WaitQuiet waits until FreeSWITCH has run no gateway or ACL command
// (`sofia profile …`, `reloadacl`) for quiet: sipbridge's trunk sync is idle.
func (sw *Switch) WaitQuiet(t testing.TB, quiet, within time.Duration) {
	t.Helper()
	testkit.Eventually(t, within, fmt.Sprintf("%v without gateway or ACL commands", quiet), func() bool {
		sw.mu.Lock()
		defer sw.mu.Unlock()
		return time.Since(sw.lastConf) >= quiet
	}, nil)
}

// GatewayStates returns the states FreeSWITCH announced for a gateway since
// m (sofia::gateway_state events), with the SIP status when one came, e.g.
// ["TRYING", "REGISTER 200", "REGED"].
func (sw *Switch) GatewayStates(m Mark, gateway string) []string {
	var out []string
	for _, e := range sw.EventsSince(m, "sofia::gateway_state") {
		if e.Get("Gateway") != gateway {
			continue
		}
		st := e.Get("State")
		if code := e.Get("Status"); code != "" {
			st += " " + code
		}
		out = append(out, st)
	}
	return out
}

// LogPath is FreeSWITCH's log file.
func (sw *Switch) LogPath() string { return filepath.Join(sw.RunDir, "log", "freeswitch.log") }

func (sw *Switch) logSize() int64 {
	st, err := os.Stat(sw.LogPath())
	if err != nil {
		return 0
	}
	return st.Size()
}

func (sw *Switch) logRange(from, to int64) string {
	b, err := os.ReadFile(sw.LogPath())
	if err != nil {
		return ""
	}
	if to < 0 || to > int64(len(b)) {
		to = int64(len(b))
	}
	if from > to {
		from = to
	}
	return string(b[from:to])
}

// LogSince returns FreeSWITCH's log written since m.
func (sw *Switch) LogSince(m Mark) string { return sw.logRange(m.log, -1) }

// BootLog returns the log of the current boot, from the start of the
// process until it was up.
func (sw *Switch) BootLog() string {
	sw.mu.Lock()
	from, to := sw.bootFrom, sw.bootTo
	sw.mu.Unlock()
	return sw.logRange(from, to)
}

// aclNoise are the lines every reloadacl and rescan logs for each ACL list
// (dozens): left out of the log excerpts printed on failure.
var aclNoise = regexp.MustCompile(`(?m)^.*(switch_utils\.c:\d+ Adding .* to list |switch_core\.c:\d+ Created ip list |switch_core\.c:\d+ Adding .* to list ).*\n`)

// LogExcerpt is the last n lines of a log excerpt without the ACL noise.
func LogExcerpt(log string, n int) string { return tailLines(aclNoise.ReplaceAllString(log, ""), n) }

// LogTail returns the last n lines of FreeSWITCH's log.
func (sw *Switch) LogTail(n int) string { return tailLines(sw.logRange(0, -1), n) }

var errLine = regexp.MustCompile(`(?m)^.*\[(CRIT|ERR|ALERT)\].*$`)

// ErrorLines returns the [CRIT], [ALERT] and [ERR] lines of a log excerpt.
func ErrorLines(log string) []string { return errLine.FindAllString(log, -1) }

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Free ports on 127.0.0.1, picked at run time so runs never collide with a
// developer's switch (8021/5080) or with each other.

func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freeUDPPort returns a UDP port free on 127.0.0.1.
func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// freeSIPPort returns a port free for both UDP and TCP (sofia binds both).
func freeSIPPort() (int, error) {
	for range 50 {
		p, err := freeUDPPort()
		if err != nil {
			return 0, err
		}
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			ln.Close()
			return p, nil
		}
	}
	return 0, errors.New("no port free for both UDP and TCP")
}

// freeUDPRange returns the first port of n consecutive UDP ports that are
// free now (even, as RTP ranges go), below Linux's ephemeral ports (32768+)
// so that the sipp peers' ports never fall inside it.
func freeUDPRange(n int) (int, error) {
	for range 50 {
		base := 20000 + 2*rand.IntN(6000)
		if base+n > 32768 {
			continue
		}
		ok := true
		var held []net.PacketConn
		for p := base; p < base+n; p++ {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no free UDP port range")
}

// freeUDPPorts returns n distinct free UDP ports (sipp signalling and media).
func freeUDPPorts(n int) ([]int, error) {
	var held []net.PacketConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var out []int
	for len(out) < n {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, c)
		out = append(out, c.LocalAddr().(*net.UDPAddr).Port)
	}
	return out, nil
}

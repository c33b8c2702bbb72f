package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() { addScenario(scenario{"sip_front", testSIPFront}) }

// The SIP front scenario's addresses: Kamailio, the carrier behind it, a
// sender no trunk allows, and a PBX that writes the front's header itself.
const (
	srcFront        = "127.0.0.95"
	srcFrontCarrier = "127.0.0.96"
	srcFrontUnknown = "127.0.0.97"
	srcFrontSpoofer = "127.0.0.98"
)

// Kamailio is the repo's docker/kamailio/kamailio.cfg run by Debian's
// kamailio in the foreground, as the test's user, on a loopback address.
type Kamailio struct {
	Addr    string // ip:port (UDP)
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// kamailioBinary is the installed kamailio ("" when there is none).
func kamailioBinary() string {
	if p, err := exec.LookPath("kamailio"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/kamailio"); err == nil {
		return "/usr/sbin/kamailio"
	}
	return ""
}

// StartKamailio starts Kamailio on ip with the dispatcher list given; it is
// stopped when t ends.
func StartKamailio(t testing.TB, bin, ip, dispatcherList string) *Kamailio {
	t.Helper()
	dir := t.TempDir()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	list := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(list, []byte(dispatcherList), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &Kamailio{Addr: ip + ":" + strconv.Itoa(port), logPath: filepath.Join(dir, "kamailio.log"), exited: make(chan struct{})}
	logf, err := os.Create(k.logPath)
	if err != nil {
		t.Fatal(err)
	}
	// -DD -E: foreground, log to stderr; -Y/-P/-w: a runtime folder of its
	// own (no /run/kamailio, no root); small memory pools.
	k.cmd = exec.Command(bin, "-DD", "-E", "-f", filepath.Join(suite.root, "docker", "kamailio", "kamailio.cfg"),
		"-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-w", dir, "-m", "32", "-M", "4",
		"-A", "LISTEN=udp:"+k.Addr, "-A", `DISPATCHER_LIST="`+list+`"`, "-A", "PROBE_INTERVAL=1")
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	k.cmd.SysProcAttr = dieWithTest()
	if err := k.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("kamailio: %v", err)
	}
	go func() { k.cmd.Wait(); logf.Close(); close(k.exited) }()
	t.Cleanup(func() {
		k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(10 * time.Second):
			k.cmd.Process.Kill()
			<-k.exited
		}
		if t.Failed() {
			t.Logf("kamailio log (last 40 lines):\n%s", k.LogTail(40))
		}
	})
	testkit.Eventually(t, 10*time.Second, "kamailio listening on "+k.Addr, func() bool {
		select {
		case <-k.exited:
			t.Fatalf("kamailio exited: %v\n%s", k.cmd.ProcessState, k.LogTail(30))
		default:
		}
		return udpBound(ip, port)
	}, func() string { return k.LogTail(10) })
	return k
}

// LogTail is the end of Kamailio's log.
func (k *Kamailio) LogTail(n int) string {
	b, _ := os.ReadFile(k.logPath)
	return tailLines(string(b), n)
}

// testSIPFront: carriers send to Kamailio (the repo's config, its
// dispatcher list from `sipbridge render-dispatcher`), and sipbridge,
// trusting Kamailio (SIP_PROXIES), identifies each call by the carrier's own
// address from the front's header. The carrier's call is its IP-auth
// trunk's, answered, and the assistant hears its audio; the record and the
// timeline show the trunk and both addresses. A sender no trunk allows is
// refused through the same front, the refusal naming its address. A PBX
// writing the header itself straight to FreeSWITCH is taken for what its
// own address says, never for the trunk the header names. A node that never
// answers is in the dispatcher list: calls still get through (the probes
// take it out of rotation, or the failure route moves on from it).
func testSIPFront(t *testing.T, b *Bridge) {
	bin := kamailioBinary()
	if bin == "" {
		t.Skip("kamailio is not installed (Debian package kamailio): the SIP front scenario needs it")
	}
	requireRawSocket(t)
	sw := b.SW
	// A node that never answers is in the list: the dispatcher must take
	// it out of rotation or fail over from it (round robin sends a call to
	// it first until its probes fail).
	dead, err := net.ListenPacket("udp", srcFront+":0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	saved := b.Env
	b.Env = append(slices.Clone(saved), "SIP_PROXIES="+srcFront,
		"FS_NODES=fs1="+sw.ESLAddr+";sip="+sw.remote()+",dead="+srcFront+":8021;sip="+deadAddr)
	t.Cleanup(func() {
		// The scenario's trunks are gone; their removal applied before the
		// restart puts the bridge back as it was.
		sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
		b.Env = saved
		b.Restart(t)
	})
	b.Restart(t)
	testkit.Eventually(t, 15*time.Second, "FreeSWITCH's proxy list holding Kamailio", func() bool {
		return strings.TrimSpace(sw.API(t, "acl "+srcFront+" sipbridge_proxies")) == "true"
	}, nil)
	list := b.Run(t, "render-dispatcher")
	if !strings.Contains(list, "1 sip:"+sw.remote()+" 0 2 duid=fs1\n1 sip:"+deadAddr+" 0 1 duid=dead\n") {
		t.Fatalf("render-dispatcher:\n%s", list)
	}
	kam := StartKamailio(t, bin, srcFront, list)

	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Front Desk", asst, nil)
	// The dead node is in FS_NODES too, so sipbridge controls it as well:
	// its trunks can never be applied there, so the trunks are awaited on
	// fs1 (the aggregate says the dead node's error).
	frontTrunk := func(name, src string) Trunk {
		tr := b.CreateTrunk(t, map[string]any{"name": name, "gateway": src + ":5060", "register": false, "allowed_addresses": []string{src + "/32"}})
		return b.WaitTrunk(t, tr.ID, "applied on fs1", 10*time.Second, func(tr Trunk) bool {
			return len(tr.Nodes) == 2 && tr.Nodes[0].Node == "fs1" && tr.Nodes[0].SyncStatus.State == "applied" &&
				tr.SyncStatus.State == "error" && strings.HasPrefix(tr.SyncStatus.Message, "node dead: ")
		})
	}
	carrier := frontTrunk("Front Carrier", srcFrontCarrier)
	pbx := frontTrunk("Front Spoofer", srcFrontSpoofer)
	const number = "+16478497000"
	b.addNumberOn(t, number, asstID, carrier.ID)
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	mark := b.LogMark()

	// The carrier through Kamailio, with a copy of the header of its own
	// (Kamailio drops it and writes the true one).
	track := newRTPTrack().Tone(callerTone, 2*time.Second)
	c := toUser("+14165550951", number, "X-Sipbridge-Source: "+srcFrontSpoofer)
	c.PCAP, c.HoldMs, c.RecordRoute = writeTrack(t, "front-tone.pcap", track), 2500, true
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcFrontCarrier, Remote: kam.Addr, Calls: 1, Timeout: 20 * time.Second, Data: c})
	ac := asst.ByParam(t, "from", "+14165550951", 10*time.Second)
	testkit.Eventually(t, 5*time.Second, "caller audio frames at the assistant", func() bool { return ac.Frames() >= 25 }, nil)
	if code := uac.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("the carrier's call through Kamailio: sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	rec := b.waitRecord(t, "the carrier's record", 10*time.Second, func(r CallRecord) bool { return r.From == "+14165550951" && r.EndedAt != nil })
	if rec.Status != "completed" || rec.TrunkID == nil || *rec.TrunkID != carrier.ID {
		t.Errorf("the carrier's call: status %s trunk %s, want completed on %s (%s)", rec.Status, deref(rec.TrunkID), carrier.ID, carrier.GatewayName)
	}
	routed, _ := findEvent(b.callEvents(t, rec.ID), "routed")
	if got, want := fmt.Sprint(routed.Detail["source"]), srcFrontCarrier+" via proxy "+srcFront; got != want {
		t.Errorf("routed event source %q, want %q", got, want)
	}

	// A sender no trunk allows, through the same front: 403, its own
	// address named.
	refused := StartSipp(t, SippOptions{Scenario: "uac-refused.xml", IP: srcFrontUnknown, Remote: kam.Addr, Calls: 1,
		Timeout: 15 * time.Second, Data: call{From: "+14165550952", To: number, Code: 403}})
	if code := refused.Wait(t, 20*time.Second); code != 0 {
		t.Errorf("the unknown sender: sipp did not get 403 (exit %d, %s): %s", code, sippExit(code), refused.Report())
	}
	testkit.Eventually(t, 5*time.Second, "the refusal naming the sender", func() bool {
		for _, e := range b.LogSince(mark, "inbound call refused") {
			if e.Str("detail") == "source "+srcFrontUnknown+" via proxy "+srcFront {
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprint(b.LogSince(mark, "inbound call refused")) })

	// The header straight to FreeSWITCH from a PBX that is not the front:
	// ignored, the call is the PBX's own trunk's.
	s := toUser("+14165550953", number, "X-Sipbridge-Source: "+srcFrontCarrier)
	spoof := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcFrontSpoofer, Remote: sw.remote(), Calls: 1, Timeout: 20 * time.Second, Data: s})
	if code := spoof.Wait(t, 20*time.Second); code != 0 {
		t.Errorf("the PBX's call: sipp exited %d (%s): %s", code, sippExit(code), spoof.Report())
	}
	rec = b.waitRecord(t, "the PBX's record", 10*time.Second, func(r CallRecord) bool { return r.From == "+14165550953" && r.EndedAt != nil })
	if rec.TrunkID == nil || *rec.TrunkID != pbx.ID {
		t.Errorf("a header sent straight to FreeSWITCH moved the call to trunk %s; want the sender's own %s", deref(rec.TrunkID), pbx.ID)
	}
	routed, _ = findEvent(b.callEvents(t, rec.ID), "routed")
	if got := fmt.Sprint(routed.Detail["source"]); got != srcFrontSpoofer {
		t.Errorf("the PBX's routed source %q, want %q", got, srcFrontSpoofer)
	}
}

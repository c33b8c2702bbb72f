package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

// registrar starts a sipp carrier answering REGISTER with reply.
func registrar(t *testing.T, reply string) *Sipp {
	t.Helper()
	return StartSipp(t, SippOptions{Scenario: "registrar.xml", Data: map[string]any{"Reply": reply}, Timeout: 120 * time.Second})
}

// call is the data of the uac-* scenarios.
type call struct {
	From, To string
	Headers  []string
	HoldMs   int
	Code     int    // uac-refused: the expected final status
	RTP      string // uac-wait-bye: a raw PCMU file streamed in a loop once answered
}

// remote is the switch's SIP address, for a UAC.
func (sw *Switch) remote() string { return fmt.Sprintf("127.0.0.1:%d", sw.SIPPort) }

// testRegistration: a registration trunk pointed at a carrier that accepts
// its REGISTER is REGED in the API within 5 s, with the carrier having seen
// the trunk's username.
func testRegistration(t *testing.T, b *Bridge) {
	reg := registrar(t, "200 OK")
	created := time.Now()
	tr := b.CreateTrunk(t, map[string]any{"name": "Carrier Reg", "gateway": fmt.Sprintf("127.0.0.1:%d", reg.Port),
		"username": "e2euser", "password": "s3cret", "expire_seconds": 60, "retry_seconds": 5})
	if tr.GatewayName != "o1_carrier_reg" || !tr.Register {
		t.Fatalf("created %+v", tr)
	}
	tr = b.WaitTrunk(t, tr.ID, "gateway_state REGED", 5*time.Second, func(tr Trunk) bool { return tr.GatewayState == "REGED" })
	t.Logf("REGED %v after the trunk was created", time.Since(created).Round(time.Millisecond))
	if tr.SyncStatus.State != "applied" || tr.LastStatusCode != 200 {
		t.Errorf("after REGED: %v, want sync applied and last_status_code 200", tr)
	}
	if g, ok := b.SW.Gateway(t, tr.GatewayName); !ok || g.State != "REGED" || g.Username != "e2euser" {
		t.Errorf("FreeSWITCH's gateway: %+v (present %v), want REGED as e2euser", g, ok)
	}
	regs := reg.Received("REGISTER ")
	if len(regs) == 0 || !strings.Contains(regs[0], "e2euser@") {
		t.Errorf("the registrar saw %d REGISTERs, want one from e2euser:\n%s", len(regs), strings.Join(regs, "\n"))
	}
}

// testRegistrationRefused: a carrier answering 403 leaves the trunk FAILED
// (or FAIL_WAIT, retrying) with last_status_code 403.
func testRegistrationRefused(t *testing.T, b *Bridge) {
	allowFSErrors(t, `Failed Registration with status Forbidden \[403\]`)
	reg := registrar(t, "403 Forbidden")
	tr := b.CreateTrunk(t, map[string]any{"name": "Carrier Refused", "gateway": fmt.Sprintf("127.0.0.1:%d", reg.Port),
		"username": "e2euser", "password": "wrong", "retry_seconds": 5})
	// FreeSWITCH cycles FAILED → FAIL_WAIT → TRYING (the next attempt) on its
	// own clock; seen on a slow run: the retry had already begun (TRYING)
	// when the API was read, still with the 403 that refused the last one.
	tr = b.WaitTrunk(t, tr.ID, "gateway_state FAILED, FAIL_WAIT or a retry's TRYING, with 403", 5*time.Second, func(tr Trunk) bool {
		return (tr.GatewayState == "FAILED" || tr.GatewayState == "FAIL_WAIT" || tr.GatewayState == "TRYING") && tr.LastStatusCode == 403
	})
	t.Logf("refused: gateway_state %s, last_status_code %d", tr.GatewayState, tr.LastStatusCode)
	if g, _ := b.SW.Gateway(t, tr.GatewayName); g.State != "FAILED" && g.State != "FAIL_WAIT" && g.State != "UNREGED" && g.State != "TRYING" {
		t.Errorf("FreeSWITCH's gateway state %q, want a failure state", g.State)
	}
}

// testTrunkChange: changing one trunk (a new username) costs exactly one
// killgw of its gateway and one rescan, FreeSWITCH then has the new value,
// and a live call on another trunk stays up through it (no BYE, the channel
// still there, its audio still streaming to the assistant).
func testTrunkChange(t *testing.T, b *Bridge) {
	sw := b.SW
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Change Receptionist", asst, nil)
	pbx := b.CreateTrunk(t, map[string]any{"name": "PBX Live", "gateway": "127.0.0.3:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.3/32"}})
	b.AddNumber(t, "+16478491001", asstID, pbx.ID)
	reg := registrar(t, "200 OK")
	carrier := b.CreateTrunk(t, map[string]any{"name": "Carrier Change", "gateway": fmt.Sprintf("127.0.0.1:%d", reg.Port),
		"username": "before", "password": "s3cret", "expire_seconds": 60})
	b.WaitApplied(t, pbx.ID, 10*time.Second)
	b.WaitTrunk(t, carrier.ID, "gateway_state REGED", 10*time.Second, func(tr Trunk) bool { return tr.GatewayState == "REGED" })
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	// A call from the PBX to the assistant's number, up until we hang it up.
	uac := StartSipp(t, SippOptions{Scenario: "uac-wait-bye.xml", IP: "127.0.0.3", Remote: sw.remote(), Calls: 1, Timeout: 60 * time.Second,
		Data: call{From: "+14165550101", To: "+16478491001"}})
	ac := asst.Next(t, 10*time.Second)
	rec := b.WaitCall(t, "the call in progress", 10*time.Second, func(c Call) bool { return c.To == "+16478491001" && c.Status == "in-progress" })
	testkit.Eventually(t, 5*time.Second, "the caller's audio at the assistant", func() bool { return ac.Frames() >= 10 }, nil)

	m, lm := sw.Mark(), b.LogMark()
	changed := time.Now()
	b.UpdateTrunk(t, carrier.ID, map[string]any{"username": "after"})
	testkit.Eventually(t, 10*time.Second, "FreeSWITCH's gateway with username after, REGED", func() bool {
		g, ok := sw.Gateway(t, carrier.GatewayName)
		return ok && g.Username == "after" && g.State == "REGED"
	}, func() string {
		g, _ := sw.Gateway(t, carrier.GatewayName)
		return fmt.Sprintf("xmlstatus %s; states announced since the change %q", jsonString(g), sw.GatewayStates(m, carrier.GatewayName))
	})
	b.WaitTrunk(t, carrier.ID, "trunk applied and REGED", 5*time.Second, func(tr Trunk) bool {
		return tr.SyncStatus.State == "applied" && tr.GatewayState == "REGED"
	})
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	kills := sw.APICommandsSince(m, "sofia profile external killgw")
	rescans := sw.APICommandsSince(m, "sofia profile external rescan")
	t.Logf("the change took %v: FreeSWITCH ran %q", time.Since(changed).Round(time.Millisecond), sw.APICommandsSince(m, "sofia profile"))
	if !slices.Equal(kills, []string{"sofia profile external killgw " + carrier.GatewayName}) || len(rescans) != 1 {
		t.Errorf("FreeSWITCH ran killgw %q and %d rescan(s), want exactly one killgw of %s and one rescan",
			kills, len(rescans), carrier.GatewayName)
	}
	if restarts := sw.APICommandsSince(m, "sofia profile external restart"); len(restarts) > 0 {
		t.Errorf("the profile was restarted: %q", restarts)
	}
	if cmds := b.SyncCommandsSince(lm); len(cmds) == 0 {
		t.Errorf("sipbridge logged no trunk sync pass for the change")
	}
	if regs := reg.Received("REGISTER "); !strings.Contains(strings.Join(regs, "\n"), "after@") {
		t.Errorf("the registrar never saw a REGISTER from the new username")
	}

	// The call lives on.
	if !slices.Contains(sw.Channels(t), rec.CallSID) {
		t.Fatalf("the call's channel %s is gone after the trunk change; channels %q", rec.CallSID, sw.Channels(t))
	}
	select {
	case <-uac.Done():
		t.Fatalf("the caller's sipp ended during the trunk change: %s", uac.Report())
	default:
	}
	if byes := uac.Received("BYE "); len(byes) > 0 {
		t.Fatalf("the caller got a BYE during the trunk change:\n%s", byes[0])
	}
	t.Logf("the assistant got %d media messages since the change", ac.FramesSince(changed))
	if n := ac.FramesSince(changed); n < 25 {
		t.Errorf("the assistant got %d media messages since the change, want a steady stream (≥25)", n)
	}
	if c := b.call(t, rec.ID); c.Status != "in-progress" {
		t.Errorf("call record after the change: %+v", c)
	}

	// Now we end it: the caller gets the BYE and the record closes.
	b.API.Call(t, "POST", "/api/v1/calls/"+rec.ID+"/hangup", nil, 202, nil)
	if code := uac.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	b.WaitCall(t, "the call record completed", 10*time.Second, func(c Call) bool { return c.ID == rec.ID && c.EndedAt != nil && c.Status == "completed" })
}

// call reads one call record.
func (b *Bridge) call(t testing.TB, id string) Call {
	t.Helper()
	var c Call
	b.API.Call(t, "GET", "/api/v1/calls/"+id, nil, 200, &c)
	return c
}

// hostile holds every character FreeSWITCH's XML and its preprocessor give
// meaning to; "$${esl_password}" would read "ClueCon" if it were expanded.
const hostile = `$${esl_password}&<>"'x`

// testHostileValues: a username and a password holding `$${…}` and
// `& < > " '` reach FreeSWITCH literally: in `sofia xmlstatus gateway`, in
// the parsed configuration (`xml_locate`), and on the wire (the digest a
// registrar checks against the password). FreeSWITCH prints such a username
// raw in xmlstatus (not XML): sipbridge must still read its gateways, so a
// trunk sync pass that re-reads them (a reconnect, the cron tick) still
// applies the next trunk.
func testHostileValues(t *testing.T, b *Bridge) {
	sw := b.SW
	ip := b.CreateTrunk(t, map[string]any{"name": "Hostile IP", "gateway": "127.0.0.4:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.4/32"}, "username": "u" + hostile, "password": "p" + hostile})
	b.WaitApplied(t, ip.ID, 10*time.Second)
	if g, _ := sw.Gateway(t, ip.GatewayName); g.Username != "u"+hostile {
		t.Errorf("sofia xmlstatus gateway: username %q, want %q literally", g.Username, "u"+hostile)
	}
	params, ok := sw.GatewayParams(t, ip.GatewayName)
	if !ok {
		t.Fatalf("xml_locate: no gateway %s in sofia.conf", ip.GatewayName)
	}
	if params["username"] != "u"+hostile || params["password"] != "p"+hostile {
		t.Errorf("FreeSWITCH parsed username %q password %q, want %q and %q", params["username"], params["password"], "u"+hostile, "p"+hostile)
	}

	// On the wire: the registrar challenges and verifies the digest.
	reg := StartSipp(t, SippOptions{Scenario: "registrar-digest.xml", Timeout: 120 * time.Second,
		Vars: map[string]string{"user": "e2edigest", "pass": "p" + hostile}})
	tr := b.CreateTrunk(t, map[string]any{"name": "Hostile Digest", "gateway": fmt.Sprintf("127.0.0.1:%d", reg.Port),
		"username": "e2edigest", "password": "p" + hostile, "retry_seconds": 5})
	b.WaitTrunk(t, tr.ID, "gateway_state REGED (the registrar accepted the digest)", 10*time.Second, func(tr Trunk) bool {
		return tr.GatewayState == "REGED"
	})

	// sipbridge re-reads FreeSWITCH's gateways when it (re)connects: restart
	// it and add a trunk; it must be applied, with no failed pass.
	lm := b.LogMark()
	b.Restart(t)
	after := b.CreateTrunk(t, map[string]any{"name": "After Hostile", "gateway": "127.0.0.8:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.8/32"}})
	b.WaitApplied(t, after.ID, 10*time.Second)
	for _, e := range b.LogSince(lm, "trunk sync pass failed") {
		t.Errorf("a trunk sync pass failed: %s", e.Str("err"))
	}
}

// testIPAuth: an INVITE from an IP-auth trunk's address is let in and routed
// by sipbridge (no number: refused 404, with a call record naming the
// trunk), one from elsewhere gets 403 from FreeSWITCH, and once the trunk is
// deleted its address gets 403 too.
func testIPAuth(t *testing.T, b *Bridge) {
	sw := b.SW
	tr := b.CreateTrunk(t, map[string]any{"name": "PBX IP", "gateway": "127.0.0.2:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.2/32"}})
	tr = b.WaitApplied(t, tr.ID, 10*time.Second)
	if g, _ := sw.Gateway(t, tr.GatewayName); g.State != "NOREG" {
		t.Errorf("FreeSWITCH's IP-auth gateway state %q, want NOREG", g.State)
	}
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	RunSipp(t, SippOptions{Scenario: "uac-refused.xml", IP: "127.0.0.2", Remote: sw.remote(), Calls: 1, Timeout: 15 * time.Second,
		Data: call{From: "+14165550102", To: "+15550001111", Code: 404}})
	rec := b.WaitCall(t, "a closed call record for +15550001111", 5*time.Second, func(c Call) bool {
		return c.ResolvedDID == "+15550001111" && c.EndedAt != nil
	})
	if rec.Status != "refused" || rec.SIPStatus != 404 || rec.HangupCause != "UNALLOCATED_NUMBER" || rec.TrunkID == nil || *rec.TrunkID != tr.ID {
		t.Errorf("call record %s, want refused with 404 (UNALLOCATED_NUMBER) on trunk %s", jsonString(rec), tr.ID)
	}

	m := sw.Mark()
	RunSipp(t, SippOptions{Scenario: "uac-refused.xml", IP: "127.0.0.5", Remote: sw.remote(), Calls: 1, Timeout: 15 * time.Second,
		Data: call{From: "+14165550105", To: "+15550001111", Code: 403}})
	if evs := sw.EventsSince(m, "CHANNEL_CREATE"); len(evs) > 0 {
		t.Errorf("an INVITE from an address in no list created a channel")
	}

	lm := b.LogMark()
	b.DeleteTrunk(t, tr.ID)
	testkit.Eventually(t, 10*time.Second, "the gateway removed", func() bool { _, ok := sw.Gateway(t, tr.GatewayName); return !ok }, nil)
	b.WaitSyncPass(t, lm, "reloadacl", 10*time.Second)
	sw.WaitQuiet(t, 300*time.Millisecond, 10*time.Second)
	before := len(b.Calls(t, ""))
	RunSipp(t, SippOptions{Scenario: "uac-refused.xml", IP: "127.0.0.2", Remote: sw.remote(), Calls: 1, Timeout: 15 * time.Second,
		Data: call{From: "+14165550102", To: "+15550001111", Code: 403}})
	time.Sleep(300 * time.Millisecond)
	if after := len(b.Calls(t, "")); after != before {
		t.Errorf("a call refused by FreeSWITCH left a record (%d → %d)", before, after)
	}
}

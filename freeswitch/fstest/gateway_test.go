package fstest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var gatewayKinds = []string{"sofia::gateway_add", "sofia::gateway_state", "sofia::gateway_delete"}

// seq renders gateway events as kind[/State[/Status]].
func seq(evs []ev) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = strings.TrimPrefix(e.kind(), "sofia::gateway_")
		if st := e.h["State"]; st != "" {
			out[i] += "/" + st
		}
		if code := e.h["Status"]; code != "" {
			out[i] += "/" + code
		}
	}
	return out
}

func gwFile(name, proxy string, register bool, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<include>\n  <gateway name=%q>\n", name)
	params := []string{"proxy", proxy, "register", fmt.Sprint(register)}
	if register {
		params = append(params, "username", "u_"+name, "password", "pw", "retry-seconds", "5")
	}
	params = append(params, extra...)
	for i := 0; i+1 < len(params); i += 2 {
		fmt.Fprintf(&b, "    <param name=%q value=%q/>\n", params[i], params[i+1])
	}
	b.WriteString("  </gateway>\n</include>\n")
	return b.String()
}

// TestRegistrationStateMachine: the recorded sequences per registrar
// outcome, set by gateway name, proxy host:port or proxy host.
func TestRegistrationStateMachine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		register bool
		key      string // SetRegistrar key, "" = default
		outcome  Registrar
		want     []string
		state    string // final state
	}{
		{"register ok", true, "", RegistrarOK, []string{"add", "state/TRYING", "state/REGISTER/200", "state/REGED"}, "REGED"},
		{"forbidden by name", true, "gw1", RegistrarForbidden,
			[]string{"add", "state/TRYING", "state/FAILED/403", "state/FAIL_WAIT", "state/UNREGED", "state/TRYING", "state/FAILED/403", "state/FAIL_WAIT"}, ""},
		{"forbidden by proxy host:port", true, "127.0.0.1:5071", RegistrarForbidden,
			[]string{"add", "state/TRYING", "state/FAILED/403", "state/FAIL_WAIT"}, ""},
		{"forbidden by proxy host", true, "127.0.0.1", RegistrarForbidden,
			[]string{"add", "state/TRYING", "state/FAILED/403", "state/FAIL_WAIT"}, ""},
		{"other host untouched", true, "192.0.2.9", RegistrarForbidden, []string{"add", "state/TRYING", "state/REGISTER/200", "state/REGED"}, "REGED"},
		{"timeout", true, "gw1", RegistrarTimeout, []string{"add", "state/TRYING", "state/FAILED/408", "state/FAIL_WAIT"}, ""},
		{"no registration", false, "", RegistrarOK, []string{"add"}, "NOREG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen := t.TempDir()
			writeFile(t, gen, "gateways/gw1.xml", gwFile("gw1", "127.0.0.1:5071", tc.register))
			s := newSwitch(t, Options{GenDir: gen, Step: 5 * time.Millisecond})
			if tc.key != "" {
				s.SetRegistrar(tc.key, tc.outcome)
			}
			c := login(t, s, "json CUSTOM "+strings.Join(gatewayKinds, " "))
			c.api("sofia profile external rescan")
			got := seq(c.events(len(tc.want), gatewayKinds...))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("events %v\nwant %v", got, tc.want)
			}
			if tc.state != "" {
				c.quiet(100 * time.Millisecond) // nothing more: REGED/NOREG are stable
				if g := gatewayByName(s, "gw1"); g.State != tc.state {
					t.Fatalf("state %s, want %s", g.State, tc.state)
				}
			}
		})
	}
}

// TestRegistrarChangeApplies: a failing gateway registers at its next
// retry once the registrar accepts.
func TestRegistrarChangeApplies(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/gw1.xml", gwFile("gw1", "127.0.0.1:5071", true))
	s := newSwitch(t, Options{GenDir: gen, Step: 5 * time.Millisecond})
	s.SetRegistrar("gw1", RegistrarForbidden)
	c := login(t, s, "json CUSTOM sofia::gateway_state")
	c.api("sofia profile external rescan")
	c.events(3, "sofia::gateway_state") // TRYING FAILED FAIL_WAIT
	s.SetRegistrar("gw1", RegistrarOK)
	got := seq(c.events(4, "sofia::gateway_state"))
	if want := []string{"state/UNREGED", "state/TRYING", "state/REGISTER/200", "state/REGED"}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

var retryRE = regexp.MustCompile(`<retry>(\d+)s</retry>`)

// TestRetryBackoff: FAIL_WAIT lasts retry-seconds × failures (sofia_reg.c),
// shown as the <retry> countdown; the recorded status shows it too.
func TestRetryBackoff(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/gw1.xml", gwFile("gw1", "127.0.0.1:5071", true))
	s := newSwitch(t, Options{GenDir: gen, Step: 20 * time.Millisecond})
	s.SetRegistrar("gw1", RegistrarForbidden)
	c := login(t, s, "json CUSTOM sofia::gateway_state")
	c.api("sofia profile external rescan")
	var retries []string
	for len(retries) < 2 {
		if e := c.event("sofia::gateway_state"); e.h["State"] == "FAIL_WAIT" {
			m := retryRE.FindStringSubmatch(s.exec("sofia xmlstatus gateway " + "gw1"))
			if m == nil {
				t.Fatalf("no <retry> in FAIL_WAIT: %s", s.exec("sofia xmlstatus gateway "+"gw1"))
			}
			retries = append(retries, m[1])
			if !strings.Contains(s.exec("sofia status"), "FAIL_WAIT (retry: "+m[1]+"s)") && !strings.Contains(s.exec("sofia status"), "(retry: ") {
				t.Errorf("sofia status lacks the retry: %s", s.exec("sofia status"))
			}
		}
	}
	// 5 s then 10 s (± the second being read).
	if (retries[0] != "4" && retries[0] != "5") || (retries[1] != "9" && retries[1] != "10") {
		t.Fatalf("retry countdowns %v, want ~5 then ~10", retries)
	}
}

// TestRescanIgnoresExisting: a changed file does not change a loaded
// gateway; after killgw and gateway_delete, rescan loads the new params.
func TestRescanIgnoresExisting(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/gw1.xml", gwFile("gw1", "127.0.0.1:5070", true, "expire-seconds", "60"))
	s := newSwitch(t, Options{GenDir: gen, Step: 5 * time.Millisecond})
	c := login(t, s, "json CUSTOM "+strings.Join(gatewayKinds, " "))
	c.api("sofia profile external rescan")
	c.events(4, gatewayKinds...)
	writeFile(t, gen, "gateways/gw1.xml", gwFile("gw1", "127.0.0.1:5070", true, "expire-seconds", "120"))
	if r := c.api("sofia profile external rescan"); r != "Reload XML [Success]\n+OK scan complete\n" {
		t.Fatalf("rescan: %q", r)
	}
	c.quiet(60 * time.Millisecond) // no gateway event
	if g := gatewayByName(s, "gw1"); g.Params["expire-seconds"] != "60" || !strings.Contains(s.exec("sofia xmlstatus gateway "+"gw1"), "<expires>60</expires>") {
		t.Fatalf("rescan updated an existing gateway: %+v", g)
	}
	// While the deletion is pending the name still exists: rescan ignores it.
	c.api("sofia profile external killgw gw1")
	if r := c.api("sofia profile external rescan"); !strings.HasSuffix(r, "+OK scan complete\n") {
		t.Fatal(r)
	}
	got := seq(c.events(2, gatewayKinds...))
	if want := []string{"state/DOWN", "delete"}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v (no add while the old one is being deleted)", got, want)
	}
	c.api("sofia profile external rescan")
	got = seq(c.events(4, gatewayKinds...))
	if want := []string{"add", "state/TRYING", "state/REGISTER/200", "state/REGED"}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	if g := gatewayByName(s, "gw1"); g.Params["expire-seconds"] != "120" {
		t.Fatalf("params after re-add %v", g.Params)
	}
}

// TestKillgwOrdering: reply first, then DOWN ≥ 0.5 s, then gateway_delete
// ≥ 1.5 s (switch time); a register=false gateway only gets the delete;
// an unknown name is refused.
func TestKillgwOrdering(t *testing.T) {
	const step = 20 * time.Millisecond // 0.5 s of switch time
	for _, tc := range []struct {
		name     string
		register bool
		want     []string
		minDelay []time.Duration
	}{
		{"registered", true, []string{"state/DOWN", "delete"}, []time.Duration{step, 3 * step}},
		{"ip auth", false, []string{"delete"}, []time.Duration{step}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen := t.TempDir()
			writeFile(t, gen, "gateways/gw1.xml", gwFile("gw1", "127.0.0.1:5070", tc.register))
			s := newSwitch(t, Options{GenDir: gen, Step: step})
			s.exec("sofia profile external rescan")
			if tc.register && !s.WaitFor(func() bool { return gatewayByName(s, "gw1").State == "REGED" }, 5*time.Second) {
				t.Fatal("not REGED")
			}
			c := login(t, s, "json CUSTOM "+strings.Join(gatewayKinds, " "))
			start := time.Now() // before the send: the switch's timers start when it reads the command
			c.send("api sofia profile external killgw gw1\n\n")
			if r := c.frame(); r != "Content-Type: api/response\nContent-Length: 33\n\n+OK gateway marked for deletion.\n" {
				t.Fatalf("reply %q", r)
			}
			if g := gatewayByName(s, "gw1"); !g.Deleting {
				t.Fatalf("not marked: %+v", g)
			}
			// A second killgw while pending is accepted again, still one deletion.
			if r := s.exec("sofia profile external killgw gw1"); r != "+OK gateway marked for deletion.\n" {
				t.Fatalf("second killgw %q", r)
			}
			var got []string
			for i := range tc.want {
				e := c.events(1, gatewayKinds...)
				if el := time.Since(start); el < tc.minDelay[i] {
					t.Errorf("%s after %v, want ≥ %v", e[0].kind(), el, tc.minDelay[i])
				}
				got = append(got, seq(e)...)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%v, want %v", got, tc.want)
			}
			c.quiet(4 * step)
			if len(s.Gateways()) != 0 || s.exec("sofia profile external killgw gw1") != "-ERR no such gateway.\n" {
				t.Fatalf("gateway still there: %+v", s.Gateways())
			}
		})
	}
}

// TestMalformedFileChangesNothing: a broken file in any generated
// directory fails the whole XML, in the ezxml form, and changes nothing.
func TestMalformedFileChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		dir, body, closing string
	}{
		{"gateways", "<include>\n<gateway name=\"gw_new\">\n<param name=\"proxy\" value=\"1.2.3.4\"/>\n</include>\n", "unexpected closing tag </gateways>"},
		{"acl", "<include><list name=\"l2\" default=\"deny\"><node type=\"allow\" cidr=\"10.0.0.0/8\"/></include>\n", "unexpected closing tag </network-lists>"},
		{"profile", "<include><param name=\"apply-inbound-acl\" value=\"l2\"></include>\n", "unexpected closing tag </settings>"},
		{"gateways", "<include><gateway name=\"gw_new\" / ></gateway></include>\n", "missing >"},
		{"gateways", "<include><!-- -- --></include>\n", "unclosed <!--"},
		{"gateways", "<include></gateway></include>\n", "unexpected closing tag </gateway>"},
	} {
		t.Run(tc.dir+" "+tc.closing, func(t *testing.T) {
			gen := t.TempDir()
			writeFile(t, gen, "gateways/gw1.xml", gwFile("gw1", "127.0.0.1:5070", false))
			writeFile(t, gen, "acl/l1.xml", aclFile("l1", "127.0.0.1/32"))
			writeFile(t, gen, "profile/inbound.xml", profileFile("l1"))
			s := newSwitch(t, Options{GenDir: gen})
			s.exec("reloadacl")
			s.exec("sofia profile external rescan")
			c := login(t, s, "json RELOADXML")
			// Changes that would show if anything were applied, plus the broken file.
			writeFile(t, gen, "gateways/gw2.xml", gwFile("gw2", "127.0.0.1:5070", false))
			writeFile(t, gen, "acl/l1.xml", aclFile("l1", "10.0.0.0/8"))
			writeFile(t, gen, tc.dir+"/zz_broken.xml", tc.body)
			errRE := regexp.MustCompile(`^\[error near line \d+\]: ` + regexp.QuoteMeta(tc.closing) + `$`)
			for cmd, form := range map[string]string{
				"sofia profile external rescan":          "Reload XML [%s]\n+OK scan complete\n",
				"reloadxml":                              "+OK [%s]\n",
				"sofia profile external startgw gw2":     "Reload XML [%s]\n+OK start gateway gw2 complete\n",
				"reloadacl":                              "+OK acl reloaded\n",
				"sofia profile external restart":         "Reload XML [%s]\nrestarting: external",
				"sofia profile external killgw no_such1": "-ERR no such gateway.\n",
			} {
				got := s.exec(cmd)
				prefix, suffix, _ := strings.Cut(form, "%s")
				inner := strings.TrimSuffix(strings.TrimPrefix(got, prefix), suffix)
				if !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, suffix) || (strings.Contains(form, "%s") && !errRE.MatchString(inner)) {
					t.Errorf("%s: %q, want %q with %q", cmd, got, form, tc.closing)
				}
			}
			if evs := c.drain(); len(evs) != 0 {
				t.Errorf("%d events (RELOADXML) for a broken XML", len(evs))
			}
			if !s.WaitFor(func() bool { return len(s.Gateways()) == 1 }, 2*time.Second) {
				t.Fatalf("gateways %+v", s.Gateways())
			}
			time.Sleep(200 * time.Millisecond) // the restart re-adds from the XML in effect
			if gs := s.Gateways(); len(gs) != 1 || gs[0].Name != "gw1" || !slices.Equal(s.ACL("l1"), []string{"127.0.0.1/32"}) ||
				!slices.Equal(s.InboundACLs(), []string{"l1"}) {
				t.Fatalf("changed: %+v %v %v", gs, s.ACL("l1"), s.InboundACLs())
			}
			// Fixed: everything applies.
			os.Remove(filepath.Join(gen, tc.dir, "zz_broken.xml"))
			if r := c.api("reloadacl"); r != "+OK acl reloaded\n" || !slices.Equal(s.ACL("l1"), []string{"10.0.0.0/8"}) {
				t.Fatalf("after the fix: %q %v", r, s.ACL("l1"))
			}
		})
	}
}

// TestInvalidNamesDropped: names outside ^[\w.\-]+$ are dropped silently,
// the valid ones of the same file load.
func TestInvalidNamesDropped(t *testing.T) {
	gen := t.TempDir()
	names := map[string]bool{"org1 space": false, "org1/slash": false, "": false, "naïve": false, "a;b": false,
		"org1.main-2_x": true, "UPPER_case.1": true}
	var b strings.Builder
	b.WriteString("<include>\n")
	for n := range names {
		fmt.Fprintf(&b, "<gateway name=%q><param name=\"proxy\" value=\"127.0.0.1\"/><param name=\"register\" value=\"false\"/></gateway>\n", n)
	}
	b.WriteString("</include>\n")
	writeFile(t, gen, "gateways/all.xml", b.String())
	s := newSwitch(t, Options{GenDir: gen})
	c := login(t, s, "json CUSTOM sofia::gateway_add")
	if r := c.api("sofia profile external rescan"); r != "Reload XML [Success]\n+OK scan complete\n" {
		t.Fatalf("rescan %q", r)
	}
	var added []string
	for _, e := range c.drain() {
		added = append(added, e.h["Gateway"])
	}
	slices.Sort(added)
	if want := []string{"UPPER_case.1", "org1.main-2_x"}; !slices.Equal(added, want) {
		t.Fatalf("gateway_add for %v, want %v", added, want)
	}
	for n, ok := range names {
		if got := gatewayByName(s, n).Name == n; got != ok && n != "" {
			t.Errorf("%q loaded=%v, want %v", n, got, ok)
		}
	}
}

// TestGatewayRequirements: sofia.c skips a registering gateway without
// username or password; defaults of an IP-auth one are the recorded ones.
func TestGatewayRequirements(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/a.xml", `<include><gateway name="nouser"><param name="register" value="true"/><param name="password" value="x"/><param name="proxy" value="h"/></gateway>
<gateway name="nopass"><param name="register" value="true"/><param name="username" value="u"/><param name="proxy" value="h"/></gateway>
<gateway name="org1_ipauth"><param name="proxy" value="127.0.0.1:5072"/><param name="register" value="false"/></gateway></include>`)
	s := newSwitch(t, Options{GenDir: gen})
	s.exec("sofia profile external rescan")
	if gs := s.Gateways(); len(gs) != 1 || gs[0].Name != "org1_ipauth" || gs[0].State != "NOREG" || gs[0].Status != "UP" {
		t.Fatalf("%+v", gs)
	}
	x := s.exec("sofia xmlstatus gateway " + "org1_ipauth")
	for _, want := range []string{"<username>FreeSWITCH</username>", "<realm>127.0.0.1:5072</realm>", "<password>no</password>",
		"<expires>3600</expires>", "<status>UP</status>", "<exten>FreeSWITCH</exten>", "<context>public</context>",
		"<contact>&lt;sip:gw+org1_ipauth@127.0.0.1:5080;transport=udp;gw=org1_ipauth&gt;</contact>"} {
		if !strings.Contains(x, want) {
			t.Errorf("xmlstatus lacks %s:\n%s", want, x)
		}
	}
}

// TestPingedGatewayDown: a register=false gateway with ping whose OPTIONS
// go unanswered is NOREG/DOWN, without any state event
// (originate-gateway-down recording).
func TestPingedGatewayDown(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/org1_dead.xml", gwFile("org1_dead", "127.0.0.1:5079", false, "ping", "5"))
	s := newSwitch(t, Options{GenDir: gen})
	s.SetRegistrar("127.0.0.1:5079", RegistrarTimeout)
	c := login(t, s, "json CUSTOM sofia::gateway_state")
	c.api("sofia profile external rescan")
	want, _ := recordedReply(t, "originate-gateway-down.jsonl", "api sofia xmlstatus gateway org1_dead\n\n")
	if got := c.api("sofia xmlstatus gateway org1_dead"); shape(got) != shape(want[strings.Index(want, "\n\n")+2:]) {
		t.Errorf("xmlstatus:\n%s\nwant the shape of\n%s", got, want)
	}
	c.quiet(100 * time.Millisecond)
	s.SetRegistrar("127.0.0.1:5079", RegistrarOK)
	if g := gatewayByName(s, "org1_dead"); g.Status != "UP" || g.State != "NOREG" {
		t.Errorf("answering pings: %+v", g)
	}
}

// TestInboundACLsReplaced: rescan replaces the profile's lists with those
// of the files (order kept, commas split); reloadacl does not touch them.
func TestInboundACLsReplaced(t *testing.T) {
	gen := t.TempDir()
	s := newSwitch(t, Options{GenDir: gen})
	for _, tc := range []struct {
		files map[string]string
		cmd   string
		want  []string
	}{
		{map[string]string{"profile/a.xml": profileFile("sb_t1")}, "sofia profile external rescan", []string{"sb_t1"}},
		{map[string]string{"profile/b.xml": profileFile("sb_t2", "sb_t3, sb_t4")}, "reloadacl", []string{"sb_t1"}},
		{nil, "sofia profile external rescan", []string{"sb_t1", "sb_t2", "sb_t3", "sb_t4"}},
		{map[string]string{"profile/a.xml": profileFile()}, "sofia profile external rescan", []string{"sb_t2", "sb_t3", "sb_t4"}},
	} {
		for p, body := range tc.files {
			writeFile(t, gen, p, body)
		}
		s.exec(tc.cmd)
		if got := s.InboundACLs(); !slices.Equal(got, tc.want) {
			t.Errorf("after %s: %v, want %v", tc.cmd, got, tc.want)
		}
	}
	// SOFIA_MAX_ACL: lists beyond 100 are dropped.
	many := make([]string, 120)
	for i := range many {
		many[i] = fmt.Sprintf("l%03d", i)
	}
	writeFile(t, gen, "profile/a.xml", profileFile(many...))
	s.exec("sofia profile external rescan")
	if got := s.InboundACLs(); len(got) != 100 || got[0] != "l000" {
		t.Errorf("%d lists kept (first %v), want %d", len(got), got[:1], 100)
	}
}

// TestStartgw: only the named new gateway starts; others wait for rescan.
func TestStartgw(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/a.xml", gwFile("gw_a", "127.0.0.1:5070", false))
	writeFile(t, gen, "gateways/b.xml", gwFile("gw_b", "127.0.0.1:5070", false))
	s := newSwitch(t, Options{GenDir: gen})
	c := login(t, s, "json CUSTOM sofia::gateway_add")
	if r := s.exec("sofia profile external startgw gw_b"); r != "Reload XML [Success]\n+OK start gateway gw_b complete\n" {
		t.Fatalf("startgw %q", r)
	}
	if gs := s.Gateways(); len(gs) != 1 || gs[0].Name != "gw_b" {
		t.Fatalf("%+v", gs)
	}
	s.exec("sofia profile external startgw gw_b") // existing: nothing
	var added []string
	for _, e := range c.drain() {
		added = append(added, e.h["Gateway"])
	}
	if !slices.Equal(added, []string{"gw_b"}) {
		t.Fatalf("gateway_add %v", added)
	}
}

// TestProfileRestart: counted, recorded reply and event order, gateways
// reloaded with their new params.
func TestProfileRestart(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/a.xml", gwFile("gw_a", "127.0.0.1:5070", false, "expire-seconds", "60"))
	s := newSwitch(t, Options{GenDir: gen, Step: 5 * time.Millisecond})
	s.exec("sofia profile external rescan")
	writeFile(t, gen, "gateways/a.xml", gwFile("gw_a", "127.0.0.1:5070", false, "expire-seconds", "90"))
	c := login(t, s, "json ALL")
	if r := c.api("sofia profile external restart"); r != "Reload XML [Success]\nrestarting: external" {
		t.Fatalf("restart %q", r)
	}
	got := seq(c.events(6, "RELOADXML", "sofia::gateway_delete", "UNPUBLISH", "sofia::profile_start", "PUBLISH", "sofia::gateway_add"))
	if want := []string{"RELOADXML", "delete", "UNPUBLISH", "sofia::profile_start", "PUBLISH", "add"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if g := gatewayByName(s, "gw_a"); g.Params["expire-seconds"] != "90" || s.ProfileRestarts() != 1 {
		t.Fatalf("%+v, %d restarts", g, s.ProfileRestarts())
	}
}

// TestStatusOrderAndShapes: newest gateway first in both status outputs,
// rows as recorded.
func TestStatusOrderAndShapes(t *testing.T) {
	gen := t.TempDir()
	s := newSwitch(t, Options{GenDir: gen})
	for _, n := range []string{"gw_b", "gw_c"} {
		writeFile(t, gen, "gateways/"+n+".xml", gwFile(n, "127.0.0.1:5070", false))
		s.exec("sofia profile external rescan")
	}
	writeFile(t, gen, "gateways/org1_ipauth.xml", gwIPAuth)
	s.exec("sofia profile external rescan")
	order := regexp.MustCompile(`gw_[bc]|org1_ipauth`)
	want := []string{"org1_ipauth", "gw_c", "gw_b"}
	if got := order.FindAllString(s.exec("sofia xmlstatus gateway"), -1); !slices.Equal(slices.Compact(got), want) {
		t.Errorf("xmlstatus order %v", slices.Compact(got))
	}
	st := s.exec("sofia status")
	if got := order.FindAllString(st, -1); !slices.Equal(got, want) {
		t.Errorf("status order %v", got)
	}
	recorded, _ := recordedReply(t, "gateway-lifecycle.jsonl", "api sofia status\n\n")
	for _, l := range strings.SplitAfter(recorded, "\n") {
		if strings.Contains(l, "external::org1_ipauth") || strings.Contains(l, "Name\t") || strings.Contains(l, "external\tprofile") {
			if !strings.Contains(st, l) {
				t.Errorf("status lacks the recorded row %q:\n%s", l, st)
			}
		}
	}
}

package xmlcurl_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/xmlcurl"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// password is a gateway password with characters XML and FreeSWITCH's
// preprocessor both care about.
const password = `s3cret&<$${x}>"'`

// stubSwitch answers the reconciler's commands as an empty FreeSWITCH does;
// rescan's reply is settable (a rejected configuration).
type stubSwitch struct {
	mu     sync.Mutex
	rescan string
}

func (s *stubSwitch) API(_ context.Context, cmd string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case cmd == "sofia xmlstatus gateway":
		return "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<gateways>\n</gateways>\n", nil
	case strings.HasSuffix(cmd, " rescan"):
		if s.rescan != "" {
			return s.rescan, nil
		}
		return "+OK scan complete\n", nil
	}
	return "+OK\n", nil
}

type env struct {
	t      *testing.T
	ctx    context.Context
	store  *db.Store
	sync   *trunk.Sync
	sw     *stubSwitch
	gen    string
	org    int64
	h      *xmlcurl.Handler
	logBuf *testkit.LogBuffer
}

func newEnv(t *testing.T, g *gorm.DB, o xmlcurl.Options) *env {
	ctx := context.Background()
	e := &env{t: t, ctx: ctx, store: db.NewStore(g, dbtest.Keyring(t), nil), sw: &stubSwitch{}, gen: t.TempDir(), logBuf: &testkit.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.sync = trunk.NewSync(e.store, e.sw, trunk.SyncOptions{GenDir: e.gen, Profile: "external", DeleteTimeout: 50 * time.Millisecond, Log: log,
		Resolver: func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("198.51.100.20")}, nil
		}})
	org, _, err := e.store.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	e.org = org.ID
	if o.User == "" {
		o.User, o.Password = "fs", "node-secret"
	}
	o.Profile, o.Log = "external", log
	e.h = xmlcurl.New(e.sync, o)
	return e
}

func (e *env) addTrunk(name string, mutate func(*db.SIPTrunk)) *db.SIPTrunk {
	e.t.Helper()
	tr := &db.SIPTrunk{ID: db.NewID(), OrgID: e.org, Name: name, GatewayName: xmlgen.GatewayName(e.org, name, nil),
		Gateway: "sip.carrier.example:5060", Username: "user1", Priority: 1, Enabled: true, Register: true, Transport: "udp"}
	if err := e.store.SetTrunkPassword(tr, password); err != nil {
		e.t.Fatal(err)
	}
	if mutate != nil {
		mutate(tr)
	}
	if err := e.store.CreateTrunk(e.ctx, tr); err != nil {
		e.t.Fatal(err)
	}
	return tr
}

func (e *env) pass() trunk.PassResult {
	e.t.Helper()
	res, err := e.sync.Pass(e.ctx)
	if err != nil {
		e.t.Fatalf("pass: %v", err)
	}
	return res
}

// post sends mod_xml_curl's form from remote with the given credentials
// (user "" = none).
func (e *env) post(remote, user, pw string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/fs/xml", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = remote
	if user != "" {
		r.SetBasicAuth(user, pw)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *env) config(key string) string {
	e.t.Helper()
	w := e.post("127.0.0.1:40000", "fs", "node-secret", configForm(key))
	if w.Code != 200 {
		e.t.Fatalf("%s: status %d %s", key, w.Code, w.Body)
	}
	return w.Body.String()
}

// configForm is what mod_xml_curl 1.11 posts for a configuration file,
// the event headers of sofia's rescan included (seen on the real switch).
func configForm(key string) url.Values {
	return url.Values{"hostname": {"node1"}, "section": {"configuration"}, "tag_name": {"configuration"}, "key_name": {"name"},
		"key_value": {key}, "Event-Name": {"REQUEST_PARAMS"}, "FreeSWITCH-Hostname": {"node1"}, "FreeSWITCH-IPv6": {"fd00::2"},
		"Event-Calling-Function": {"config_sofia"}, "profile": {"external"}, "reconfig": {"true"}}
}

type param struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type sofiaDoc struct {
	Type    string `xml:"type,attr"`
	Section struct {
		Name   string `xml:"name,attr"`
		Config struct {
			Name     string `xml:"name,attr"`
			Profiles []struct {
				Name     string `xml:"name,attr"`
				Gateways []struct {
					Name   string  `xml:"name,attr"`
					Params []param `xml:"param"`
				} `xml:"gateways>gateway"`
				Settings []param `xml:"settings>param"`
			} `xml:"profiles>profile"`
			Lists []struct {
				Name    string `xml:"name,attr"`
				Default string `xml:"default,attr"`
				Nodes   []struct {
					Type string `xml:"type,attr"`
					CIDR string `xml:"cidr,attr"`
				} `xml:"node"`
			} `xml:"network-lists>list"`
		} `xml:"configuration"`
	} `xml:"section"`
}

func parseDoc(t *testing.T, body string) sofiaDoc {
	t.Helper()
	var d sofiaDoc
	if err := xml.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("answer is not XML: %v\n%s", err, body)
	}
	if d.Type != "freeswitch/xml" || d.Section.Name != "configuration" {
		t.Fatalf("not a configuration document:\n%s", body)
	}
	if strings.Contains(body, "X-PRE-PROCESS") {
		t.Errorf("answer keeps an include (the node's files would be read):\n%s", body)
	}
	return d
}

// shippedSettings are the params of the shipped profile.
func shippedSettings(t *testing.T) []param {
	b, err := os.ReadFile("../conf/sip_profiles/external.xml")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Settings []param `xml:"settings>param"`
	}
	if err := xml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p.Settings
}

func TestSofiaAndACLFromTheDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newEnv(t, g, xmlcurl.Options{})
		reg := e.addTrunk("main", nil)
		ip := e.addTrunk("pbx", func(tr *db.SIPTrunk) {
			tr.Register, tr.Username = false, ""
			tr.AllowedAddresses = db.StringList{"203.0.113.0/24"}
		})
		off := e.addTrunk("off", func(tr *db.SIPTrunk) { tr.Enabled = false })
		e.pass()

		d := parseDoc(t, e.config("sofia.conf"))
		c := d.Section.Config
		if c.Name != "sofia.conf" || len(c.Profiles) != 1 || c.Profiles[0].Name != "external" {
			t.Fatalf("sofia.conf: want the one profile external, got %+v", c)
		}
		p := c.Profiles[0]
		var names []string
		for _, gw := range p.Gateways {
			names = append(names, gw.Name)
			// The gateway is the file writer's, byte for byte in meaning.
			file, err := os.ReadFile(filepath.Join(e.gen, "gateways", gw.Name+".xml"))
			if err != nil {
				t.Errorf("gateway %s has no file under FS_GEN_DIR: %v", gw.Name, err)
			}
			var fromFile struct {
				Params []param `xml:"gateway>param"`
			}
			xml.Unmarshal(file, &fromFile)
			if !slices.Equal(gw.Params, fromFile.Params) {
				t.Errorf("gateway %s params %v, the file writer's %v", gw.Name, gw.Params, fromFile.Params)
			}
		}
		slices.Sort(names)
		if want := []string{reg.GatewayName, ip.GatewayName}; !slices.Equal(names, sortStrings(want)) {
			t.Errorf("gateways %v, want the enabled trunks %v (not %s)", names, want, off.GatewayName)
		}
		if pw := paramValue(p.Gateways[slices.Index(names, reg.GatewayName)].Params, "password"); pw != password {
			t.Errorf("password in the answer %q, want the decrypted %q", pw, password)
		}
		wantSettings := append(shippedSettings(t), param{"apply-inbound-acl", sortStrings([]string{reg.GatewayName, ip.GatewayName})[0]},
			param{"apply-inbound-acl", sortStrings([]string{reg.GatewayName, ip.GatewayName})[1]})
		if !slices.Equal(p.Settings, wantSettings) {
			t.Errorf("profile settings\n%v\nwant the shipped ones and the trunks' lists\n%v", p.Settings, wantSettings)
		}

		a := parseDoc(t, e.config("acl.conf")).Section.Config
		lists := map[string][]string{}
		for _, l := range a.Lists {
			if l.Default != "deny" {
				t.Errorf("list %s default %q", l.Name, l.Default)
			}
			lists[l.Name] = []string{}
			for _, n := range l.Nodes {
				lists[l.Name] = append(lists[l.Name], n.Type+" "+n.CIDR)
			}
		}
		if a.Name != "acl.conf" || len(lists) != 3 || len(lists["sipbridge_deny"]) != 0 ||
			!slices.Equal(lists[ip.GatewayName], []string{"allow 203.0.113.0/24"}) ||
			!slices.Equal(lists[reg.GatewayName], []string{"allow 198.51.100.20/32"}) {
			t.Errorf("acl.conf lists %v", lists)
		}

		// Everything else: not found, so FreeSWITCH reads its own files.
		for _, form := range []url.Values{configForm("switch.conf"), configForm("xml_curl.conf"),
			{"section": {"directory"}, "key_value": {"sofia.conf"}}, {"section": {"dialplan"}}} {
			if w := e.post("10.1.2.3:5555", "fs", "node-secret", form); w.Code != 200 || w.Body.String() != xmlcurl.NotFound {
				t.Errorf("%v: %d %q, want the not-found document", form, w.Code, w.Body)
			}
		}
		if strings.Contains(e.logBuf.String(), "s3cret") {
			t.Errorf("the gateway password reached the log:\n%s", e.logBuf)
		}
	})
}

func sortStrings(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func paramValue(ps []param, name string) string {
	for _, p := range ps {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// Before the reconciler's first pass nothing is known: not found, the node
// starts on its own files and the pass's rescan asks again.
func TestNotFoundBeforeTheFirstPass(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newEnv(t, g, xmlcurl.Options{})
		e.addTrunk("main", nil)
		if got := e.config("sofia.conf"); got != xmlcurl.NotFound {
			t.Errorf("before the first pass: %q", got)
		}
		e.pass()
		if got := e.config("sofia.conf"); !strings.Contains(got, "<gateway name=") {
			t.Errorf("after the first pass, no gateway:\n%s", got)
		}
	})
}

// A change FreeSWITCH rejects leaves the last good gateway in the answer,
// as the file writer puts the last good file back.
func TestRejectedPassKeepsTheLastGood(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newEnv(t, g, xmlcurl.Options{})
		tr := e.addTrunk("main", nil)
		e.pass()
		good := e.config("sofia.conf")
		tr.FromUser = "changed-user"
		tr.Status = nil
		if err := e.store.UpdateTrunk(e.ctx, tr); err != nil {
			t.Fatal(err)
		}
		e.sw.mu.Lock()
		e.sw.rescan = "-ERR [[error near line 3]]\n"
		e.sw.mu.Unlock()
		if _, err := e.sync.Pass(e.ctx); err == nil {
			t.Fatal("the rejected pass reported no error")
		}
		if got := e.config("sofia.conf"); got != good || strings.Contains(got, "changed-user") {
			t.Errorf("after a rejected pass the answer changed:\n%s\nwant the last good:\n%s", got, good)
		}
	})
}

func TestAuthenticationAndAddresses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newEnv(t, g, xmlcurl.Options{AllowFrom: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}})
		e.addTrunk("main", nil)
		e.pass()
		form := configForm("sofia.conf")
		for _, c := range []struct {
			remote, user, pw string
			want             int
		}{
			{"127.0.0.1:1", "", "", 401},
			{"127.0.0.1:1", "fs", "bad-pw-123", 401},
			{"127.0.0.1:1", "other", "node-secret", 401},
			{"127.0.0.1:1", "fs", "bad-pw-123", 401}, // logged once with the first
			{"192.168.1.10:1", "fs", "node-secret", 200},
			{"[fd00::5]:1", "fs", "node-secret", 200},
			{"[::1]:1", "fs", "node-secret", 200},
			{"198.51.100.7:1", "fs", "node-secret", 200}, // FS_XML_CURL_ALLOW_FROM
			{"203.0.113.9:1", "fs", "node-secret", 403},
			{"[2001:db8::1]:1", "fs", "node-secret", 403},
			{"203.0.113.9:1", "", "", 403}, // the address is checked first
		} {
			w := e.post(c.remote, c.user, c.pw, form)
			if w.Code != c.want {
				t.Errorf("%s %s:%s: status %d, want %d", c.remote, c.user, c.pw, w.Code, c.want)
			}
			if c.want != 200 && strings.Contains(w.Body.String(), "gateway") {
				t.Errorf("%s: a refusal carries configuration: %s", c.remote, w.Body)
			}
			if c.want == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		}
		log := e.logBuf.String()
		if n := strings.Count(log, `"reason":"wrong credentials","remote":"127.0.0.1"`); n != 1 {
			t.Errorf("wrong credentials from 127.0.0.1 logged %d times, want once:\n%s", n, log)
		}
		if !strings.Contains(log, `"reason":"no credentials","remote":"127.0.0.1"`) ||
			!strings.Contains(log, `"remote":"203.0.113.9"`) || !strings.Contains(log, `"status":403`) {
			t.Errorf("refusals not logged with their reason and address:\n%s", log)
		}
		for _, secret := range []string{"node-secret", "s3cret", "bad-pw-123"} {
			if strings.Contains(log, secret) {
				t.Errorf("%q reached the log:\n%s", secret, log)
			}
		}
		r := httptest.NewRequest(http.MethodGet, "/fs/xml", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.SetBasicAuth("fs", "node-secret")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET: %d", w.Code)
		}
	})
}

// Each FS_NODES node may present its own credentials (its name and
// NodePassword): another node's password, or a name outside FS_NODES, is
// refused; with PerNode the shared pair is refused too.
func TestNodeCredentials(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		for _, perNode := range []bool{false, true} {
			e := newEnv(t, g, xmlcurl.Options{User: "fs", Password: "node-secret", Nodes: []string{"fs1", "fs2"}, PerNode: perNode})
			e.addTrunk(fmt.Sprintf("main%v", perNode), nil)
			e.pass()
			form := configForm("sofia.conf")
			shared := 200
			if perNode {
				shared = 401
			}
			for _, c := range []struct {
				user, pw string
				want     int
			}{
				{"fs1", xmlcurl.NodePassword("node-secret", "fs1"), 200},
				{"fs2", xmlcurl.NodePassword("node-secret", "fs2"), 200},
				{"fs1", xmlcurl.NodePassword("node-secret", "fs2"), 401},
				{"fs3", xmlcurl.NodePassword("node-secret", "fs3"), 401},
				{"fs1", "node-secret", 401},
				{"fs", "node-secret", shared},
			} {
				if w := e.post("127.0.0.1:1", c.user, c.pw, form); w.Code != c.want {
					t.Errorf("per node %v, %s: status %d, want %d", perNode, c.user, w.Code, c.want)
				}
			}
		}
		if p1, p2 := xmlcurl.NodePassword("node-secret", "fs1"), xmlcurl.NodePassword("other-secret", "fs1"); p1 == p2 || len(p1) != 32 {
			t.Errorf("node passwords %q %q: want 32 hex digits depending on the shared password", p1, p2)
		}
	})
}

// fixedSource is a reconciler's snapshot set by the test.
type fixedSource struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (f *fixedSource) Generated() (map[string][]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files, true
}

// A snapshot that would not parse is never sent: the last good document
// is, so the switch does not silently fall back to its own files.
func TestUnparsableServesTheLastGood(t *testing.T) {
	gw, _ := xmlgen.RenderGateway(xmlgen.Trunk{ID: "t1", GatewayName: "o1_main", Gateway: "sip.example.com"})
	src := &fixedSource{files: map[string][]byte{"gateways/o1_main.xml": gw}}
	var logBuf testkit.LogBuffer
	h := xmlcurl.New(src, xmlcurl.Options{User: "fs", Password: "pw", Profile: "external", Log: slog.New(slog.NewJSONHandler(&logBuf, nil))})
	ask := func() string {
		r := httptest.NewRequest(http.MethodPost, "/fs/xml", strings.NewReader(configForm("sofia.conf").Encode()))
		r.RemoteAddr = "127.0.0.1:1"
		r.SetBasicAuth("fs", "pw")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Body.String()
	}
	good := ask()
	if !strings.Contains(good, `<gateway name="o1_main">`) {
		t.Fatalf("first answer:\n%s", good)
	}
	src.mu.Lock()
	src.files = map[string][]byte{"gateways/o1_main.xml": []byte("<include>\n  <gateway name=\"o1_main\">\n</include>\n")}
	src.mu.Unlock()
	if got := ask(); got != good {
		t.Errorf("an unparsable snapshot was answered:\n%s", got)
	}
	if !strings.Contains(logBuf.String(), "serving the last good one") {
		t.Errorf("not logged: %s", logBuf.String())
	}
}

package console_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/assistant/echo"
	"github.com/sipbridge/sipbridge/console"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

// shifted is the store's clock: the real time, moved by what a test adds.
type shifted struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *shifted) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d).UTC().Truncate(time.Microsecond) // as the store's own clock
}
func (c *shifted) Add(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// env is the bridge (on the switch simulator when asked), its console's
// sessions on a settable clock, served over HTTP, and two organizations.
type env struct {
	t          *testing.T
	app        *app.App
	sw         *fstest.Switch
	srv        *httptest.Server
	store      *db.Store
	clock      *testkit.Clock
	storeClock *shifted
	keyA, keyB string
	echo       *httptest.Server // the echo assistant (placeCall)
	gateway    string           // the trunk placeCall's calls come in on
	orgA, orgB int64
}

const (
	idle   = 10 * time.Minute
	maxAge = time.Hour
)

func newEnv(t *testing.T, g *gorm.DB, withSwitch bool) *env {
	t.Helper()
	ctx := context.Background()
	store := db.NewStore(g, dbtest.Keyring(t), nil)
	e := &env{t: t, store: store, clock: testkit.NewClock(time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)), storeClock: &shifted{}}
	store.Now = e.storeClock.Now
	orgA, _, err := store.EnsureOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	orgB, _, _ := store.EnsureOrg(ctx, "Globex")
	e.orgA, e.orgB = orgA.ID, orgB.ID
	e.keyA, _, _ = store.CreateAPIKey(ctx, orgA.ID, "a")
	e.keyB, _, _ = store.CreateAPIKey(ctx, orgB.ID, "b")
	policy := netpolicy.Default()
	cfg := app.Config{Store: store, AddressPolicy: &policy, RecordingsDir: t.TempDir(), SyncInterval: time.Hour,
		PublicBaseURL: "https://bridge.example.com"}
	// A forward that fails is given up at once (the failed forwards' list).
	cfg.SMSOptions = func(o *sms.Options) { o.ForwardMaxAge, o.Poll = time.Millisecond, 50*time.Millisecond }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if withSwitch {
		// Calls come from the simulator on 127.0.0.1 and go to the echo
		// assistant there: loopback is allowed, as `make run` does.
		policy.AllowLoopback = true
		cfg.StreamWSBase = "ws://" + ln.Addr().String()
		gen := t.TempDir()
		e.sw = fstest.New(fstest.Options{GenDir: gen, Step: 5 * time.Millisecond})
		if err := e.sw.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.sw.Close() })
		cfg.Switch = &app.Switch{Addr: e.sw.Addr(), Password: "ClueCon", GenDir: gen, Profile: "external"}
	}
	cfg.ConsoleOptions = func(d *console.Deps) {
		d.IdleTimeout, d.MaxAge, d.Tick, d.Now = idle, maxAge, 50*time.Millisecond, e.clock.Now
	}
	a, err := app.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	select { // the start's adoption reads the store: done before a test hooks it
	case <-a.Adopted():
	case <-time.After(20 * time.Second):
		t.Fatal("the start's adoption did not end")
	}
	e.app = a
	e.srv = httptest.NewUnstartedServer(a.Web.Handler()) // the bridge's server, /console included
	e.srv.Listener.Close()
	e.srv.Listener = ln
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	e    *env
	c    *http.Client
	csrf string // the last page's CSRF token
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path, remembering the page's CSRF token.
func (b *browser) get(path string) (*http.Response, string) {
	b.e.t.Helper()
	resp, err := b.c.Get(b.e.srv.URL + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return resp, b.read(resp)
}

func (b *browser) read(resp *http.Response) string {
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := csrfRE.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return string(body)
}

// post sends form (with the last page's CSRF token unless form sets one).
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	resp, err := b.c.PostForm(b.e.srv.URL+path, form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return resp, b.read(resp)
}

// signIn signs in with key and lands on the trunks page.
func (b *browser) signIn(key string) {
	b.e.t.Helper()
	b.get("/console/signin")
	resp, body := b.post("/console/signin", url.Values{"api_key": {key}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/trunks" {
		b.e.t.Fatalf("sign-in: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp, body := b.get("/console/trunks"); resp.StatusCode != http.StatusOK {
		b.e.t.Fatalf("trunks page after sign-in: %d\n%s", resp.StatusCode, body)
	}
}

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

func each(t *testing.T, withSwitch bool, f func(t *testing.T, e *env)) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { f(t, newEnv(t, g, withSwitch)) })
}

func dbPage() db.Page { return db.Page{Limit: 100} }

// placeCall offers the simulated switch an inbound call to org A's number
// +16478491000 (on an IP-auth trunk for 127.0.0.1, answered by the echo
// assistant, recorded) and returns its record once it is in progress.
func (e *env) placeCall() *db.Call {
	e.t.Helper()
	ctx := context.Background()
	if e.echo == nil {
		e.echo = httptest.NewServer(echo.New(echo.Options{}))
		e.t.Cleanup(e.echo.Close)
		tr, err := e.app.Web.Trunks.Create(ctx, e.orgA, &trunkapi.Input{Name: ptr("PBX"), Gateway: ptr("127.0.0.1:5090"),
			Register: ptr(false), AllowedAddresses: &[]string{"127.0.0.1/32"}})
		if err != nil {
			e.t.Fatal(err)
		}
		a := &db.Assistant{OrgID: e.orgA, Name: "Echo", StreamURL: "ws" + strings.TrimPrefix(e.echo.URL, "http") + "/stream", RecordingEnabled: true}
		if err := e.store.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
			e.t.Fatal(err)
		}
		n := &db.PhoneNumber{OrgID: e.orgA, PhoneNumber: "+16478491000", Provider: db.ProviderBYOSIP, CountryCode: "CA",
			SIPTrunkID: &tr.ID, CapVoice: true, IsActive: true, AssistantID: &a.ID}
		if err := e.store.SaveNumber(ctx, n); err != nil {
			e.t.Fatal(err)
		}
		e.gateway = tr.GatewayName
	}
	uuid, err := e.sw.Call(fstest.InboundCall{FromUser: "+14165550100", RequestUser: "+16478491000", ACLAuthedBy: e.gateway})
	if err != nil {
		e.t.Fatal(err)
	}
	var rec *db.Call
	testkit.Eventually(e.t, 10*time.Second, "the call in progress", func() bool {
		calls, _, _ := e.store.ListCalls(ctx, e.orgA, db.CallFilter{Status: db.CallInProgress}, dbPage())
		for i := range calls {
			if calls[i].CallSID == uuid {
				rec = &calls[i]
			}
		}
		return rec != nil
	})
	return rec
}

func ptr[T any](v T) *T { return &v }

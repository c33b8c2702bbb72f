package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/providertest"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web"
	"gorm.io/gorm"
)

type env struct {
	t      *testing.T
	srv    *httptest.Server
	web    *web.Server
	store  *db.Store
	logs   *testkit.LogBuffer
	bodies *testkit.LogBuffer // every response body seen by do()
	twilio *providertest.Twilio
	telnyx *providertest.Telnyx
	sms    *smsFixture
	// changes is the bridge's change feed, which the API's caches check.
	changes *changes.Feed
	keyA    string
	keyB    string
	orgA    int64
	orgB    int64
}

// testNames is what host names resolve to in these tests; any other name
// does not resolve (the write-time checks accept it), so no test asks a
// real DNS server.
var testNames = map[string][]string{
	"rebind.example":   {"127.0.0.1"},
	"imds.example":     {"93.184.215.14", "169.254.169.254"},
	"internal.example": {"10.1.2.3"},
}

func testResolver(_ context.Context, network, host string) ([]netip.Addr, error) {
	ss, ok := testNames[strings.TrimSuffix(strings.ToLower(host), ".")]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		if a := netip.MustParseAddr(s); network == "ip" || (network == "ip4") == a.Is4() {
			out = append(out, a)
		}
	}
	return out, nil
}

// defaultPolicy is production's address policy (no loopback, link-local or
// metadata address) with the test resolver.
func defaultPolicy() *netpolicy.Policy {
	p := netpolicy.Default()
	p.Resolver = testResolver
	return &p
}

// loopbackPolicy also allows loopback addresses: the harnesses whose fake
// assistants and webhook receivers listen on 127.0.0.1 set it explicitly.
func loopbackPolicy() *netpolicy.Policy {
	return &netpolicy.Policy{AllowPrivate: true, AllowLoopback: true, Resolver: testResolver}
}

// newEnv is the API with production's address policy.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, defaultPolicy())
}

// newEnvWith is the API whose write-time checks and SMS forwards use policy.
func newEnvWith(t *testing.T, policy *netpolicy.Policy) *env {
	t.Helper()
	return newEnvOn(t, policy, dbtest.Postgres(t))
}

// eachEnv runs f on the API over each database (subtests "sqlite" and
// "postgres"), with production's address policy.
func eachEnv(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { f(t, newEnvOn(t, defaultPolicy(), g)) })
}

// eachEnvWithTrunk is eachEnv with an environment-level SIP trunk (SIP_GATEWAY…).
func eachEnvWithTrunk(t *testing.T, envTrunk trunk.Env, f func(t *testing.T, e *env)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { f(t, newEnvOn(t, defaultPolicy(), g, envTrunk)) })
}

// newApp builds the bridge as serve does (see package app), closed when the
// test ends.
func newApp(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// newEnvOn is the API on the database g (with at most one environment-level SIP trunk).
func newEnvOn(t *testing.T, policy *netpolicy.Policy, g *gorm.DB, envTrunk ...trunk.Env) *env {
	t.Helper()
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := db.NewStore(g, dbtest.Keyring(t), log)
	tw := providertest.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
	tx := providertest.NewTelnyx(t, "KEYtelnyx0123456789")
	vg := providertest.NewVonage(t, "vonagekey", "vonagesecret")
	cfg := app.Config{Store: store, Log: log, PublicBaseURL: publicBase, AddressPolicy: policy,
		Provider:   provider.Config{TwilioBaseURL: tw.URL(), TelnyxBaseURL: tx.URL(), VonageRESTBaseURL: vg.URL(), VonageAPIBaseURL: vg.URL()},
		SMSOptions: smsTestOptions}
	for _, et := range envTrunk {
		cfg.EnvTrunk = et
	}
	bridge := newApp(t, cfg) // no Start: the SMS tests start the workers they need
	s := bridge.Web
	sms := &smsFixture{svc: bridge.SMS, vonage: vg}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, web: s, store: store, logs: logs, bodies: &testkit.LogBuffer{}, twilio: tw, telnyx: tx, sms: sms, changes: bridge.Changes}
	ctx := context.Background()
	a, b := e.addOrgs()
	// Messages go anywhere (+1 647, +44 7700 900…): outbound_countries
	// applies to SMS as to calls, and limits_test.go tests it.
	for _, o := range []*db.Organization{a, b} {
		o.Settings.CallLimits.OutboundCountries = []string{"*"}
		if err := store.UpdateOrg(ctx, o, db.OrgSecrets{}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// addOrgs creates organizations A ("org-a") and B ("org-b") with an API
// key each.
func (e *env) addOrgs() (a, b *db.Organization) {
	e.t.Helper()
	ctx := context.Background()
	var err error
	if a, _, err = e.store.EnsureOrg(ctx, "org-a"); err != nil {
		e.t.Fatal(err)
	}
	if b, _, err = e.store.EnsureOrg(ctx, "org-b"); err != nil {
		e.t.Fatal(err)
	}
	e.orgA, e.orgB = a.ID, b.ID
	e.keyA, _, _ = e.store.CreateAPIKey(ctx, a.ID, "a")
	e.keyB, _, _ = e.store.CreateAPIKey(ctx, b.ID, "b")
	return a, b
}

type resp struct {
	Status int
	Body   map[string]any // a JSON object answer
	List   []any          // a JSON array answer (a list route)
	// Total is the list's X-Total-Count header, -1 when absent.
	Total  int
	Header http.Header
	Raw    string
}

func (r resp) errField() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		f, _ := e["field"].(string)
		return f
	}
	return ""
}

func (r resp) errCode() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		f, _ := e["code"].(string)
		return f
	}
	return ""
}

func (e *env) do(method, path, key string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	e.bodies.Write(raw)
	r := resp{Status: res.StatusCode, Raw: string(raw), Header: res.Header, Total: -1}
	if v := res.Header.Get("X-Total-Count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			e.t.Fatalf("%s %s: X-Total-Count %q", method, path, v)
		}
		r.Total = n
	}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '[' {
			if err := json.Unmarshal(raw, &r.List); err != nil || r.List == nil {
				e.t.Fatalf("%s %s: response is not a JSON array: %s", method, path, raw)
			}
			if r.Total < 0 {
				e.t.Fatalf("%s %s: a list without X-Total-Count", method, path)
			}
		} else if err := json.Unmarshal(raw, &r.Body); err != nil || r.Body == nil {
			e.t.Fatalf("%s %s: response is not a JSON object: %s", method, path, raw)
		}
	}
	return r
}

func (e *env) mustDo(method, path, key string, body any, want int) resp {
	e.t.Helper()
	r := e.do(method, path, key, body)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r
}

func regTrunk(name string) map[string]any {
	return map[string]any{"name": name, "gateway": "sip.zadarma.com", "username": "user1", "password": "pw-" + strings.ReplaceAll(name, " ", "-")}
}

func providertestNumber(sid, number string) providertest.TwilioNumber {
	return providertest.TwilioNumber{SID: sid, PhoneNumber: number}
}

package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

// Numbers of the reproduction: premium rate (+1 900), shared cost (+34
// 901), satellite / international networks (+882, +881, +870).
const (
	premiumUS    = "+19005550123"
	sharedCostES = "+34901123456"
	satellite882 = "+8821612345678"
	satellite881 = "+881612345678"
	inmarsat870  = "+870772123456"
)

func (e *env) setLimits(key string, limits map[string]any) {
	e.t.Helper()
	e.mustDo("PUT", "/api/v1/organization", key, map[string]any{"call_limits": limits}, 200)
}

// Calls: costly number types are refused (403 naming to_phone_number)
// before any originate, even with every country allowed, until the
// organization lists the type.
func TestCallDestinationRules(t *testing.T) {
	ce := newCallEnv(t)
	ce.loadTrunks()
	ce.addNumber("+16478491000", ce.assistant.ID)
	check := func(to string, status int, code string) {
		t.Helper()
		r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", to))
		if r.Status != status || (status != 200 && (r.errCode() != code || r.errField() != "to_phone_number")) {
			t.Fatalf("%s: %d %s, want %d %s", to, r.Status, r.Raw, status, code)
		}
		if status == 200 {
			sid := r.Body["call_sid"].(string)
			ce.sw.Hangup(sid, "NORMAL_CLEARING")
			ce.waitCall(sid, db.CallCompleted, 3*time.Second)
		}
	}
	// The default allow-list (US only): a satellite number is refused as such.
	check(satellite882, 403, "number_type_not_allowed")
	check(premiumUS, 403, "number_type_not_allowed") // a US number, yet premium rate
	check("+442079460018", 403, "country_not_allowed")
	ce.allowCountries("*")
	for _, to := range []string{premiumUS, sharedCostES, satellite882, satellite881, inmarsat870} {
		check(to, 403, "number_type_not_allowed")
	}
	if r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", premiumUS)); !strings.Contains(r.Raw, "allow_number_types") {
		t.Fatalf("the refusal does not say how to allow it: %s", r.Raw)
	}
	if n := len(ce.commandsWith("originate")); n != 0 {
		t.Fatalf("%d originates for refused calls", n)
	}
	ce.setLimits(ce.keyA, map[string]any{"allow_number_types": []string{"premium_rate"}})
	check(premiumUS, 200, "")
	check(sharedCostES, 403, "number_type_not_allowed")
	check(satellite882, 403, "number_type_not_allowed")
	ce.setLimits(ce.keyA, map[string]any{"allow_number_types": []string{"premium_rate", "shared_cost", "satellite"}})
	check(satellite882, 200, "")
	// Non-geographic numbers need every country ("*").
	ce.allowCountries("US")
	check(satellite882, 403, "country_not_allowed")
}

// Transfers (the API's, the assistant's) follow the same rules, for a
// bridge and for a REFER whose number the carrier would dial; the call
// stays with its assistant.
func TestTransferDestinationRules(t *testing.T) {
	ce := newCallEnv(t)
	ce.loadTrunks()
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.allowCountries("*")
	_, ac, rec := ce.liveCall()
	for _, to := range []string{premiumUS, sharedCostES, satellite882, "sip:" + satellite882 + "@pbx.example.com", "sip:" + premiumUS + "@carrier.example.com"} {
		r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": to})
		if r.Status != 403 || r.errCode() != "number_type_not_allowed" || r.errField() != "to" {
			t.Fatalf("transfer to %s: %d %s", to, r.Status, r.Raw)
		}
	}
	// The assistant's own transfer event is refused the same way.
	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": premiumUS}})
	if !waitUntil(2*time.Second, func() bool {
		r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
		return strings.Count(r.Raw, "transfer_failed") >= 6
	}) {
		t.Fatalf("the assistant's transfer to %s was not refused: %s", premiumUS, ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200).Raw)
	}
	if n := len(ce.commandsWith("originate")) + len(ce.commandsWith("uuid_deflect")); n != 0 {
		t.Fatalf("%d originates or REFERs for refused transfers", n)
	}
	n := ac.mediaCount()
	if !waitUntil(2*time.Second, func() bool { return ac.mediaCount() > n+10 }) {
		t.Fatal("the assistant stopped hearing the caller after refused transfers")
	}
}

// SMS and MMS: outbound_countries and the costly number types apply as for
// calls (before, +882 and +1 900 were sent while a call there was 403).
func TestSMSDestinationRules(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	e.setLimits(e.keyA, map[string]any{"outbound_countries": []string{"US", "CA"}})
	check := func(to string, status int, code string, extra map[string]any) {
		t.Helper()
		r := e.do("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", to, "hello", extra))
		if r.Status != status || (status != 200 && (r.errCode() != code || r.errField() != "to_phone_number")) {
			t.Fatalf("%s: %d %s, want %d %s", to, r.Status, r.Raw, status, code)
		}
	}
	mms := map[string]any{"media_urls": []string{"https://cdn.example.com/a.png"}}
	for _, extra := range []map[string]any{nil, mms} {
		check(satellite882, 403, "number_type_not_allowed", extra)
		check(premiumUS, 403, "number_type_not_allowed", extra)
		check("+442079460018", 403, "country_not_allowed", extra)
		check("+16475550111", 200, "", extra)
	}
	e.setLimits(e.keyA, map[string]any{"outbound_countries": []string{"*"}})
	check(premiumUS, 403, "number_type_not_allowed", nil)
	check(sharedCostES, 403, "number_type_not_allowed", nil)
	check("+442079460018", 200, "", nil)
	e.setLimits(e.keyA, map[string]any{"allow_number_types": []string{"premium_rate"}})
	check(premiumUS, 200, "", nil)
	check(satellite882, 403, "number_type_not_allowed", nil)
	if n := len(e.twilio.SentMessages()); n != 0 {
		t.Fatalf("%d messages reached the provider before the worker ran", n)
	}
	if st := e.mustDo("GET", "/api/v1/sms/queue/stats", e.keyA, nil, 200); st.Body["queued"] != 4.0 {
		t.Fatalf("queued: %s, want the 4 accepted messages only", st.Raw)
	}
}

// A new organization (limits 0) gets the platform's defaults; its own
// values win; GET /organization shows what applies.
func TestPlatformDefaultCallLimits(t *testing.T) {
	ce := newCallEnv(t, func(o *sip.CallsOptions) {
		o.DefaultLimits = call.PlatformLimits{MaxConcurrentCalls: 1, CallsPerSecond: 100}
	})
	ce.loadTrunks()
	ce.allowCountries("*")
	ce.addNumber("+16478491000", ce.assistant.ID)
	first := ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"), 200)
	if r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550198")); r.Status != 429 || r.errCode() != "limit_exceeded" {
		t.Fatalf("over the platform's concurrent default: %d %s", r.Status, r.Raw)
	}
	ce.setLimits(ce.keyA, map[string]any{"max_concurrent_calls": 2})
	second := ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550198"), 200)
	for _, r := range []resp{first, second} {
		sid := r.Body["call_sid"].(string)
		ce.sw.Hangup(sid, "NORMAL_CLEARING")
		ce.waitCall(sid, db.CallCompleted, 3*time.Second)
	}

	ce = newCallEnv(t, func(o *sip.CallsOptions) {
		o.DefaultLimits = call.PlatformLimits{CallsPerSecond: 1}
	})
	ce.loadTrunks()
	ce.allowCountries("*")
	ce.addNumber("+16478491000", ce.assistant.ID)
	first = ce.mustDo("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"), 200)
	if r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550198")); r.Status != 429 {
		t.Fatalf("over the platform's rate default: %d %s", r.Status, r.Raw)
	}
	ce.sw.Hangup(first.Body["call_sid"].(string), "NORMAL_CLEARING")
}

func TestOrganizationCallLimitsView(t *testing.T) {
	store := db.NewStore(dbtest.Postgres(t), dbtest.Keyring(t), nil)
	s := newApp(t, app.Config{Store: store, CallDefaults: call.PlatformLimits{MaxConcurrentCalls: 10, CallsPerSecond: 5}}).Web
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, web: s, store: store, logs: &testkit.LogBuffer{}, bodies: &testkit.LogBuffer{}}
	a, _, _ := store.EnsureOrg(context.Background(), "new-org")
	e.keyA, _, _ = store.CreateAPIKey(context.Background(), a.ID, "a")
	limits := func() map[string]any {
		return e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200).Body["call_limits"].(map[string]any)
	}
	l := limits()
	if l["max_concurrent_calls"] != 0.0 || l["effective_max_concurrent_calls"] != 10.0 || l["calls_per_second"] != 0.0 || l["effective_calls_per_second"] != 5.0 {
		t.Fatalf("a new organization's limits: %v", l)
	}
	if got, _ := l["allow_number_types"].([]any); got == nil || len(got) != 0 {
		t.Fatalf("allow_number_types %v", l["allow_number_types"])
	}
	e.setLimits(e.keyA, map[string]any{"max_concurrent_calls": 50, "allow_number_types": []string{"Premium_Rate", "satellite", "premium_rate"}})
	l = limits()
	if l["effective_max_concurrent_calls"] != 50.0 || l["effective_calls_per_second"] != 5.0 || len(l["allow_number_types"].([]any)) != 2 {
		t.Fatalf("after PUT: %v", l)
	}
	for _, bad := range []any{[]string{"toll_free"}, []string{"*"}, "premium_rate"} {
		r := e.do("PUT", "/api/v1/organization", e.keyA, map[string]any{"call_limits": map[string]any{"allow_number_types": bad}})
		if r.Status != 400 || !strings.HasPrefix(r.errField(), "call_limits.allow_number_types") {
			t.Errorf("allow_number_types %v: %d %s", bad, r.Status, r.Raw)
		}
	}
}

package web_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/creds"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/providertest"
	"github.com/sipbridge/sipbridge/provider/twilio"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web"
	"gorm.io/gorm"
)

// credsEnv is the API with numbers, hosted calls and SMS wired as serve
// wires them, in front of three Twilio accounts (the assistant's, the
// organization's, the environment's), each its own fake behind one base
// URL that dispatches on the account SID of the path.
type credsEnv struct {
	*env
	base     string
	accounts map[string]*providertest.Twilio // by level
	sms      *sms.Service
}

var credsLevels = []string{creds.LevelAssistant, creds.LevelOrganization, creds.LevelEnvironment}

func newCredsEnvOn(t *testing.T, g *gorm.DB) *credsEnv {
	t.Helper()
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := db.NewStore(g, dbtest.Keyring(t), log)
	ce := &credsEnv{accounts: map[string]*providertest.Twilio{}}
	bySID := map[string]*httputil.ReverseProxy{}
	for i, level := range credsLevels {
		sid := "AC" + strings.Repeat(string(rune('a'+i)), 32)
		f := providertest.NewTwilio(t, sid, strings.Repeat(string(rune('0'+i)), 32))
		ce.accounts[level] = f
		u, _ := url.Parse(f.URL())
		bySID[sid] = httputil.NewSingleHostReverseProxy(u)
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/") // "", "2010-04-01", "Accounts", SID, ...
		if len(parts) > 3 && bySID[parts[3]] != nil {
			bySID[parts[3]].ServeHTTP(w, r)
			return
		}
		http.Error(w, `{"code":20404,"message":"no such account","status":404}`, http.StatusNotFound)
	}))
	t.Cleanup(front.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ce.base = "http://" + ln.Addr().String()
	envTW := ce.accounts[creds.LevelEnvironment]
	envCreds := provider.Credentials{Twilio: &provider.TwilioCreds{AccountSID: envTW.AccountSID, AuthToken: envTW.AuthToken}}
	pc := provider.Config{TwilioBaseURL: front.URL, Retry: provider.RetryPolicy{MaxAttempts: 1}}
	trunks := trunk.New(store, log)
	nums := numbers.New(store, trunks, numbers.Options{PublicBaseURL: ce.base, ProviderConfig: pc, Env: envCreds, Log: log})
	hp := hosted.New(store, hosted.Options{PublicBaseURL: ce.base, ProviderConfig: pc, Env: envCreds, HangupGrace: 2 * time.Second,
		Options: call.Options{Log: log, AssistantConnectTimeout: time.Second, AddressPolicy: loopbackPolicy()}})
	calls := sip.NewCalls(store, nil, sip.CallsOptions{Hosted: hp, Options: call.Options{Log: log, AddressPolicy: loopbackPolicy()}})
	ce.sms = sms.New(store, call.CheckDestination, sms.Options{PublicBaseURL: ce.base, ProviderConfig: pc, Env: envCreds, Log: log,
		Poll: 10 * time.Millisecond, RetryBase: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, AddressPolicy: loopbackPolicy()})
	s := web.New(web.Deps{Store: store, Log: log, Trunks: trunks, Numbers: nums, Hosted: hp, Calls: calls, SMS: ce.sms,
		AddressPolicy: loopbackPolicy()})
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		hp.Close()
		calls.Close()
		srv.Close()
	})
	ce.env = &env{t: t, srv: srv, web: s, store: store, logs: logs, bodies: &testkit.LogBuffer{}}
	ctx := context.Background()
	a, _, err := store.EnsureOrg(ctx, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	a.Settings.CallLimits.OutboundCountries = []string{"*"}
	if err := store.UpdateOrg(ctx, a, db.OrgSecrets{}); err != nil {
		t.Fatal(err)
	}
	ce.orgA = a.ID
	ce.keyA, _, _ = store.CreateAPIKey(ctx, a.ID, "a")
	return ce
}

// twilioCreds is the API's twilio object for an account.
func twilioCreds(f *providertest.Twilio) map[string]any {
	return map[string]any{"account_sid": f.AccountSID, "auth_token": f.AuthToken}
}

// TestResolvedProviderIsWhatTrafficUses: with Twilio credentials configured
// down to a level (every less specific level also holding its own account),
// resolved_provider names that level, and the outbound hosted call, the SMS
// sent from the assistant's number and the signature accepted on its
// inbound voice webhook all use that level's account, no other. An
// assistant with incomplete credentials (no auth token) is skipped.
func TestResolvedProviderIsWhatTrafficUses(t *testing.T) {
	cases := []struct {
		name, want     string
		org, asst      bool
		asstSIDOnly    bool
		otherTokenFrom string // a configured level whose signature must be refused
	}{
		{name: "assistant", want: creds.LevelAssistant, org: true, asst: true, otherTokenFrom: creds.LevelOrganization},
		{name: "organization", want: creds.LevelOrganization, org: true, otherTokenFrom: creds.LevelEnvironment},
		{name: "incomplete assistant", want: creds.LevelOrganization, org: true, asst: true, asstSIDOnly: true, otherTokenFrom: creds.LevelEnvironment},
		{name: "environment", want: creds.LevelEnvironment, otherTokenFrom: creds.LevelAssistant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
				ce := newCredsEnvOn(t, g)
				ce.checkLevel(tc.org, tc.asst, tc.asstSIDOnly, tc.want, tc.otherTokenFrom)
			})
		})
	}
}

func (ce *credsEnv) checkLevel(org, asst, asstSIDOnly bool, want, otherTokenFrom string) {
	t := ce.t
	t.Helper()
	if org {
		ce.mustDo("PUT", "/api/v1/organization", ce.keyA, map[string]any{"twilio": twilioCreds(ce.accounts[creds.LevelOrganization])}, 200)
	}
	body := map[string]any{"name": "Receptionist", "stream_url": newTestAssistant(t).URL()}
	if asst {
		tw := twilioCreds(ce.accounts[creds.LevelAssistant])
		if asstSIDOnly {
			delete(tw, "auth_token")
		}
		body["twilio_config"] = tw
	}
	id := ce.mustDo("POST", "/api/v1/assistants", ce.keyA, body, 201).Body["id"].(string)
	number := "+16475550100"
	if err := ce.store.SaveNumber(context.Background(), &db.PhoneNumber{OrgID: ce.orgA, PhoneNumber: number, Provider: db.ProviderTwilio,
		CountryCode: "CA", CapVoice: true, CapSMS: true, IsActive: true, AssistantID: &id}); err != nil {
		t.Fatal(err)
	}

	// What the API says.
	rp, _ := ce.mustDo("GET", "/api/v1/assistants/"+id, ce.keyA, nil, 200).Body["resolved_provider"].(map[string]any)
	if rp["provider"] != "twilio" || rp["level"] != want {
		t.Fatalf("resolved_provider = %v, want twilio at %s", rp, want)
	}

	// What an outbound hosted call uses.
	ce.mustDo(http.MethodPost, "/api/v1/calls/initiate", ce.keyA, map[string]any{"from_phone_number": number,
		"to_phone_number": "+16475557777", "assistant_id": id}, 200)
	for _, level := range credsLevels {
		if n, wantN := len(ce.accounts[level].CallsCreated()), map[bool]int{true: 1}[level == want]; n != wantN {
			t.Errorf("the %s account created %d calls, want %d (resolved_provider says %s)", level, n, wantN, want)
		}
	}

	// What an SMS from the assistant's number uses.
	ce.mustDo("POST", "/api/v1/sms/send", ce.keyA, sendBody(number, "+16475550111", "See you at 3", nil), 200)
	startWorkers(t, ce.sms.RunQueue)
	eventually(t, "the message sent", func() bool {
		total := 0
		for _, f := range ce.accounts {
			total += len(f.SentMessages())
		}
		return total == 1
	})
	if n := len(ce.accounts[want].SentMessages()); n != 1 {
		t.Errorf("the %s account sent %d messages, want the one sent", want, n)
	}

	// Which signature the inbound voice webhook of the number accepts.
	form := url.Values{"CallSid": {"CA" + strings.Repeat("9", 32)}, "AccountSid": {ce.accounts[want].AccountSID}, "From": {"+14165550199"},
		"To": {number}, "Direction": {"inbound"}, "CallStatus": {"ringing"}, "ApiVersion": {"2010-04-01"}}
	signed := func(level string) int {
		sig := twilio.Signature(ce.accounts[level].AuthToken, ce.base+"/twiml", form)
		req, _ := http.NewRequest(http.MethodPost, ce.srv.URL+"/twiml", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := signed(otherTokenFrom); st != http.StatusForbidden {
		t.Errorf("inbound webhook signed by the %s account: %d, want 403", otherTokenFrom, st)
	}
	if st := signed(want); st != http.StatusOK {
		t.Errorf("inbound webhook signed by the %s account: %d, want 200", want, st)
	}
}

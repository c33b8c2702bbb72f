package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/telnyx"
)

// Provider-hosted calls live in the memory of the replica that took them.
// With two replicas a and b (presence lasting 1 s), the open hosted
// records of a replica whose presence expired more than a TTL ago are
// closed by a live one that has renewed its own for a TTL (failed, saying
// the replica holding the call stopped), within a bounded time; a live
// replica's are not. The providers' callbacks about such a
// call afterwards are accepted and leave it closed. A replica restarting
// under its name closes its previous run's hosted records at once.
func TestDeadReplicasHostedCallsAreClosed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newClusterEnv(t, g, "fs1")
		ctx := context.Background()
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		hostedCfg := func(c *app.Config) {
			c.PublicBaseURL = "https://sipbridge.example.com"
			c.Env = provider.Credentials{Telnyx: &provider.TelnyxCreds{PublicKey: base64.StdEncoding.EncodeToString(pub)}}
		}
		// x ran before and stopped 3 s ago without closing its calls; its
		// presence (2 s) has expired.
		if err := e.store.Announce(ctx, "x", "http://x.internal:8080", time.Now().Add(-3*time.Second), 2*time.Second); err != nil {
			t.Fatal(err)
		}
		rec := func(prov, replica string) *db.Call {
			t.Helper()
			c := &db.Call{OrgID: e.org, Provider: prov, Replica: replica, Direction: db.DirectionInbound, Status: db.CallInProgress,
				CallSID: db.NewID()}
			if prov == provider.NameTwilio {
				c.CallSID = "CA" + strings.ReplaceAll(db.NewID(), "-", "")
			}
			if err := e.store.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		xTwilio, xTelnyx := rec(provider.NameTwilio, "x"), rec(provider.NameTelnyx, "x")
		bCall := rec(provider.NameVonage, "b")

		began := time.Now()
		short := func(name string) *app.Replica { r := replica(name); r.TTL = time.Second; return r }
		a := e.bridgeWith(t, short("a"), hostedCfg)
		b := e.bridgeWith(t, short("b"), hostedCfg)
		state := func(c *db.Call) *db.Call {
			t.Helper()
			got, err := e.store.GetCall(ctx, e.org, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		const stopped = "the sipbridge replica holding the call stopped"
		testkit.Eventually(t, 5*time.Second, "x's hosted calls closed", func() bool {
			return state(xTwilio).Status == db.CallFailed && state(xTelnyx).Status == db.CallFailed
		}, func() string { return fmt.Sprintf("%+v", state(xTwilio)) })
		t.Logf("x's calls closed %v after a and b started", time.Since(began).Round(time.Millisecond))
		for _, c := range []*db.Call{xTwilio, xTelnyx} {
			if got := state(c); got.Reason != stopped || got.EndedAt == nil {
				t.Errorf("x's %s call: reason %q ended %v", c.Provider, got.Reason, got.EndedAt)
			}
		}
		// bCall was b's previous run's: b's start closed it. A call of b
		// while b runs stays open past b's presence TTL (b renews it).
		if got := state(bCall); got.Status != db.CallFailed || got.Reason != "sipbridge restarted while the call was live" {
			t.Errorf("b's previous run's call after b started: %s %q, want closed by b's start", got.Status, got.Reason)
		}
		live := rec(provider.NameTwilio, "b")
		time.Sleep(2300 * time.Millisecond) // past b's presence and the TTL of grace
		if got := state(live); got.Status != db.CallInProgress {
			t.Errorf("b's live call while b runs: %s %q, want in progress", got.Status, got.Reason)
		}

		// b stops (its presence is left to expire): a closes b's call.
		b.Close()
		stoppedAt := time.Now()
		testkit.Eventually(t, 8*time.Second, "b's hosted call closed by a", func() bool { return state(live).Status == db.CallFailed }, nil)
		if took := time.Since(stoppedAt); took < 1500*time.Millisecond {
			t.Errorf("b's call closed %v after b stopped, before its presence (1 s) and a TTL of grace passed", took)
		} else {
			t.Logf("b's call closed by a %v after b stopped (presence 1 s)", took.Round(time.Millisecond))
		}
		if got := state(live); got.Reason != stopped {
			t.Errorf("b's call: reason %q", got.Reason)
		}

		// The providers' late callbacks about x's calls: accepted, the
		// records stay closed.
		base := serve(t, a)
		form := url.Values{"CallSid": {xTwilio.CallSID}, "CallStatus": {"completed"}, "AccountSid": {"AC" + strings.Repeat("0", 32)},
			"From": {"+14165550100"}, "To": {"+16478491000"}, "Direction": {"outbound-api"}}
		res, err := http.PostForm(base+"/twiml/status", form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("Twilio's late status callback: %d, want 200", res.StatusCode)
		}
		body := fmt.Sprintf(`{"data":{"event_type":"call.hangup","id":"%s","payload":{"call_control_id":"%s","hangup_cause":"normal_clearing","direction":"incoming","from":"+14165550100","to":"+16478491000"}}}`,
			db.NewID(), xTelnyx.CallSID)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, _ := http.NewRequest(http.MethodPost, base+"/telnyx-webhook", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(telnyx.TimestampHeader, ts)
		req.Header.Set(telnyx.SignatureHeader, base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(ts+"|"+body))))
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("Telnyx's late call.hangup: %d, want 200", res.StatusCode)
		}
		for _, c := range []*db.Call{xTwilio, xTelnyx} {
			if got := state(c); got.Status != db.CallFailed || got.Reason != stopped {
				t.Errorf("x's %s call after its provider's callback: %s %q", c.Provider, got.Status, got.Reason)
			}
		}
	})
}

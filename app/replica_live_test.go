package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/netpolicy"
)

// quietAssistant takes a call's stream and listens until it closes.
func quietAssistant(t *testing.T) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/stream"
}

// A live call on b's node, answered by its assistant, is hung up from the
// console of replica a, and the next one through a's Twilio-compatible
// route: a signs the requests to b (neither carries an API key to pass
// on), b hangs the calls up, and the records say so.
func TestConsoleAndTwilioCompatHangUpAnotherReplicasLiveCall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newClusterEnv(t, g, "fs1")
		ctx := context.Background()
		asst := &db.Assistant{OrgID: e.org, Name: "Receptionist", StreamURL: quietAssistant(t)}
		if err := e.store.SaveAssistant(ctx, asst, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		num := &db.PhoneNumber{OrgID: e.org, PhoneNumber: "+16478491999", Provider: db.ProviderBYOSIP, CountryCode: "CA",
			SIPTrunkID: &e.trunk.ID, CapVoice: true, IsActive: true, AssistantID: &asst.ID}
		if err := e.store.SaveNumber(ctx, num); err != nil {
			t.Fatal(err)
		}
		lnB := listen(t)
		rb := replica("b")
		rb.Addr = "http://" + lnB.Addr().String()
		loopback := &netpolicy.Policy{AllowPrivate: true, AllowLoopback: true}
		b := e.bridgeWith(t, rb, func(c *app.Config) {
			c.StreamWSBase = "ws://" + lnB.Addr().String()
			c.CallsOptions = func(o *sip.CallsOptions) { o.AddressPolicy = loopback }
		})
		serveOn(t, b, lnB)
		testkit.Eventually(t, 5*time.Second, "b holding fs1", func() bool { return b.Leases.Holds("fs1") && b.SwitchUp() }, nil)
		a := e.bridge(t, replica("a"))
		baseA := serve(t, a)
		if a.Leases.Holds("fs1") {
			t.Fatal("a holds fs1 while b renews its lease")
		}

		uuid := e.call(t, 0)
		var rec db.Call
		testkit.Eventually(t, 10*time.Second, "the call answered on b", func() bool {
			rs := e.records(t)[uuid]
			if len(rs) == 1 {
				rec = rs[0]
			}
			return rec.Status == db.CallInProgress
		}, func() string { return rec.Status + " " + rec.Reason })

		jar, _ := cookiejar.New(nil)
		web := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
		page := func(res *http.Response, err error) (int, string, string) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			tok := ""
			if m := csrf.FindStringSubmatch(string(body)); m != nil {
				tok = m[1]
			}
			return res.StatusCode, res.Header.Get("Location"), tok
		}
		_, _, tok := page(web.Get(baseA + "/console/signin"))
		page(web.PostForm(baseA+"/console/signin", url.Values{"api_key": {e.key}, "csrf": {tok}}))
		_, _, tok = page(web.Get(baseA + "/console/calls/" + rec.ID))
		st, loc, _ := page(web.PostForm(baseA+"/console/calls/"+rec.ID+"/hangup", url.Values{"csrf": {tok}}))
		if st != http.StatusSeeOther || !strings.HasSuffix(loc, "?done=hangup") {
			t.Fatalf("the console's hangup on a: %d %q, want done", st, loc)
		}
		var got db.Call
		testkit.Eventually(t, 5*time.Second, "the call ended by b", func() bool {
			got = e.records(t)[uuid][0]
			return got.EndedAt != nil
		}, func() string { return got.Status + " " + got.Reason })
		evs, _ := e.store.CallEvents(ctx, e.org, rec.ID)
		hung := false
		for _, ev := range evs {
			hung = hung || ev.Type == call.EventHangupRequested
		}
		if got.Status != db.CallCompleted || !hung {
			t.Errorf("after the console's hangup on a: %s %q, events %+v", got.Status, got.Reason, evs)
		}

		// The next call, hung up through a's Twilio-compatible route.
		uuid = e.call(t, 0)
		rec = db.Call{}
		testkit.Eventually(t, 10*time.Second, "the second call answered on b", func() bool {
			if rs := e.records(t)[uuid]; len(rs) == 1 {
				rec = rs[0]
			}
			return rec.Status == db.CallInProgress
		}, func() string { return rec.Status + " " + rec.Reason })
		req := twilioCompatHangup(t, e, baseA, rec.ID)
		if st, _, _ := page(http.DefaultClient.Do(req)); st != http.StatusOK {
			t.Fatalf("the Twilio-compatible hangup on a: %d, want 200", st)
		}
		testkit.Eventually(t, 5*time.Second, "the second call ended by b", func() bool {
			got = e.records(t)[uuid][0]
			return got.EndedAt != nil
		}, func() string { return got.Status + " " + got.Reason })
		if got.Status != db.CallCompleted {
			t.Errorf("after the Twilio-compatible hangup on a: %s %q", got.Status, got.Reason)
		}
	})
}

package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/secret"
)

func replica(name string) *app.Replica {
	return &app.Replica{Name: name, Addr: "http://" + name + ".internal:8080", TTL: 2 * time.Second, Renew: 100 * time.Millisecond}
}

// liveRecord is an in-progress SIP call on node fs9, which no replica
// runs (so none adopts it: no channel behind it, its holder's call control
// answers that it is not live).
func (e *clusterEnv) liveRecord(t *testing.T, org int64) *db.Call {
	t.Helper()
	rec := &db.Call{OrgID: org, Direction: db.DirectionInbound, Status: db.CallInProgress, Node: "fs9", CallSID: db.NewID()}
	if err := e.store.CreateCall(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// A replica's internal call route answers only a request signed with the
// replicas' key, for the signature's organization: without a signature
// 401, with another key's, a changed body, an old one or one already used
// 403, and the call is left alone (no event); the good one reaches call
// control (which answers that the call is not live there), and another
// organization's call is 404. A replica's own refusal never leaks the key.
func TestReplicaRouteNeedsTheReplicasSignature(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newClusterEnv(t, g, "fs1")
		logs := &testkit.LogBuffer{}
		b := e.bridgeLogging(t, replica("b"), slog.New(slog.NewJSONHandler(logs, nil)))
		testkit.Eventually(t, 5*time.Second, "b holding fs1", func() bool { return b.Leases.Holds("fs1") }, nil)
		base := serve(t, b)
		rec := e.liveRecord(t, e.org)
		other, _, _ := e.store.EnsureOrg(context.Background(), "org-b")

		clock := testkit.NewClock(time.Now())
		keys := e.store.Keys.Derive(cluster.SigningPurpose)
		a := cluster.NewSigner(keys, "a", clock.Now)
		ring, _ := secret.ParseKeyring(secret.NewKey())
		stranger := cluster.NewSigner(ring.Derive(cluster.SigningPurpose), "a", clock.Now)
		path := "/internal/v1/calls/" + rec.ID + "/hangup"
		send := func(path, sig string, body []byte) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
			if sig != "" {
				req.Header.Set(cluster.SignatureHeader, sig)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			out, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(out)
		}
		replayed := a.Sign(http.MethodPost, path, e.org, "b", nil)
		old := testkit.NewClock(time.Now().Add(-time.Minute))
		for _, c := range []struct {
			what, sig string
			body      []byte
			want      int
		}{
			{"no signature", "", nil, http.StatusUnauthorized},
			{"not a signature", "Bearer " + e.key, nil, http.StatusUnauthorized},
			{"for another replica", a.Sign(http.MethodPost, path, e.org, "c", nil), nil, http.StatusForbidden},
			{"another key's", stranger.Sign(http.MethodPost, path, e.org, "b", nil), nil, http.StatusForbidden},
			{"for another body", a.Sign(http.MethodPost, path, e.org, "b", nil), []byte(`{"to":"+1"}`), http.StatusForbidden},
			{"a minute old", cluster.NewSigner(keys, "a", old.Now).Sign(http.MethodPost, path, e.org, "b", nil), nil, http.StatusForbidden},
			{"good", replayed, nil, http.StatusConflict},
			{"the good one again", replayed, nil, http.StatusForbidden},
			{"for another organization", a.Sign(http.MethodPost, path, other.ID, "b", nil), nil, http.StatusNotFound},
		} {
			if st, body := send(path, c.sig, c.body); st != c.want {
				t.Errorf("%s: %d %s, want %d", c.what, st, body, c.want)
			} else if c.want == http.StatusConflict && !strings.Contains(body, "call_not_live") {
				t.Errorf("%s: %s, want call control's call_not_live", c.what, body)
			}
		}
		tpath := "/internal/v1/calls/" + rec.ID + "/transfer"
		if st, body := send(tpath, "", []byte(`{"to":"+14165550199"}`)); st != http.StatusUnauthorized {
			t.Errorf("an unsigned transfer: %d %s", st, body)
		}
		evs, _ := e.store.CallEvents(context.Background(), e.org, rec.ID)
		if got, _ := e.store.GetCall(context.Background(), e.org, rec.ID); got.Status != db.CallInProgress || len(evs) != 0 {
			t.Errorf("after the refused requests: status %s, events %+v", got.Status, evs)
		}
		if n := strings.Count(logs.String(), `"msg":"call request from another replica"`); n != 1 {
			t.Errorf("b took %d requests from another replica, want 1 (the good one)", n)
		}
		if strings.Contains(logs.String(), e.key) || strings.Contains(logs.String(), fmt.Sprintf("%x", keys[0])) {
			t.Error("b's log holds a key")
		}
	})
}

// Two replicas: the console's hangup and the Twilio-compatible update of a
// live call of b's node, asked of a (which signs them: a console session
// and Twilio-style credentials carry no API key to pass on), reach b's call
// control, which answers, and that answer is a's; so does the API's
// transfer of a provider-hosted call b holds.
func TestConsoleAndTwilioCompatForwarded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newClusterEnv(t, g, "fs1")
		logs := &testkit.LogBuffer{}
		lnB := listen(t)
		rb := replica("b")
		rb.Addr = "http://" + lnB.Addr().String() // as its lease names it
		b := e.bridgeLogging(t, rb, slog.New(slog.NewJSONHandler(logs, nil)))
		testkit.Eventually(t, 5*time.Second, "b holding fs1", func() bool { return b.Leases.Holds("fs1") }, nil)
		serveOn(t, b, lnB)
		// fs9's calls are b's, as fs1's are.
		if ok, err := e.store.TakeLease(context.Background(), "fs9", "b", rb.Addr, time.Now(), time.Hour); !ok || err != nil {
			t.Fatalf("b's lease on fs9: %v %v", ok, err)
		}
		a := e.bridge(t, replica("a"))
		baseA := serve(t, a)
		rec := e.liveRecord(t, e.org)
		taken := func() int { return strings.Count(logs.String(), `"msg":"call request from another replica"`) }

		// The console, signed in on a with the organization's key.
		jar, _ := cookiejar.New(nil)
		web := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
		page := func(res *http.Response, err error) (int, string) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(body)
		}
		_, signin := page(web.Get(baseA + "/console/signin"))
		token := csrf.FindStringSubmatch(signin)
		if st, body := page(web.PostForm(baseA+"/console/signin", url.Values{"api_key": {e.key}, "csrf": {token[1]}})); st != http.StatusSeeOther {
			t.Fatalf("sign-in on a: %d %s", st, body)
		}
		_, callPage := page(web.Get(baseA + "/console/calls/" + rec.ID))
		token = csrf.FindStringSubmatch(callPage)
		if token == nil {
			t.Fatalf("the call's page on a has no form:\n%s", callPage)
		}
		st, body := page(web.PostForm(baseA+"/console/calls/"+rec.ID+"/hangup", url.Values{"csrf": {token[1]}}))
		if st != http.StatusConflict || !strings.Contains(body, "hangup refused: the call is not live on this sipbridge") {
			t.Errorf("the console's hangup on a: %d, want b's refusal (409, not live)\n%s", st, body)
		}
		if n := taken(); n != 1 || !strings.Contains(logs.String(), `"call_id":"`+rec.ID+`","org_id":`+fmt.Sprint(e.org)+`,"by":"a","action":"hangup"`) {
			t.Fatalf("b took %d requests from a after the console's hangup, want it\n%s", n, logs.String())
		}

		// The Twilio-compatible update, with Twilio-style credentials.
		req := twilioCompatHangup(t, e, baseA, rec.ID)
		st, body = page(http.DefaultClient.Do(req))
		if st != http.StatusConflict || !strings.Contains(body, "the call is not live on this sipbridge") {
			t.Errorf("the Twilio-compatible hangup on a: %d %s, want b's refusal (409, not live)", st, body)
		}
		if n := taken(); n != 2 {
			t.Errorf("b took %d requests from a after the Twilio-compatible update, want 2", n)
		}

		// A provider-hosted call b holds in its memory (its record names
		// b, whose presence lasts): asked of a through the API, b answers.
		hostedRec := &db.Call{OrgID: e.org, Provider: "telnyx", Replica: "b", Direction: db.DirectionInbound, Status: db.CallInProgress}
		if err := e.store.CreateCall(context.Background(), hostedRec); err != nil {
			t.Fatal(err)
		}
		req, _ = http.NewRequest(http.MethodPost, baseA+"/api/v1/calls/"+hostedRec.ID+"/transfer", strings.NewReader(`{"to":"+14165550199"}`))
		req.Header.Set("Authorization", "Bearer "+e.key)
		req.Header.Set("Content-Type", "application/json")
		st, body = page(http.DefaultClient.Do(req))
		if st != http.StatusConflict || !strings.Contains(body, "call_not_live") {
			t.Errorf("the API's transfer of b's hosted call on a: %d %s, want b's refusal (409, not live)", st, body)
		}
		if n := taken(); n != 3 || !strings.Contains(logs.String(), `"call_id":"`+hostedRec.ID+`"`) {
			t.Errorf("b took %d requests from a after the hosted call's transfer, want 3", n)
		}
	})
}

// twilioCompatHangup is the Twilio-compatible call update that ends the
// call (Status=completed), asked of base with the organization's
// Twilio-style credentials.
func twilioCompatHangup(t *testing.T, e *clusterEnv, base, callID string) *http.Request {
	t.Helper()
	var org struct {
		SID string `json:"twilio_compat_account_sid"`
	}
	if st := getJSON(t, base+"/api/v1/organization", e.key, &org); st != 200 || org.SID == "" {
		t.Fatalf("organization: %d %+v", st, org)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/"+org.SID+"/Calls/"+callID+".json",
		strings.NewReader(url.Values{"Status": {"completed"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(org.SID, e.key)
	return req
}

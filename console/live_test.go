package console_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// The recent calls follow the store over the stream, under the page's
// filter: a call that completes joins the "completed" list without a
// reload, and a call the filter excludes does not.
func TestRecentCallsUpdateLiveUnderTheFilter(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		ctx := context.Background()
		newCall := func(org int64, status string) *db.Call {
			c := &db.Call{OrgID: org, Provider: "sip", Direction: "inbound", FromNumber: "+14155550100", ToNumber: "+16475550111",
				Status: status, StartedAt: time.Now().Add(-time.Minute)}
			if err := e.store.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		live := newCall(e.orgA, "in-progress")
		b := e.browser()
		b.signIn(e.keyA)
		_, body := b.get("/console/calls?status=completed")
		mustContain(t, body, `data-live="page=calls&amp;status=completed"`, `data-part="recent"`, "No calls.")
		b.sse("page=calls&status=completed", "0 call(s) match", 5*time.Second)
		go func() {
			time.Sleep(200 * time.Millisecond)
			newCall(e.orgA, "refused") // not under the filter
			newCall(e.orgB, "completed")
			now := time.Now()
			_ = e.store.UpdateCall(ctx, e.orgA, live.ID, map[string]any{"status": "completed", "ended_at": &now, "duration_seconds": 60})
		}()
		data := b.sse("page=calls&status=completed", `id="recent-`+live.ID+`"`, 5*time.Second)
		mustContain(t, data, `class="status-completed">completed<`, "1 call(s) match")
		// A bad filter is refused in the stream as on the page.
		b.sse("page=calls&phone_number=not-a-number", "phone_number must be an E.164 number", 5*time.Second)
	})
}

// A trunk's own page follows its state: the gateway registering (as the
// gateway events write it) and a disable made through the API show
// without a reload. Another organization's trunk has no stream.
func TestTrunkPageUpdatesLive(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		ctx := context.Background()
		var tr, trB struct{ ID string }
		if st := e.api(e.keyA, http.MethodPost, "/api/v1/sip-trunks", map[string]any{"name": "Main", "gateway": "203.0.113.10", "username": "u", "password": "pw-1"}, &tr); st != http.StatusCreated {
			t.Fatalf("create: %d", st)
		}
		if st := e.api(e.keyB, http.MethodPost, "/api/v1/sip-trunks", map[string]any{"name": "Globex", "gateway": "203.0.113.20", "username": "u", "password": "pw-2"}, &trB); st != http.StatusCreated {
			t.Fatalf("create org B's: %d", st)
		}
		b := e.browser()
		b.signIn(e.keyA)
		_, body := b.get("/console/trunks/" + tr.ID)
		query := url.Values{"page": {"trunk"}, "id": {tr.ID}}.Encode()
		mustContain(t, body, `data-part="status"`, `id="gw-state" class="state" data-state="">-<`)
		b.sse(query, `id="gw-state" class="state" data-state="">-<`, 5*time.Second)
		got, _ := e.store.GetTrunk(ctx, e.orgA, tr.ID)
		go func() {
			time.Sleep(200 * time.Millisecond)
			_ = e.store.SetGatewayLive(ctx, db.GatewayLive{GatewayName: got.GatewayName, State: "REGED", PingStatus: "UP", LastStatusCode: 200})
		}()
		data := b.sse(query, `data-state="REGED">REGED<`, 5*time.Second)
		mustContain(t, data, `id="gw-status-code">200<`, `id="gw-ping">UP<`)
		go func() {
			time.Sleep(200 * time.Millisecond)
			e.api(e.keyA, http.MethodPost, "/api/v1/sip-trunks/"+tr.ID+"/disable", nil, nil)
		}()
		b.sse(query, "<strong>Disabled</strong>", 5*time.Second)

		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/console/events?"+url.Values{"page": {"trunk"}, "id": {trB.ID}}.Encode(), nil)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the stream of org B's trunk: %d", resp.StatusCode)
		}
	})
}

package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// The calls list filters by status, assistant, number (from, to or the
// resolved DID) and date range, pages, answers 400 naming a bad filter, and
// shows each organization its own calls only.
func TestCallsListFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A"}, 201).Body["id"].(string)
	day := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	mk := func(org int64, status, from, did string, at time.Time, a *string) {
		c := &db.Call{OrgID: org, Direction: db.DirectionInbound, Status: status, FromNumber: from, ToNumber: did, ResolvedDID: did,
			StartedAt: at, AssistantID: a}
		if err := e.store.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	mk(e.orgA, db.CallCompleted, "+14165550100", "+16478491000", day, &asst)
	mk(e.orgA, db.CallRefused, "+14165550101", "+16478491001", day.Add(time.Hour), nil)
	mk(e.orgA, db.CallCompleted, "+14165550102", "+16478491000", day.Add(48*time.Hour), &asst)
	mk(e.orgB, db.CallCompleted, "+14165550100", "+16478491000", day, nil)
	for q, want := range map[string]int{
		"":                               3,
		"?status=completed":              2,
		"?status=refused":                1,
		"?assistant_id=" + asst:          2,
		"?phone_number=%2B16478491000":   2,
		"?phone_number=%2B14165550101":   1,
		"?from=2026-11-30&to=2026-12-01": 2,
		"?from=2026-12-01T00:00:00Z":     1,
		"?direction=outbound":            0,
	} {
		r := e.mustDo("GET", "/api/v1/calls"+q, e.keyA, nil, 200)
		if got := r.Total; got != want {
			t.Errorf("filter %q: total %v, want %v", q, got, want)
		}
	}
	r := e.mustDo("GET", "/api/v1/calls?limit=1&skip=1", e.keyA, nil, 200)
	if items := r.List; len(items) != 1 || r.Total != 3 {
		t.Fatalf("page: %s", r.Raw)
	}
	// Newest first.
	first := e.mustDo("GET", "/api/v1/calls?limit=1", e.keyA, nil, 200).List[0].(map[string]any)
	if first["from"] != "+14165550102" {
		t.Fatalf("not newest first: %v", first)
	}
	for q, field := range map[string]string{
		"?status=bogus": "status", "?direction=sideways": "direction", "?from=yesterday": "from",
		"?from=2026-12-02&to=2026-12-01": "to", "?limit=0": "limit",
	} {
		if r := e.do("GET", "/api/v1/calls"+q, e.keyA, nil); r.Status != 400 || r.errField() != field {
			t.Errorf("%s: %d %s, want 400 on %s", q, r.Status, r.Raw, field)
		}
	}
	if got := e.mustDo("GET", "/api/v1/calls", e.keyB, nil, 200).Total; got != 1 {
		t.Fatalf("org B sees %v calls", got)
	}
}

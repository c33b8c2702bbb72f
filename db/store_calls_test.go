package db_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

func callIDs(calls []db.Call) []string {
	out := []string{}
	for _, c := range calls {
		out = append(out, c.Reason)
	}
	return out
}

func TestCallRecords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		asst := &db.Assistant{OrgID: org.ID, Name: "Front"}
		if err := s.SaveAssistant(ctx, asst, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		base := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
		// The API passes times in the caller's zone; the controller in UTC.
		paris := time.FixedZone("+01:00", 3600)
		mk := func(name string, started time.Time, mutate func(*db.Call)) *db.Call {
			t.Helper()
			c := &db.Call{OrgID: org.ID, Direction: db.DirectionInbound, FromNumber: "+14155550111", ToNumber: "+14155550100",
				Status: db.CallCompleted, StartedAt: started, Reason: name}
			if mutate != nil {
				mutate(c)
			}
			if err := s.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		mk("c1", base, nil)
		mk("c2", base.Add(1*time.Minute), func(c *db.Call) { c.AssistantID = &asst.ID; c.Status = db.CallRinging })
		mk("c3", base.Add(2*time.Minute).In(paris), func(c *db.Call) {
			c.Direction, c.FromNumber, c.ToNumber = db.DirectionOutbound, "+14155550100", "+33612345678"
		})
		mk("c4", base.Add(3*time.Minute), func(c *db.Call) { c.ToNumber, c.ResolvedDID = "1000", "+14155550199" })
		c5 := mk("c5", base.Add(3*time.Minute+500*time.Millisecond), func(c *db.Call) { c.Status = db.CallInProgress })
		if err := s.CreateCall(ctx, &db.Call{OrgID: other.ID, Direction: db.DirectionInbound, Status: db.CallRinging, StartedAt: base, Reason: "theirs"}); err != nil {
			t.Fatal(err)
		}

		list := func(f db.CallFilter, p db.Page) ([]string, int64) {
			t.Helper()
			if p.Limit == 0 {
				p.Limit = 100
			}
			calls, total, err := s.ListCalls(ctx, org.ID, f, p)
			if err != nil {
				t.Fatalf("list %+v: %v", f, err)
			}
			return callIDs(calls), total
		}
		for _, c := range []struct {
			what  string
			f     db.CallFilter
			p     db.Page
			want  []string
			total int64
		}{
			{"all, newest first", db.CallFilter{}, db.Page{}, []string{"c5", "c4", "c3", "c2", "c1"}, 5},
			{"second page", db.CallFilter{}, db.Page{Skip: 2, Limit: 2}, []string{"c3", "c2"}, 5},
			{"status", db.CallFilter{Status: db.CallRinging}, db.Page{}, []string{"c2"}, 1},
			{"assistant", db.CallFilter{AssistantID: asst.ID}, db.Page{}, []string{"c2"}, 1},
			{"direction", db.CallFilter{Direction: db.DirectionOutbound}, db.Page{}, []string{"c3"}, 1},
			{"number as from", db.CallFilter{PhoneNumber: "+14155550100"}, db.Page{}, []string{"c5", "c3", "c2", "c1"}, 4},
			{"number as resolved DID", db.CallFilter{PhoneNumber: "+14155550199"}, db.Page{}, []string{"c4"}, 1},
			{"from inclusive, to exclusive", db.CallFilter{From: base.Add(time.Minute), To: base.Add(3 * time.Minute)}, db.Page{}, []string{"c3", "c2"}, 2},
			{"window in another zone", db.CallFilter{From: base.Add(2 * time.Minute).In(paris), To: base.Add(3 * time.Minute).In(paris)}, db.Page{}, []string{"c3"}, 1},
			{"statuses", db.CallFilter{Statuses: []string{db.CallRinging, db.CallInProgress}}, db.Page{}, []string{"c5", "c2"}, 2},
			{"status and statuses", db.CallFilter{Status: db.CallRinging, Statuses: []string{db.CallInProgress}}, db.Page{}, []string{"c5", "c2"}, 2},
			{"a page past the end still counts", db.CallFilter{}, db.Page{Skip: 10, Limit: 2}, []string{}, 5},
			{"no total asked", db.CallFilter{}, db.Page{Limit: 1, NoTotal: true}, []string{"c5"}, -1},
			{"sub-second bound", db.CallFilter{From: base.Add(3*time.Minute + time.Millisecond)}, db.Page{}, []string{"c5"}, 1},
		} {
			if got, total := list(c.f, c.p); !slices.Equal(got, c.want) || total != c.total {
				t.Errorf("%s: got %v (total %d), want %v (total %d)", c.what, got, total, c.want, c.total)
			}
		}

		// Updates are scoped to the organization.
		if err := s.UpdateCall(ctx, other.ID, c5.ID, map[string]any{"status": db.CallFailed}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("other org updating: %v", err)
		}
		if n, _ := s.CountLiveCalls(ctx, org.ID); n != 2 {
			t.Fatalf("live calls %d, want 2 (ringing and in progress)", n)
		}
		answered := base.Add(4 * time.Minute).In(paris)
		if err := s.UpdateCall(ctx, org.ID, c5.ID, map[string]any{"answered_at": answered, "call_sid": "uuid-5"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCall(ctx, org.ID, c5.ID)
		if err != nil || got.AnsweredAt == nil || !got.AnsweredAt.Equal(answered) || got.CallSID != "uuid-5" || !got.StartedAt.Equal(c5.StartedAt) {
			t.Fatalf("after update: %+v %v", got, err)
		}
		if _, err := s.GetCall(ctx, other.ID, c5.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("other org reading: %v", err)
		}

		// A restart closes what the previous process left open, in every organization.
		if n, err := s.CloseOrphanCalls(ctx, "restarted"); err != nil || n != 3 {
			t.Fatalf("closed %d (%v), want 3", n, err)
		}
		if n, _ := s.CountLiveCalls(ctx, org.ID); n != 0 {
			t.Fatalf("%d live calls after closing", n)
		}
		if got, _ := s.GetCall(ctx, org.ID, c5.ID); got.Status != db.CallFailed || got.Reason != "restarted" || got.EndedAt == nil {
			t.Fatalf("orphan not closed: %+v", got)
		}
		if got, _ := list(db.CallFilter{Status: db.CallFailed}, db.Page{}); !slices.Equal(got, []string{"restarted", "restarted"}) {
			t.Fatalf("failed calls %v", got)
		}
	})
}

func TestCallEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		c := &db.Call{OrgID: org.ID, Direction: db.DirectionInbound, Status: db.CallRinging}
		if err := s.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		for _, ev := range []struct {
			typ    string
			detail db.JSONMap
		}{
			{"routed", db.JSONMap{"did": "+14155550100", "source": "request-uri"}},
			{"answered", nil},
			{"hangup", db.JSONMap{"cause": "NORMAL_CLEARING", "sip_status": 200.0}},
		} {
			if err := s.AddCallEvent(ctx, org.ID, c.ID, ev.typ, ev.detail); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddCallEvent(ctx, org.ID, "no-such-call", "routed", nil); err == nil {
			t.Fatal("an event of a missing call was stored")
		}
		evs, err := s.CallEvents(ctx, org.ID, c.ID)
		if err != nil || len(evs) != 3 {
			t.Fatalf("events %+v %v", evs, err)
		}
		if evs[0].Type != "routed" || evs[1].Type != "answered" || evs[2].Type != "hangup" {
			t.Fatalf("timeline out of order: %s %s %s", evs[0].Type, evs[1].Type, evs[2].Type)
		}
		if evs[0].Detail["did"] != "+14155550100" || evs[2].Detail["sip_status"] != 200.0 || len(evs[1].Detail) != 0 {
			t.Fatalf("details %v %v %v", evs[0].Detail, evs[1].Detail, evs[2].Detail)
		}
		if evs[0].At.IsZero() || evs[2].At.Before(evs[0].At) {
			t.Fatalf("event times %v %v", evs[0].At, evs[2].At)
		}
		if theirs, _ := s.CallEvents(ctx, other.ID, c.ID); len(theirs) != 0 {
			t.Fatalf("another organization sees %d events", len(theirs))
		}
	})
}

// A call is found by its id or by its call_sid (the channel UUID an
// assistant may hold), never in another organization.
func TestFindCallByIDOrCallSID(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		c := &db.Call{OrgID: org.ID, CallSID: "6f1c2b8e-0d4a-4c55-9a51-3f0e2f6b7c11", Direction: db.DirectionInbound, Status: db.CallInProgress}
		if err := s.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{c.ID, c.CallSID} {
			got, err := s.FindCall(ctx, org.ID, ref)
			if err != nil || got.ID != c.ID {
				t.Fatalf("FindCall(%q) = %v, %v; want call %s", ref, got, err, c.ID)
			}
			if _, err := s.FindCall(ctx, other.ID, ref); !errors.Is(err, db.ErrNotFound) {
				t.Fatalf("another organization finds the call by %q: %v", ref, err)
			}
		}
		if _, err := s.FindCall(ctx, org.ID, "no-such-call"); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("unknown ref: %v", err)
		}
	})
}

// A call that leaves the filter while the list is read is either counted
// and listed or neither: the count and the rows are one read. (Two reads,
// count then rows, gave "1 call matches" above an empty list.)
func TestListCallsCountAgreesWithItsRows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		c := &db.Call{OrgID: org.ID, Direction: db.DirectionInbound, Status: db.CallInProgress}
		if err := s.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		// Right after the list's first statement, the call ends.
		armed := true
		hook := func(tx *gorm.DB) {
			if armed && tx.Statement.Table == "calls" {
				armed = false
				if err := g.Exec("UPDATE calls SET status = ? WHERE id = ?", db.CallCompleted, c.ID).Error; err != nil {
					t.Error(err)
				}
			}
		}
		if err := g.Callback().Query().After("gorm:query").Register("test:end_call_while_listed", hook); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Callback().Query().Remove("test:end_call_while_listed") })
		calls, total, err := s.ListCalls(ctx, org.ID, db.CallFilter{Status: db.CallInProgress}, db.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if armed {
			t.Fatal("the hook never ran")
		}
		if total != int64(len(calls)) {
			t.Fatalf("%d call(s) counted, %d listed: the count and the rows disagree", total, len(calls))
		}
	})
}

// A starting sipbridge adopts the SIP calls left open, every
// organization's, and closes the hosted ones alone.
func TestOpenCallsByProvider(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		base := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
		mk := func(orgID int64, reason, provider, status string, at time.Time) {
			t.Helper()
			c := &db.Call{OrgID: orgID, Direction: db.DirectionInbound, Provider: provider, Status: status, StartedAt: at, Reason: reason}
			if err := s.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		mk(org.ID, "sip live", "sip", db.CallInProgress, base.Add(2*time.Minute))
		mk(other.ID, "sip ringing", "sip", db.CallRinging, base.Add(time.Minute))
		mk(org.ID, "sip over", "sip", db.CallCompleted, base)
		mk(org.ID, "twilio live", "twilio", db.CallInProgress, base)
		open, err := s.OpenCalls(ctx, "sip")
		if err != nil {
			t.Fatal(err)
		}
		if got := callIDs(open); !slices.Equal(got, []string{"sip ringing", "sip live"}) {
			t.Fatalf("open sip calls %v, want both organizations' ringing and in-progress ones, oldest first", got)
		}
		if n, err := s.CloseOrphanCalls(ctx, "restarted", "twilio", "telnyx", "vonage"); err != nil || n != 1 {
			t.Fatalf("closed %d hosted calls (%v), want 1", n, err)
		}
		if open, _ := s.OpenCalls(ctx, "sip"); len(open) != 2 {
			t.Fatalf("closing the hosted orphans closed SIP calls: %d left open", len(open))
		}
		if open, _ := s.OpenCalls(ctx, "twilio"); len(open) != 0 {
			t.Fatalf("hosted call still open: %v", callIDs(open))
		}
	})
}

// CloseOpenCall closes a call only while it is ringing or in progress, in
// its own organization: a call that ended meanwhile keeps its ending.
func TestCloseOpenCall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		live := &db.Call{OrgID: org.ID, Direction: db.DirectionInbound, Provider: "sip", Status: db.CallInProgress, StartedAt: time.Now()}
		over := &db.Call{OrgID: org.ID, Direction: db.DirectionInbound, Provider: "sip", Status: db.CallCompleted, StartedAt: time.Now(), Reason: "caller hung up"}
		for _, c := range []*db.Call{live, over} {
			if err := s.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		closeIt := func(orgID int64, id string) bool {
			ok, err := s.CloseOpenCall(ctx, orgID, id, map[string]any{"status": db.CallFailed, "reason": "gone"})
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if closeIt(other.ID, live.ID) {
			t.Error("another organization closed the call")
		}
		if closeIt(org.ID, over.ID) {
			t.Error("a completed call was closed again")
		}
		if got, _ := s.GetCall(ctx, org.ID, over.ID); got.Status != db.CallCompleted || got.Reason != "caller hung up" {
			t.Errorf("the completed call was rewritten: %s %q", got.Status, got.Reason)
		}
		if !closeIt(org.ID, live.ID) {
			t.Error("the live call was not closed")
		}
		if got, _ := s.GetCall(ctx, org.ID, live.ID); got.Status != db.CallFailed || got.Reason != "gone" {
			t.Errorf("the live call: %s %q, want failed gone", got.Status, got.Reason)
		}
	})
}

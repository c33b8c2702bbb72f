package sip_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
)

// A call parked while PostgreSQL cannot be reached is refused with 503 at
// once and, with no organization known then, has no record; once the
// database is back it is routed again with the variables it came with and
// its record written: refused, 503, the outage as its reason, started at
// the park. Two calls refused during one outage give two records, each
// once. (The embedded SQLite cannot go away: PostgreSQL only.)
func TestCallRefusedDuringOutageRecordedAfter(t *testing.T) {
	g := dbtest.Postgres(t)
	relayed, pr := dbtest.Relayed(t, g)
	r := newCallRigOn(t, relayed, nil)
	ownCalls := func() []db.Call {
		var calls []db.Call
		if err := g.Where("org_id = ?", r.trunk.OrgID).Order("started_at").Find(&calls).Error; err != nil {
			t.Fatal(err)
		}
		return calls
	}

	pr.Down()
	var parks []time.Time
	var uuids []string
	for i, from := range []string{"+14165550101", "+14165550102"} {
		parks = append(parks, time.Now().UTC())
		r.sw.ResetCommands()
		id, err := r.sw.Call(fstest.InboundCall{FromUser: from, RequestUser: r.number, ACLAuthedBy: r.trunk.GatewayName})
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, id)
		if !waitFor(3*time.Second, func() bool { return hasCommand(r.sw, "uuid_kill "+id+" NORMAL_TEMPORARY_FAILURE") }) {
			t.Fatalf("call %d during the outage: not refused with 503 (NORMAL_TEMPORARY_FAILURE) within 3 s; commands %q; warnings:\n%s", i, r.sw.Commands(), r.warnings())
		}
	}
	time.Sleep(1500 * time.Millisecond) // a retry or more while still away
	if n := len(ownCalls()); n != 0 {
		t.Fatalf("%d call records during the outage, want none yet", n)
	}

	pr.Up()
	back := time.Now()
	var calls []db.Call
	if !waitFor(5*time.Second, func() bool { calls = ownCalls(); return len(calls) >= 2 }) {
		t.Fatalf("%d call records 5 s after the database came back, want 2; warnings:\n%s", len(calls), r.warnings())
	}
	t.Logf("records written %v after the database came back", time.Since(back).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // nothing written twice
	if calls = ownCalls(); len(calls) != 2 {
		t.Fatalf("%d call records after two refusals, want 2", len(calls))
	}
	for i, c := range calls {
		if c.Status != db.CallRefused || c.SIPStatus != 503 || c.Reason != call.OutageReason || c.CallSID != uuids[i] ||
			c.FromNumber != []string{"+14165550101", "+14165550102"}[i] || c.ToNumber != r.number || c.TrunkID == nil || *c.TrunkID != r.trunk.ID {
			t.Errorf("record %d: status %q sip_status %d reason %q call_sid %q from %q to %q; want refused, 503, %q, %q, +1416555010%d, %s on the trunk",
				i, c.Status, c.SIPStatus, c.Reason, c.CallSID, c.FromNumber, c.ToNumber, call.OutageReason, uuids[i], i+1, r.number)
		}
		if d := c.StartedAt.Sub(parks[i]); d < -time.Millisecond || d > time.Second || c.EndedAt == nil || !c.EndedAt.Equal(c.StartedAt) {
			t.Errorf("record %d: started_at %v ended_at %v, want both the park's time %v", i, c.StartedAt, c.EndedAt, parks[i])
		}
		var events []db.CallEvent
		if err := g.Where("call_id = ?", c.ID).Find(&events).Error; err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Type != call.EventRefused {
			t.Errorf("record %d: timeline %+v, want one refused event", i, events)
		}
	}
}

func hasCommand(sw *fstest.Switch, cmd string) bool {
	for _, c := range sw.Commands() {
		if strings.Contains(c, cmd) {
			return true
		}
	}
	return false
}

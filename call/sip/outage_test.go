package sip_test

import (
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"gorm.io/gorm"
)

// A call parked while PostgreSQL cannot be reached is refused with 503 at
// once and, with no organization known then, has no record; once the
// database is back it is routed again with the variables it came with and
// its record written: refused, 503, the outage as its reason, started at
// the park. Two calls refused during one outage give two records, each
// once. (The embedded SQLite cannot go away: PostgreSQL only.)
func TestCallRefusedDuringOutageRecordedAfter(t *testing.T) {
	g := dbtest.Postgres(t)
	relayed, pr := pgRelay(t, g)
	r := newCallRigOn(t, relayed, nil)
	ownCalls := func() []db.Call {
		var calls []db.Call
		if err := g.Where("org_id = ?", r.trunk.OrgID).Order("started_at").Find(&calls).Error; err != nil {
			t.Fatal(err)
		}
		return calls
	}

	pr.down()
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

	pr.up()
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

// pgRelay reopens g's database (same schema) through a TCP relay that can
// be taken down: its connections cut, new ones refused.
func pgRelay(t *testing.T, g *gorm.DB) (*gorm.DB, *tcpRelay) {
	t.Helper()
	var schema string
	if err := g.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv(dbtest.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpRelay{}
	t.Cleanup(func() { ln.Close(); r.down() })
	go func(target string) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c, target)
		}
	}(u.Host)
	u.Host = ln.Addr().String()
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	relayed, err := db.Open(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := relayed.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return relayed, r
}

type tcpRelay struct {
	mu      sync.Mutex
	conns   []net.Conn
	stopped bool
}

// down cuts the relayed connections and refuses new ones until up.
func (r *tcpRelay) down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

func (r *tcpRelay) up() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = false
}

func (r *tcpRelay) serve(c net.Conn, target string) {
	r.mu.Lock()
	stopped := r.stopped
	r.mu.Unlock()
	if stopped {
		c.Close()
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	r.mu.Lock()
	r.conns = append(r.conns, c, up)
	r.mu.Unlock()
	go func() { io.Copy(up, c); up.Close(); c.Close() }()
	io.Copy(c, up)
	up.Close()
	c.Close()
}

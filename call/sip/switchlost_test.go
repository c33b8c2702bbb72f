package sip_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
)

// A switch killed with a call up that never comes back: the call's record
// does not stay open. Once the switch has been unreachable, with the call's
// media stream closed, for SwitchLostAfter, the record closes (completed,
// a reason naming FreeSWITCH) and the assistant's stream is closed; not
// before that.
func TestCallOfASwitchThatNeverReturnsIsClosed(t *testing.T) {
	const after = 1500 * time.Millisecond
	r := newCallRigWith(t, func(o *sip.CallsOptions) { o.ChannelCheck, o.SwitchLostAfter = 100*time.Millisecond, after })
	r.place(1, 0, 10*time.Second)
	ctx := context.Background()
	open := func() *db.Call {
		calls, _, err := r.app.Store.ListCalls(ctx, r.trunk.OrgID, db.CallFilter{}, db.Page{Limit: 10})
		if err != nil || len(calls) != 1 {
			t.Fatalf("calls %v, %v", calls, err)
		}
		return &calls[0]
	}
	if c := open(); c.Status != db.CallInProgress {
		t.Fatalf("the call before the kill: %s", c.Status)
	}
	killed := time.Now()
	r.sw.Close() // its listener, Event Socket and media streams gone, no hangup
	time.Sleep(after / 2)
	if c := open(); c.EndedAt != nil {
		t.Fatalf("the call's record closed %v after the switch went away, before SwitchLostAfter (%v): %s", time.Since(killed), after, c.Reason)
	}
	if !waitFor(after+3*time.Second, func() bool { return open().EndedAt != nil }) {
		t.Fatalf("the call's record still open %v after the switch went away; sipbridge's warnings:\n%s", time.Since(killed), r.warnings())
	}
	c := open()
	t.Logf("closed %v after the kill: status %q, reason %q", time.Since(killed).Round(time.Millisecond), c.Status, c.Reason)
	if c.Status != db.CallCompleted || !strings.Contains(c.Reason, "FreeSWITCH") {
		t.Errorf("the call lost with the switch: status %q, reason %q; want completed with a reason naming FreeSWITCH", c.Status, c.Reason)
	}
	if !waitFor(3*time.Second, func() bool { return r.openStreams() == 0 && r.app.Calls.Active() == 0 }) {
		t.Errorf("after the record closed: %d assistant streams open, %d calls live", r.openStreams(), r.app.Calls.Active())
	}
}

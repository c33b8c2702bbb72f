package call

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/route"
	"github.com/sipbridge/sipbridge/route/did"
)

var errAway = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

// outageFakes are the router and store of held refusals: both fail
// Unavailable while away; the router routes every call to trunk t1 of
// organization 7 (none for the caller "+1unknown"); the store keeps the
// records by id, a second create of one failing as a conflict.
type outageFakes struct {
	mu      sync.Mutex
	away    bool
	refuse  *route.Refusal
	routed  []string // the callers routed
	calls   map[string]*db.Call
	creates int
	events  []string
}

func (f *outageFakes) Decide(_ context.Context, vars did.Vars) (*route.Route, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.away {
		return nil, errAway
	}
	from := vars.First("Caller-Caller-ID-Number")
	f.routed = append(f.routed, from)
	rt := &route.Route{Source: vars.First("variable_sip_network_ip"), DID: did.Result{DID: "+16478491000", Source: "request_uri"}}
	if from == "+1unknown" {
		rt.Refused, rt.Detail = &route.RefuseUnknownTrunk, "source "+rt.Source
		return rt, nil
	}
	rt.Trunk, rt.Refused = &db.SIPTrunk{ID: "t1", OrgID: 7}, f.refuse
	if f.refuse != nil {
		rt.Detail = "no such number"
	}
	return rt, nil
}

func (f *outageFakes) CreateCall(_ context.Context, c *db.Call) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.away {
		return errAway
	}
	f.creates++
	if f.calls[c.ID] != nil {
		return fmt.Errorf("%w: duplicate key value", db.ErrConflict)
	}
	f.calls[c.ID] = c
	return nil
}

func (f *outageFakes) AddCallEvent(_ context.Context, _ int64, id, typ string, _ db.JSONMap) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, typ+"@"+id)
	return nil
}

func (f *outageFakes) UpdateCall(context.Context, int64, string, map[string]any) error { return nil }

func (f *outageFakes) CloseOpenCall(context.Context, int64, string, map[string]any) (bool, error) {
	return true, nil
}

func (f *outageFakes) setAway(v bool) { f.mu.Lock(); f.away = v; f.mu.Unlock() }

func (f *outageFakes) recorded() (map[string]*db.Call, []string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*db.Call{}
	for k, v := range f.calls {
		out[k] = v
	}
	return out, append([]string(nil), f.routed...), f.creates
}

func newOutage(t *testing.T) (*HeldRefusals, *outageFakes, *testkit.LogBuffer) {
	f := &outageFakes{away: true, calls: map[string]*db.Call{}}
	var logs testkit.LogBuffer
	h := NewHeldRefusals(f, f, slog.New(slog.NewJSONHandler(&logs, nil)))
	h.Retry = 10 * time.Millisecond
	t.Cleanup(h.Close)
	return h, f, &logs
}

func refusalFrom(id, from string, at time.Time) HeldRefusal {
	headers := map[string]string{"Caller-Caller-ID-Number": from, "Caller-Destination-Number": "6478491000",
		"variable_sip_network_ip": "192.0.2.7", "variable_sip_call_id": id + "@pbx", "variable_hold_music": "moh", "Event-Name": "CHANNEL_PARK"}
	return HeldRefusal{CallID: id, UUID: "u-" + id, SIPCallID: id + "@pbx", At: at, SIPStatus: 503, Cause: "NORMAL_TEMPORARY_FAILURE",
		Vars: RoutingVars(headers, func(n string) []string { return []string{headers[n]} })}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
	}
}

// Refusals held while the database is away are routed again once it is
// back, with the variables their park had, and recorded once each under
// the organization routing finds: refused, 503, the outage, the park's
// time. A call routing now refuses for its own reason keeps the 503 it got
// and says both; a call with no organization is logged, not recorded.
func TestHeldRefusalsRecordedOnceBack(t *testing.T) {
	h, f, logs := newOutage(t)
	at := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	h.Hold(refusalFrom("c1", "+14165550101", at))
	h.Hold(refusalFrom("c1", "+14165550101", at)) // the same call twice: held once
	h.Hold(refusalFrom("c2", "+1unknown", at.Add(time.Second)))
	time.Sleep(50 * time.Millisecond) // retries while away
	if calls, routed, _ := f.recorded(); len(calls) != 0 || len(routed) != 0 || h.Len() != 2 {
		t.Fatalf("while away: records %v, routed %v, held %d; want none, none, 2", calls, routed, h.Len())
	}
	f.setAway(false)
	waitUntil(t, "the held refusals not written once the database is back", func() bool { return h.Len() == 0 })
	calls, routed, creates := f.recorded()
	c := calls["c1"]
	if len(calls) != 1 || creates != 1 || c == nil || len(routed) != 2 {
		t.Fatalf("records %v (%d creates), routed %v; want c1 once, both routed", calls, creates, routed)
	}
	if c.OrgID != 7 || *c.TrunkID != "t1" || c.Status != db.CallRefused || c.SIPStatus != 503 || c.Reason != OutageReason ||
		!c.StartedAt.Equal(at) || !c.EndedAt.Equal(at) || c.FromNumber != "+14165550101" || c.CallSID != "u-c1" || c.SIPCallID != "c1@pbx" ||
		c.HangupCause != "NORMAL_TEMPORARY_FAILURE" || c.ResolvedDID != "+16478491000" {
		t.Errorf("record %+v", c)
	}
	waitUntil(t, "no refused event in the timeline", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.events) == 1 && f.events[0] == EventRefused+"@c1"
	})
	out := logs.String()
	if strings.Count(out, "no organization for it") != 1 || !strings.Contains(out, `"from":"+1unknown"`) || !strings.Contains(out, `"sip_call_id":"c2@pbx"`) {
		t.Errorf("the refusal with no organization: logs %s", out)
	}

	// Routing now refuses for its own reason: the 503 stays, both said.
	f.mu.Lock()
	f.away, f.refuse = true, &route.RefuseUnknownNumber
	f.mu.Unlock()
	h.Hold(refusalFrom("c3", "+14165550103", at))
	f.setAway(false)
	waitUntil(t, "the third refusal not written", func() bool { calls, _, _ := f.recorded(); return calls["c3"] != nil })
	calls, _, _ = f.recorded()
	if c := calls["c3"]; c.SIPStatus != 503 || c.Status != db.CallRefused || !strings.HasPrefix(c.Reason, OutageReason+" (routed now: "+route.RefuseUnknownNumber.Reason) {
		t.Errorf("the refusal routing now refuses: sip_status %d status %q reason %q", c.SIPStatus, c.Status, c.Reason)
	}
}

// A record whose create reached the database but whose answer was lost is
// not written again: the retry's conflict ends it.
func TestHeldRefusalWrittenOnce(t *testing.T) {
	h, f, _ := newOutage(t)
	f.setAway(false)
	f.calls["c1"] = &db.Call{ID: "c1"} // stored by the try whose answer was lost
	h.Hold(refusalFrom("c1", "+14165550101", time.Now()))
	waitUntil(t, "the refusal still held", func() bool { return h.Len() == 0 })
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.creates != 1 || len(f.events) != 0 {
		t.Errorf("%d creates, events %v; want one try, no second refused event", f.creates, f.events)
	}
}

// At most maxHeldRefusals are held: the oldest go, with one warning; a
// stop with refusals held says how many are lost.
func TestHeldRefusalsBoundedAndLostAtStop(t *testing.T) {
	h, _, logs := newOutage(t)
	for i := range maxHeldRefusals + 3 {
		h.Hold(HeldRefusal{CallID: fmt.Sprint("c", i)})
	}
	h.q.mu.Lock()
	oldest := h.q.queue[0].key
	h.q.mu.Unlock()
	if h.Len() != maxHeldRefusals || oldest != "c3" {
		t.Fatalf("held %d, oldest %s; want %d, c3", h.Len(), oldest, maxHeldRefusals)
	}
	if n := strings.Count(logs.String(), "the oldest are dropped"); n != 1 {
		t.Errorf("%d warnings for the dropped refusals, want 1: %s", n, logs.String())
	}
	h.Close()
	if out := logs.String(); !strings.Contains(out, "their records are lost") || !strings.Contains(out, fmt.Sprintf(`"held":%d`, maxHeldRefusals)) ||
		!strings.Contains(out, `"dropped":3`) {
		t.Errorf("stop with refusals held: %s", out)
	}
	h.Hold(HeldRefusal{CallID: "late"})
	if h.Len() != 0 {
		t.Error("a refusal held after the stop")
	}
}

// Only what routing reads is kept of a park: Caller-* and variable_sip*.
func TestRoutingVarsKeepsWhatRoutingReads(t *testing.T) {
	v := refusalFrom("c1", "+1", time.Now()).Vars
	if len(v) != 4 || v["variable_hold_music"] != nil || v["Event-Name"] != nil || v["variable_sip_network_ip"][0] != "192.0.2.7" {
		t.Errorf("kept %v", v)
	}
}

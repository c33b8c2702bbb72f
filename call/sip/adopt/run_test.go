package adopt

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

type fakeSwitch struct {
	mu      sync.Mutex
	replies map[string]string
	sent    []string
}

func (f *fakeSwitch) API(_ context.Context, cmd string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, cmd)
	if r, ok := f.replies[cmd]; ok {
		return r, nil
	}
	if strings.HasPrefix(cmd, "uuid_getvar ") {
		return "_undef_", nil
	}
	if strings.HasPrefix(cmd, "uuid_exists ") {
		return "false", nil
	}
	return "+OK\n", nil
}

type fakeStore struct {
	mu      sync.Mutex
	open    []db.Call
	updates map[string]map[string]any
	events  map[string][]string
	ended   map[string]bool // records that ended since OpenCalls read them
}

func (f *fakeStore) OpenCalls(context.Context, string) ([]db.Call, error) { return f.open, nil }
func (f *fakeStore) UpdateCall(_ context.Context, _ int64, id string, cols map[string]any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates[id] = cols
	return nil
}
func (f *fakeStore) CloseOpenCall(_ context.Context, _ int64, id string, cols map[string]any) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended[id] {
		return false, nil
	}
	f.updates[id] = cols
	return true, nil
}
func (f *fakeStore) AddCallEvent(_ context.Context, _ int64, id, typ string, _ db.JSONMap) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events[id] = append(f.events[id], typ)
	return nil
}

// FreeSWITCH writes its channel table behind the channels' events: a
// call answered just before the restart may not be listed yet. Its record
// is not closed while uuid_exists says the channel is there: the call is
// taken over (in progress) or hung up (still ringing). A channel that is
// really gone is closed; a transferred call's answered leg is left up.
func TestRunChannelNotYetListed(t *testing.T) {
	sw := &fakeSwitch{replies: map[string]string{
		"show channels as json":             `{"row_count":2,"rows":[{"uuid":"u-x","callstate":"ACTIVE"},{"uuid":"u-x-leg","callstate":"ACTIVE"}]}`,
		"uuid_getvar u-x sipbridge_call_id": "xfer", "uuid_getvar u-x-leg sipbridge_call_id": "xfer",
		"uuid_getvar u-x-leg sipbridge_leg": "transfer",
		"uuid_exists u-late":                "true", "uuid_exists u-late-ringing": "true",
	}}
	st := &fakeStore{updates: map[string]map[string]any{}, events: map[string][]string{}, open: []db.Call{
		{ID: "late", CallSID: "u-late", Direction: db.DirectionInbound, Status: db.CallInProgress},
		{ID: "late-ringing", CallSID: "u-late-ringing", Direction: db.DirectionInbound, Status: db.CallRinging},
		{ID: "gone", CallSID: "u-gone", Direction: db.DirectionInbound, Status: db.CallInProgress},
		{ID: "xfer", CallSID: "u-x", Direction: db.DirectionInbound, Status: db.CallInProgress},
	}}
	taken := map[string]Action{}
	taken2, closed, err := Run(context.Background(), Deps{API: sw, Store: st, Log: slog.New(slog.DiscardHandler), Now: time.Now,
		Follows: func(string, string) bool { return false },
		Take:    func(_ context.Context, d Decision) error { taken[d.Call.ID] = d.Action; return nil }})
	if err != nil || taken2 != 2 || closed != 2 {
		t.Fatalf("Run: taken %d closed %d %v, want 2 and 2", taken2, closed, err)
	}
	if taken["late"] != Adopt || taken["xfer"] != Watch {
		t.Errorf("taken over: %v, want late adopted and xfer followed", taken)
	}
	if st.updates["late-ringing"]["reason"] != ReasonUnanswered || st.updates["gone"]["reason"] != ReasonGone || st.updates["late"] != nil {
		t.Errorf("records closed: %v", st.updates)
	}
	for _, c := range sw.sent {
		if strings.HasPrefix(c, "uuid_kill u-x") || strings.HasPrefix(c, "uuid_kill u-late ") {
			t.Errorf("%q sent: a call taken over was hung up", c)
		}
	}
	if !contains(sw.sent, "uuid_kill u-late-ringing NORMAL_TEMPORARY_FAILURE") {
		t.Errorf("the unanswered call not hung up with a 503: %q", sw.sent)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRunLeavesOtherNodesRecords: with FS_NODES, a node adopts or closes
// only its own records (the calls' node column) and those older than the
// column; another node's record is not even asked about, though no channel
// of it is on this switch.
func TestRunLeavesOtherNodesRecords(t *testing.T) {
	sw := &fakeSwitch{replies: map[string]string{"show channels as json": `{"row_count": 0}`}}
	st := &fakeStore{updates: map[string]map[string]any{}, events: map[string][]string{}, open: []db.Call{
		{ID: "mine", CallSID: "u-mine", Node: "fs1", Direction: db.DirectionInbound, Status: db.CallInProgress},
		{ID: "old", CallSID: "u-old", Direction: db.DirectionInbound, Status: db.CallInProgress},
		{ID: "theirs", CallSID: "u-theirs", Node: "fs2", Direction: db.DirectionInbound, Status: db.CallInProgress},
	}}
	taken, closed, err := Run(context.Background(), Deps{API: sw, Store: st, Log: slog.New(slog.DiscardHandler), Now: time.Now, Node: "fs1",
		Follows: func(string, string) bool { return false },
		Take:    func(context.Context, Decision) error { t.Error("nothing is there to take over"); return nil }})
	if err != nil || taken != 0 || closed != 2 {
		t.Fatalf("Run: taken %d closed %d %v, want 0 and 2 (this node's record and the one without a node)", taken, closed, err)
	}
	if st.updates["mine"]["reason"] != ReasonGone || st.updates["old"]["reason"] != ReasonGone {
		t.Errorf("records closed: %v, want mine and old closed as gone", st.updates)
	}
	if st.updates["theirs"] != nil {
		t.Errorf("another node's record was closed: %v", st.updates["theirs"])
	}
	for _, c := range sw.sent {
		if strings.Contains(c, "u-theirs") {
			t.Errorf("%q sent: another node's call was asked of this switch", c)
		}
	}
}

// A call that ends while the channels are listed (no channel, no longer
// followed) keeps its own ending: its record is not rewritten as failed
// and gets no second hangup entry.
func TestRunLeavesARecordThatEndedMeanwhile(t *testing.T) {
	sw := &fakeSwitch{replies: map[string]string{"show channels as json": `{"row_count": 0}`}}
	st := &fakeStore{updates: map[string]map[string]any{}, events: map[string][]string{}, ended: map[string]bool{"just-ended": true},
		open: []db.Call{{ID: "just-ended", CallSID: "u-je", Direction: db.DirectionInbound, Status: db.CallInProgress}}}
	if _, _, err := Run(context.Background(), Deps{API: sw, Store: st, Log: slog.New(slog.DiscardHandler), Now: time.Now,
		Follows: func(string, string) bool { return false },
		Take:    func(context.Context, Decision) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if st.updates["just-ended"] != nil || len(st.events["just-ended"]) != 0 {
		t.Errorf("a record that ended meanwhile was rewritten: %v, events %v", st.updates["just-ended"], st.events["just-ended"])
	}
}

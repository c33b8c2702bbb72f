package cluster_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/cluster"
)

// fakeNode is one node's call control: the calls it holds are registered
// in the shared registry under it.
type fakeNode struct {
	name   string
	reg    *call.Registry
	mu     sync.Mutex
	live   map[string]bool
	hungUp []string
	placed int
	hold   chan struct{} // Initiate waits on it when set
	closed atomic.Bool
}

func newFake(name string, reg *call.Registry) *fakeNode {
	return &fakeNode{name: name, reg: reg, live: map[string]bool{}}
}

func (f *fakeNode) add(org int64, id string) {
	f.mu.Lock()
	f.live[id] = true
	f.mu.Unlock()
	f.reg.Add(id, org, f)
}

func (f *fakeNode) Hangup(_ context.Context, _ int64, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[id] {
		return call.ErrCallNotFound
	}
	f.hungUp = append(f.hungUp, id)
	return nil
}

func (f *fakeNode) Transfer(ctx context.Context, org int64, id, _ string, _ call.TransferMode) error {
	return f.Hangup(ctx, org, id)
}

func (f *fakeNode) Initiate(context.Context, call.InitiateRequest) (*call.InitiateResult, error) {
	if f.hold != nil {
		<-f.hold
	}
	f.mu.Lock()
	f.placed++
	f.mu.Unlock()
	return &call.InitiateResult{CallID: f.name}, nil
}

func (f *fakeNode) Active() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.live)
}

func (f *fakeNode) Drain(ctx context.Context) error { return f.reg.Drain(ctx) }

func (f *fakeNode) HandsOff() bool { return false }

func (f *fakeNode) Close() {
	f.mu.Lock()
	ids := make([]string, 0, len(f.live))
	for id := range f.live {
		ids = append(ids, id)
	}
	f.live = map[string]bool{}
	f.mu.Unlock()
	for _, id := range ids {
		f.reg.Remove(id)
	}
	f.closed.Store(true)
	for f.reg.Len() > 0 { // as sip.Calls: the shared registry's every call
		time.Sleep(time.Millisecond)
	}
}

func (f *fakeNode) AuthorizeStream(callID, token string) (sip.StreamSink, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[callID] || token != "t-"+callID {
		return nil, call.ErrBadStreamToken
	}
	return nil, nil
}

func twoNodes() (*cluster.Calls, *fakeNode, *fakeNode, *[2]bool) {
	reg := call.NewRegistry()
	a, b := newFake("fs1", reg), newFake("fs2", reg)
	up := &[2]bool{true, true}
	c := cluster.New(reg, cluster.Node{Name: "fs1", Calls: a, Up: func() bool { return up[0] }},
		cluster.Node{Name: "fs2", Calls: b, Up: func() bool { return up[1] }})
	return c, a, b, up
}

// A hangup, a transfer and a stream go to the node that holds the call;
// another organization's call, or one no node holds, is not found.
func TestCallsReachTheirNode(t *testing.T) {
	c, a, b, _ := twoNodes()
	a.add(1, "call-a")
	b.add(1, "call-b")
	ctx := context.Background()
	if err := c.Hangup(ctx, 1, "call-b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Transfer(ctx, 1, "call-a", "+15550100", call.TransferAuto); err != nil {
		t.Fatal(err)
	}
	if len(a.hungUp) != 1 || a.hungUp[0] != "call-a" || len(b.hungUp) != 1 || b.hungUp[0] != "call-b" {
		t.Errorf("fs1 got %v, fs2 got %v; want call-a on fs1, call-b on fs2", a.hungUp, b.hungUp)
	}
	if n, err := c.Holder(1, "call-b"); err != nil || n.Name != "fs2" {
		t.Errorf("holder of call-b: %q %v, want fs2", n.Name, err)
	}
	for _, tc := range []struct {
		org int64
		id  string
	}{{2, "call-a"}, {1, "nobody"}} {
		if err := c.Hangup(ctx, tc.org, tc.id); !errors.Is(err, call.ErrCallNotFound) {
			t.Errorf("hangup of org %d's %s: %v, want ErrCallNotFound", tc.org, tc.id, err)
		}
	}
	if _, err := c.AuthorizeStream("call-b", "t-call-b"); err != nil {
		t.Errorf("fs2's stream: %v", err)
	}
	if _, err := c.AuthorizeStream("call-b", "t-call-a"); !errors.Is(err, call.ErrBadStreamToken) {
		t.Errorf("a wrong token: %v, want ErrBadStreamToken", err)
	}
	if c.Active() != 2 {
		t.Errorf("active %d, want 2", c.Active())
	}
}

// A new outbound call goes to the least loaded node that is up, the first
// on a tie; calls being placed count; with no node up, the first.
func TestPickLeastLoadedUpNode(t *testing.T) {
	c, a, b, up := twoNodes()
	if got := c.Pick(); got != 0 {
		t.Errorf("tie: node %d, want 0", got)
	}
	a.add(1, "x")
	if got := c.Pick(); got != 1 {
		t.Errorf("fs1 busier: node %d, want 1", got)
	}
	up[1] = false
	if got := c.Pick(); got != 0 {
		t.Errorf("fs2 down: node %d, want 0", got)
	}
	up[0] = false
	if got := c.Pick(); got != 0 {
		t.Errorf("none up: node %d, want 0", got)
	}
	up[0], up[1] = true, true
	// fs1 holds two calls; fs2 places two at once (held): each counts, so
	// the loads are then 2 and 2 and the next call goes to fs1.
	a.add(1, "z")
	b.hold = make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = c.Initiate(context.Background(), call.InitiateRequest{}) }()
		time.Sleep(20 * time.Millisecond) // the first is counted before the second picks
	}
	if got := c.Pick(); got != 0 {
		t.Errorf("fs1 live 2, fs2 placing 2: node %d, want 0", got)
	}
	close(b.hold)
	wg.Wait()
	if b.placed != 2 || a.placed != 0 {
		t.Errorf("placed fs1 %d fs2 %d, want 0 and 2", a.placed, b.placed)
	}
}

// Close ends every node's calls even though each node's Close waits for
// the shared registry's every call.
func TestCloseEndsEveryNode(t *testing.T) {
	c, a, b, _ := twoNodes()
	a.add(1, "x")
	b.add(1, "y")
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return: a node waited for another's calls")
	}
	if !a.closed.Load() || !b.closed.Load() || c.Active() != 0 {
		t.Errorf("closed fs1 %v fs2 %v, active %d", a.closed.Load(), b.closed.Load(), c.Active())
	}
}

// remote is another replica's call control.
type remote struct{ asked []string }

func (r *remote) Hangup(_ context.Context, _ int64, id string) error {
	r.asked = append(r.asked, "hangup "+id)
	return nil
}

func (r *remote) Transfer(_ context.Context, _ int64, id, to string, _ call.TransferMode) error {
	r.asked = append(r.asked, "transfer "+id+" "+to)
	return nil
}

// A call no node here holds is asked of Remote; one held here never is.
// With NoNode, an outbound call while no node is up goes to it.
func TestRemoteAndNoNode(t *testing.T) {
	c, a, _, up := twoNodes()
	r := &remote{}
	c.Remote = r
	a.add(1, "here")
	ctx := context.Background()
	if err := c.Hangup(ctx, 1, "here"); err != nil || len(r.asked) != 0 {
		t.Fatalf("a call held here: %v, remote asked %v", err, r.asked)
	}
	_ = c.Hangup(ctx, 1, "elsewhere")
	_ = c.Transfer(ctx, 1, "elsewhere", "+15550100", call.TransferAuto)
	if want := []string{"hangup elsewhere", "transfer elsewhere +15550100"}; !slices.Equal(r.asked, want) {
		t.Errorf("remote asked %v, want %v", r.asked, want)
	}
	var placed bool
	c.NoNode = func(context.Context, call.InitiateRequest) (*call.InitiateResult, error) {
		placed = true
		return nil, cluster.ErrNoNodeUp
	}
	if _, err := c.Initiate(ctx, call.InitiateRequest{}); err != nil || placed {
		t.Fatalf("with a node up: %v, NoNode asked %v", err, placed)
	}
	up[0], up[1] = false, false
	if _, err := c.Initiate(ctx, call.InitiateRequest{}); !errors.Is(err, call.ErrSwitchUnavailable) || !placed {
		t.Errorf("no node up: %v (NoNode asked %v), want NoNode's switch_unavailable", err, placed)
	}
}

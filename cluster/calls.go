// Package cluster spreads call control over several FreeSWITCH nodes
// (FS_NODES). Each node has call control of its own (a sip.Calls on the
// node's event connection and command pool); Calls here is what the API,
// the console, the metrics and shutdown see: it finds the node that holds
// a live call, picks the node of a new outbound call, and drains and
// closes them all.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip"
)

// Control is one node's call control (*sip.Calls).
type Control interface {
	call.Path
	// AuthorizeStream checks a mod_audio_stream websocket's token for a
	// live call of this node.
	AuthorizeStream(callID, token string) (sip.StreamSink, error)
	// HandsOff tells whether stopping leaves the answered calls up for
	// the next process (SHUTDOWN_CALLS=handoff).
	HandsOff() bool
}

var _ Control = (*sip.Calls)(nil)

// Node is one FreeSWITCH node's call control.
type Node struct {
	Name  string
	Calls Control
	// Up tells whether the node's connections are up (nil: always).
	Up func() bool
}

// Calls is call control over every node.
type Calls struct {
	// Remote, when set, is asked about a call no node here holds (a
	// call held by another replica: Forwarder).
	Remote call.Controls
	// NoNode, when set, places an outbound call when no node is up (a
	// replica that holds no node's lease) instead of the first node.
	NoNode func(ctx context.Context, req call.InitiateRequest) (*call.InitiateResult, error)

	nodes    []Node
	registry *call.Registry
	// placing counts, per node, the outbound calls Initiate is placing
	// there and that its Active does not count yet, so that a burst of
	// calls is spread too.
	placing []atomic.Int64
}

// New returns call control over nodes (at least one; the first is the
// default). registry is the registry of live calls the nodes' call
// controls share (their call.Options.Registry): it tells which node holds a
// call.
func New(registry *call.Registry, nodes ...Node) *Calls {
	if len(nodes) == 0 {
		panic("cluster: no node")
	}
	return &Calls{nodes: nodes, registry: registry, placing: make([]atomic.Int64, len(nodes))}
}

// Nodes returns the nodes, in FS_NODES order.
func (c *Calls) Nodes() []Node { return c.nodes }

// Holder returns the node whose call control holds the live call of the
// organization; ErrCallNotFound when none does.
func (c *Calls) Holder(orgID int64, callID string) (Node, error) {
	p, err := c.registry.PathOf(orgID, callID)
	if err != nil {
		return Node{}, err
	}
	for _, n := range c.nodes {
		if call.Path(n.Calls) == p {
			return n, nil
		}
	}
	return Node{}, call.ErrCallNotFound
}

// Hangup ends a live call on the node that holds it, else through Remote.
func (c *Calls) Hangup(ctx context.Context, orgID int64, callID string) error {
	err := c.Here().Hangup(ctx, orgID, callID)
	if errors.Is(err, call.ErrCallNotFound) && c.Remote != nil {
		return c.Remote.Hangup(ctx, orgID, callID)
	}
	return err
}

// Transfer moves a live call on the node that holds it, else through
// Remote.
func (c *Calls) Transfer(ctx context.Context, orgID int64, callID, to string, mode call.TransferMode) error {
	err := c.Here().Transfer(ctx, orgID, callID, to, mode)
	if errors.Is(err, call.ErrCallNotFound) && c.Remote != nil {
		return c.Remote.Transfer(ctx, orgID, callID, to, mode)
	}
	return err
}

// Here is the control of the calls this process's nodes hold, never
// asking Remote (a request another replica forwarded).
func (c *Calls) Here() call.Controls { return here{c} }

type here struct{ c *Calls }

func (h here) Hangup(ctx context.Context, orgID int64, callID string) error {
	n, err := h.c.Holder(orgID, callID)
	if err != nil {
		return err
	}
	return n.Calls.Hangup(ctx, orgID, callID)
}

func (h here) Transfer(ctx context.Context, orgID int64, callID, to string, mode call.TransferMode) error {
	n, err := h.c.Holder(orgID, callID)
	if err != nil {
		return err
	}
	return n.Calls.Transfer(ctx, orgID, callID, to, mode)
}

// AuthorizeStream checks a stream's token with the node that holds the
// call.
func (c *Calls) AuthorizeStream(callID, token string) (sip.StreamSink, error) {
	for _, n := range c.nodes {
		s, err := n.Calls.AuthorizeStream(callID, token)
		if !errors.Is(err, call.ErrBadStreamToken) {
			return s, err
		}
	}
	return nil, call.ErrBadStreamToken
}

// ErrNoNodeUp is the answer to an outbound call that needs a node when
// this replica controls none.
var ErrNoNodeUp = fmt.Errorf("%w: no FreeSWITCH node is controlled by this replica", call.ErrSwitchUnavailable)

// Initiate places an outbound call on the node Pick chooses.
func (c *Calls) Initiate(ctx context.Context, req call.InitiateRequest) (*call.InitiateResult, error) {
	i := c.Pick()
	if c.NoNode != nil && !c.isUp(i) {
		return c.NoNode(ctx, req)
	}
	c.placing[i].Add(1)
	defer c.placing[i].Add(-1)
	return c.nodes[i].Calls.Initiate(ctx, req)
}

// Pick returns the index of the node a new outbound call goes to: the
// least loaded node that is up — the fewest live calls, counting the ones
// being placed — the first in FS_NODES order on a tie; when no node is up,
// the first (whose call control then answers that the switch is away).
func (c *Calls) Pick() int {
	best, bestLoad := 0, int64(-1)
	for i, n := range c.nodes {
		if !c.isUp(i) {
			continue
		}
		load := int64(n.Calls.Active()) + c.placing[i].Load()
		if bestLoad < 0 || load < bestLoad {
			best, bestLoad = i, load
		}
	}
	return best
}

func (c *Calls) isUp(i int) bool { return c.nodes[i].Up == nil || c.nodes[i].Up() }

// Active returns the number of live calls over every node.
func (c *Calls) Active() int {
	total := 0
	for _, n := range c.nodes {
		total += n.Calls.Active()
	}
	return total
}

// Drain refuses new calls on every node and waits until the live ones
// have ended or ctx is done.
func (c *Calls) Drain(ctx context.Context) error {
	errs := make([]error, len(c.nodes))
	c.each(func(i int, n Node) { errs[i] = n.Calls.Drain(ctx) })
	return errors.Join(errs...)
}

// Close ends the calls of every node at once (the nodes share one
// registry: each one's Close waits for every call, so none may wait for
// HandsOff tells whether stopping leaves the answered calls up for the
// next process (SHUTDOWN_CALLS=handoff: every node's control has it).
func (c *Calls) HandsOff() bool { return len(c.nodes) > 0 && c.nodes[0].Calls.HandsOff() }

// another's first).
func (c *Calls) Close() { c.each(func(_ int, n Node) { n.Calls.Close() }) }

// each runs f for every node concurrently and waits.
func (c *Calls) each(f func(i int, n Node)) {
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); f(i, n) }()
	}
	wg.Wait()
}

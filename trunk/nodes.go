package trunk

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// Several FreeSWITCH nodes: every trunk is applied to every node. The
// generated files are one set (FS_GEN_DIR, read by every node on the box,
// or served to each over mod_xml_curl); the state FreeSWITCH holds and
// reports, and the commands a pass sends, are per node.

// SwitchAPI is what the reconciler needs of a node's Event Socket.
type SwitchAPI interface {
	API(ctx context.Context, cmd string) (string, error)
}

// Node is one FreeSWITCH the trunks are applied to.
type Node struct {
	Name string    // as in FS_NODES
	API  SwitchAPI // its commands connection
}

// node is one FreeSWITCH and what the reconciler knows it holds; its maps
// are guarded by Sync.mu.
type node struct {
	name      string
	sw        SwitchAPI
	known     bool              // present was read from FreeSWITCH since the last connect
	present   map[string]bool   // gateways FreeSWITCH has in our profile
	loaded    map[string]string // gateway → hash of the file FreeSWITCH loaded
	aclLoaded bool              // ACL lists reloaded since the last connect
	rescan    bool              // a pass failed here: the next one rescans the profile
	waiters   map[string][]chan struct{}
	live      map[string]db.GatewayLive // gateway → what this node reported (per-node mode)
	liveSeq   map[string]uint64         // gateway → Sync.seq of its last event (per-node mode)
	results   map[string]db.SyncResult  // trunk ID → this node's last sync result (per-node mode)
}

func newNode(name string, sw SwitchAPI) *node {
	return &node{name: name, sw: sw, present: map[string]bool{}, loaded: map[string]string{},
		waiters: map[string][]chan struct{}{}, live: map[string]db.GatewayLive{}, liveSeq: map[string]uint64{}, results: map[string]db.SyncResult{}}
}

// NodeState is a trunk's state on one node.
type NodeState struct {
	Node           string
	GatewayState   string // as FreeSWITCH last reported it ("": no report yet)
	LastStatusCode int
	SyncState      string // applied | pending | error ("pending" before the first pass)
	SyncMessage    string
}

// NodeSummary is what the reconciler knows of one node.
type NodeSummary struct {
	Name     string
	Gateways int            // our gateways FreeSWITCH reports in the profile
	ByState  map[string]int // those gateways by their last reported state
}

// PerNode reports whether the trunks' state is kept per node (FS_NODES).
func (s *Sync) PerNode() bool { return s.perNode }

// NodeNames lists the nodes in their configured order.
func (s *Sync) NodeNames() []string {
	out := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		out[i] = n.name
	}
	return out
}

// NodesVersion changes whenever a node's state of a trunk changes (the
// API's caches key on it).
func (s *Sync) NodesVersion() uint64 { return s.version.Load() }

// TrunkNodes is the trunk's state on each node, one entry per node in
// the configured order; nil unless the state is kept per node.
func (s *Sync) TrunkNodes(trunkID, gateway string) []NodeState {
	if !s.perNode {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NodeState, 0, len(s.nodes))
	for _, n := range s.nodes {
		st := NodeState{Node: n.name, SyncState: "pending"}
		if l, ok := n.live[gateway]; ok {
			st.GatewayState, st.LastStatusCode = l.State, l.LastStatusCode
		}
		if r, ok := n.results[trunkID]; ok {
			st.SyncState, st.SyncMessage = r.State, r.Message
		}
		out = append(out, st)
	}
	return out
}

// Nodes summarizes each node's gateways (ours only), in configured order.
func (s *Sync) Nodes() []NodeSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NodeSummary, 0, len(s.nodes))
	for _, n := range s.nodes {
		sum := NodeSummary{Name: n.name, ByState: map[string]int{}}
		for g := range n.present {
			if !xmlgen.IsOurGateway(g) {
				continue
			}
			sum.Gateways++
			if st := n.live[g].State; st != "" {
				sum.ByState[st]++
			}
		}
		out = append(out, sum)
	}
	return out
}

// NodeConnected must be called after every (re)connect of the named
// node's Event Socket (Connected is the first node's).
func (s *Sync) NodeConnected(name string) {
	s.mu.Lock()
	if n := s.nodeLocked(name); n != nil {
		n.known, n.aclLoaded = false, false
		s.dirtyLocked()
	}
	s.mu.Unlock()
}

// liveWriteTimeout bounds the write of a gateway's live state.
const liveWriteTimeout = 5 * time.Second

// NodeLost must be called when the named node's event connection drops
// (with several nodes): what it said of its gateways is no longer known, so
// its entries show no state ("") until it is read again on its return, and
// each gateway's aggregate is written again without it.
func (s *Sync) NodeLost(ctx context.Context, name string) {
	if !s.perNode {
		return
	}
	s.mu.Lock()
	n := s.nodeLocked(name)
	var gws []string
	if n != nil {
		n.known = false
		for g, l := range n.live {
			if l.State != "" {
				gws = append(gws, g)
			}
		}
	}
	s.mu.Unlock()
	for _, g := range gws {
		if err := s.recordLive(ctx, n, db.GatewayLive{GatewayName: g}, 0); err != nil {
			s.log.Warn("gateway state not recorded after a node was lost", "node", name, "gateway", g, "err", err)
		}
	}
}

// nodeLocked finds a node by name ("": the first).
func (s *Sync) nodeLocked(name string) *node {
	if name == "" {
		return s.nodes[0]
	}
	for _, n := range s.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// stateRank orders gateway states from good to bad for the aggregate
// gateway_state: REGED or NOREG only when every node says so, else the
// worst node's state: DOWN, then FAILED/FAIL_WAIT/TIMEOUT/NOAVAIL, then
// UNREGED/EXPIRED, then no report yet (""), then the states on the way
// (TRYING, REGISTER, UNREGISTER and any other).
func stateRank(st string) int {
	switch st {
	case "REGED", "NOREG":
		return 0
	case "":
		return 2
	case "UNREGED", "EXPIRED":
		return 3
	case "FAILED", "FAIL_WAIT", "TIMEOUT", "NOAVAIL":
		return 4
	case "DOWN":
		return 5
	}
	return 1
}

// recordLive records what node n reports about a gateway: with one node
// as is, per node the aggregate of every node's report (stateRank; the
// ping status and status code are the chosen node's). since is 0 for an
// event; for an xmlstatus reply, the event sequence when it was asked:
// a gateway event newer than the question wins over the reply.
func (s *Sync) recordLive(ctx context.Context, n *node, live db.GatewayLive, since uint64) error {
	// An event's write never holds up the events behind it for longer
	// than liveWriteTimeout, whatever the database does.
	ctx, cancel := context.WithTimeout(ctx, liveWriteTimeout)
	defer cancel()
	if !s.perNode {
		return s.store.SetGatewayLive(ctx, live)
	}
	// The aggregate is computed and written under one lock (bounded by
	// liveWriteTimeout): two nodes' events handled at once must not write
	// their aggregates out of order.
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	s.mu.Lock()
	if since == 0 {
		n.liveSeq[live.GatewayName] = s.seq.Add(1)
	} else if n.liveSeq[live.GatewayName] >= since {
		s.mu.Unlock()
		return nil
	}
	cur := n.live[live.GatewayName]
	cur.GatewayName, cur.State = live.GatewayName, live.State
	if live.PingStatus != "" {
		cur.PingStatus = live.PingStatus
	}
	if live.LastStatusCode != 0 {
		cur.LastStatusCode = live.LastStatusCode
	}
	n.live[live.GatewayName] = cur
	agg := db.GatewayLive{GatewayName: live.GatewayName}
	worst := -1
	for _, m := range s.nodes {
		l := m.live[live.GatewayName]
		if r := stateRank(l.State); r > worst {
			worst, agg.State, agg.PingStatus, agg.LastStatusCode = r, l.State, l.PingStatus, l.LastStatusCode
		}
	}
	s.mu.Unlock()
	s.version.Add(1)
	return s.store.SetGatewayLive(ctx, agg)
}

// syncRank orders sync states for the aggregate sync_status: error, then
// pending, then applied.
func syncRank(st string) int {
	switch st {
	case "error":
		return 2
	case "pending":
		return 1
	}
	return 0
}

// aggregate records each node's results of a pass and returns the trunks'
// results: with one node its own, per node the worst node's (syncRank, an
// error's message naming the node).
func (s *Sync) aggregate(trunks []db.SIPTrunk, byNode map[*node][]db.SyncResult) []db.SyncResult {
	if !s.perNode {
		return byNode[s.nodes[0]]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exists := make(map[string]bool, len(trunks))
	for i := range trunks {
		exists[trunks[i].ID] = true
	}
	gateways := make(map[string]bool, len(trunks))
	for i := range trunks {
		gateways[trunks[i].GatewayName] = true
	}
	touched := map[string]bool{}
	for _, n := range s.nodes {
		for id := range n.results {
			if !exists[id] {
				delete(n.results, id)
			}
		}
		for g := range n.live { // a deleted trunk's gateway, gone from the node
			if !gateways[g] && !n.present[g] {
				delete(n.live, g)
				delete(n.liveSeq, g)
			}
		}
		for _, r := range byNode[n] {
			n.results[r.TrunkID] = r
			touched[r.TrunkID] = true
		}
	}
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]db.SyncResult, 0, len(ids))
	for _, id := range ids {
		agg, worst := db.SyncResult{TrunkID: id, State: "pending"}, -1
		for _, n := range s.nodes {
			r, ok := n.results[id]
			if !ok {
				r = db.SyncResult{TrunkID: id, State: "pending", Message: "not yet applied on node " + n.name}
			}
			if rank := syncRank(r.State); rank > worst {
				worst, agg = rank, r
				if r.State == "error" && len(s.nodes) > 1 {
					agg.Message = fmt.Sprintf("node %s: %s", n.name, r.Message)
				}
			}
		}
		out = append(out, agg)
	}
	s.version.Add(1)
	return out
}

// TrunkNodes is the trunk's state on each node (nil without a reconciler
// or when the state is not kept per node).
func (t *Service) TrunkNodes(trunkID, gateway string) []NodeState {
	if t.sync == nil {
		return nil
	}
	return t.sync.TrunkNodes(trunkID, gateway)
}

// NodesVersion changes whenever a node's state of a trunk changes.
func (t *Service) NodesVersion() uint64 {
	if t.sync == nil {
		return 0
	}
	return t.sync.NodesVersion()
}

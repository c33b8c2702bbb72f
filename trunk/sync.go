package trunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/xmlgen"
)

var (
	// ErrSwitch wraps errors reported by FreeSWITCH.
	ErrSwitch = errors.New("freeswitch")
	// ErrRejected means FreeSWITCH refused the generated configuration.
	ErrRejected = errors.New("freeswitch rejected the generated configuration")
)

// Resolver looks up the addresses of a host name.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// SyncOptions configures the trunk reconciler.
type SyncOptions struct {
	GenDir        string        // FS_GEN_DIR
	Profile       string        // FS_PROFILE
	DeleteTimeout time.Duration // how long to wait for sofia::gateway_delete after killgw (default 10s)
	Resolver      Resolver      // default net.DefaultResolver
	// AddressPolicy filters the addresses a registration trunk's hosts
	// resolve to before they enter its ACL list: a loopback, link-local or
	// metadata address (or a private one, without AllowPrivate) is left out
	// with a warning (nil: netpolicy.Default()).
	AddressPolicy *netpolicy.Policy
	// Proxies are the trusted SIP fronts (SIP_PROXIES, CIDRs): rendered as
	// the ACL list xmlgen.ProxyACLList, which the profile applies, so their
	// INVITEs pass FreeSWITCH's inbound ACL (none: no such list).
	Proxies []string
	// Nodes are the FreeSWITCH nodes (FS_NODES) when the trunks' state is
	// kept per node: each gets every trunk (NewSync's switch is then
	// unused). None: one node, NewSync's switch, state as FreeSWITCH
	// reports it.
	Nodes []Node
	Log   *slog.Logger
}

// Generated directory layout, fixed with freeswitch/conf.
const (
	dirGateways   = "gateways"
	dirACL        = "acl"
	dirProfile    = "profile"
	profileParams = "profile/inbound-acl.xml"
)

// Sync is the level-triggered reconciler from SIP trunk records to
// FreeSWITCH gateways and ACL lists. Desired state: the database. Actual state:
// the files under GenDir and what FreeSWITCH reports (xmlstatus on connect,
// sofia::gateway_* events). A pass writes only changed files and sends only
// the commands needed: killgw for changed or removed gateways (waiting for
// sofia::gateway_delete), reloadacl when lists changed, one rescan for
// additions. It never restarts the profile.
type Sync struct {
	opts    SyncOptions
	store   *db.Store
	log     *slog.Logger
	nodes   []*node // in configured order; the first is Connected's
	perNode bool    // SyncOptions.Nodes: state kept and shown per node
	version atomic.Uint64
	seq     atomic.Uint64 // counts gateway events (per-node mode)
	liveMu  sync.Mutex    // one aggregate gateway state computed and written at a time

	passMu sync.Mutex // one pass at a time

	mu       sync.Mutex
	disk     map[string][]byte // relative path → bytes on disk (cache)
	diskRead bool
	dns      map[string]dnsEntry
	kick     chan struct{}
	clean    string // fingerprint of the desired state at the last clean pass; "" = must look

	afterFingerprint func() // tests: runs between a pass's fingerprint and its read of the trunks
}

type dnsEntry struct {
	addrs []netip.Addr
	err   error
}

// NewSync returns a reconciler.
func NewSync(store *db.Store, sw SwitchAPI, opts SyncOptions) *Sync {
	if opts.DeleteTimeout == 0 {
		opts.DeleteTimeout = 10 * time.Second
	}
	if opts.Profile == "" {
		opts.Profile = "external"
	}
	if opts.Resolver == nil {
		opts.Resolver = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Sync{opts: opts, store: store, log: opts.Log, disk: map[string][]byte{}, dns: map[string]dnsEntry{}}
	if len(opts.Nodes) == 0 {
		s.nodes = []*node{newNode("fs1", sw)}
	}
	for _, n := range opts.Nodes {
		s.nodes = append(s.nodes, newNode(n.Name, n.API))
	}
	s.perNode = len(opts.Nodes) > 0
	return s
}

// PassResult summarizes what a pass did.
type PassResult struct {
	Written  []string // files written or removed (relative paths)
	Commands []string // commands sent to FreeSWITCH
}

// desiredGateway is one enabled trunk rendered.
type desiredGateway struct {
	trunk   *db.SIPTrunk
	file    []byte
	hash    string
	warning string
}

// Connected must be called after every (re)connect of the (first node's)
// Event Socket: the next pass re-reads FreeSWITCH's gateways and reloads
// the ACL lists.
func (s *Sync) Connected() { s.NodeConnected("") }

// Refresh makes the next pass re-apply these gateways: FreeSWITCH's copy is
// treated as stale, so they get killgw and rescan (nothing else is touched).
func (s *Sync) Refresh(gateways ...string) {
	s.mu.Lock()
	for _, n := range s.nodes {
		for _, g := range gateways {
			if n.present[g] {
				n.loaded[g] = "refresh"
			}
		}
	}
	s.dirtyLocked()
	s.mu.Unlock()
	s.Kick()
}

// RefreshDNS forgets resolved gateway addresses (the cron tick re-resolves).
func (s *Sync) RefreshDNS() {
	s.mu.Lock()
	s.dns = map[string]dnsEntry{}
	s.dirtyLocked()
	s.mu.Unlock()
}

// Pass runs one reconcile pass: plan (desired state against the files and
// FreeSWITCH), apply (write, killgw, reloadacl, rescan) and status (the
// trunks' sync results). With several nodes the files are written once
// and each node gets its own commands; a node that cannot be read or
// applied shows the error on its trunks and leaves the others alone.
func (s *Sync) Pass(ctx context.Context) (PassResult, error) {
	s.passMu.Lock()
	defer s.passMu.Unlock()
	var res PassResult

	fp, err := s.store.TrunksFingerprint(ctx)
	if err != nil {
		return res, err
	}
	s.mu.Lock()
	unchanged := s.clean != "" && s.clean == fp && s.settledLocked()
	s.mu.Unlock()
	if unchanged {
		return res, nil // nothing changed on either side since the last clean pass
	}
	if s.afterFingerprint != nil {
		s.afterFingerprint()
	}
	trunks, err := s.store.AllTrunks(ctx)
	if err != nil {
		return res, err
	}
	// The trunks are what the pass applies; the fingerprint remembered as
	// clean must be theirs. A write between the two reads (a trunk created
	// and applied by this pass, then deleted) could otherwise bring the
	// table back to the remembered fingerprint and the deletion's pass
	// would skip as unchanged, leaving the gateway in FreeSWITCH.
	if again, err := s.store.TrunksFingerprint(ctx); err != nil {
		return res, err
	} else if again != fp {
		fp = "" // not clean: the next pass looks again
	}
	if err := s.loadDisk(); err != nil {
		return res, err
	}
	down := map[*node]error{}
	for _, n := range s.nodes {
		if err := s.readActual(ctx, n, &res); err != nil {
			if !s.perNode {
				return res, err
			}
			down[n] = err
		}
	}
	p, err := s.plan(ctx, trunks, down)
	if err != nil {
		return res, err
	}
	if p.empty() {
		results := s.aggregate(trunks, s.appliedResults(p))
		s.markClean(fp, results)
		if err := s.store.SetSyncResults(ctx, changedResults(trunks, results)); err != nil {
			return res, err
		}
		return res, p.nodeErrors()
	}
	// Write files (atomically, only when the bytes change).
	if err := s.writeFiles(p.files, p.prev, &res); err != nil {
		return res, s.writeFailed(ctx, trunks, p, err, &res)
	}
	s.apply(ctx, p, &res)
	passErr := p.nodeErrors()
	results := s.aggregate(trunks, s.settle(ctx, p, &res))
	if passErr == nil {
		s.markClean(fp, results)
	}
	if err := s.store.SetSyncResults(ctx, changedResults(trunks, results)); err != nil {
		return res, err
	}
	return res, passErr
}

// settledLocked reports whether every node was read since its last
// connect and has its ACL lists loaded.
func (s *Sync) settledLocked() bool {
	for _, n := range s.nodes {
		if !n.known || !n.aclLoaded || n.rescan {
			return false
		}
	}
	return true
}

// plan is what one pass has to do.
type plan struct {
	files   map[string][]byte          // the generated files wanted (relative path → bytes)
	gws     map[string]*desiredGateway // the gateways wanted, by name
	results []db.SyncResult            // trunks settled while rendering (disabled, errors)
	prev    map[string][]byte          // files about to change, as they were (nil = absent)
	steps   []*nodePlan                // each node's commands, in the nodes' order
	perNode bool
}

// nodePlan is what one node needs.
type nodePlan struct {
	n         *node
	down      bool     // the node could not be read: nothing is sent to it
	err       error    // why the node is down or its commands failed
	toKill    []string // gateways to killgw (changed or removed)
	toAdd     []string // gateways a rescan adds ("" = the profile's ACL list changed)
	aclReload bool
}

func (p *plan) empty() bool {
	if len(p.prev) > 0 {
		return false
	}
	for _, np := range p.steps {
		if !np.down && (len(np.toKill) > 0 || len(np.toAdd) > 0 || np.aclReload) {
			return false
		}
	}
	return true
}

// nodeErrors is the pass's error: the one node's as it is, or each
// failed node's, named.
func (p *plan) nodeErrors() error {
	var errs []error
	for _, np := range p.steps {
		if np.err == nil {
			continue
		}
		if !p.perNode {
			return np.err
		}
		errs = append(errs, fmt.Errorf("node %s: %w", np.n.name, np.err))
	}
	return errors.Join(errs...)
}

// plan renders the desired state and diffs it against the disk and
// against each node.
func (s *Sync) plan(ctx context.Context, trunks []db.SIPTrunk, down map[*node]error) (*plan, error) {
	files, gws, results, err := s.desired(ctx, trunks)
	if err != nil {
		return nil, err
	}
	p := &plan{files: files, gws: gws, results: results, prev: map[string][]byte{}, perNode: s.perNode}
	s.mu.Lock()
	defer s.mu.Unlock()
	aclChanged, profileChanged := s.planFilesLocked(p)
	for _, n := range s.nodes {
		np := &nodePlan{n: n, err: down[n], down: down[n] != nil}
		p.steps = append(p.steps, np)
		if np.down {
			if len(p.prev) > 0 {
				s.missedLocked(n) // the node gets the changed files when it is back
			}
			continue
		}
		for name, d := range gws {
			switch {
			case !n.present[name]:
				np.toAdd = append(np.toAdd, name)
			case n.loaded[name] != d.hash:
				np.toKill = append(np.toKill, name)
				np.toAdd = append(np.toAdd, name)
			}
		}
		for name := range n.present {
			if _, want := gws[name]; !want && xmlgen.IsOurGateway(name) {
				np.toKill = append(np.toKill, name)
			}
		}
		np.aclReload = !n.aclLoaded || aclChanged
		sort.Strings(np.toKill)
		sort.Strings(np.toAdd)
		if profileChanged || n.rescan {
			np.toAdd = append(np.toAdd, "") // the profile's list of ACLs changed: rescan re-reads it
		}
	}
	return p, nil
}

// planFilesLocked records the files that change (for restoring when
// FreeSWITCH rejects the new ones) and what their change needs: a reload
// of the ACL lists, a rescan for the profile's list of ACLs.
func (s *Sync) planFilesLocked(p *plan) (aclChanged, profileChanged bool) {
	for rel, b := range p.files {
		if old, ok := s.disk[rel]; ok && bytes.Equal(old, b) {
			continue
		}
		p.prev[rel] = s.disk[rel] // nil = did not exist
		if strings.HasPrefix(rel, dirACL+"/") || rel == profileParams {
			aclChanged = true
		}
		if rel == profileParams {
			profileChanged = true
		}
	}
	for rel := range s.disk {
		if _, want := p.files[rel]; !want {
			p.prev[rel] = s.disk[rel]
			if strings.HasPrefix(rel, dirACL+"/") {
				aclChanged = true
			}
		}
	}
	return aclChanged, profileChanged
}

// missedLocked marks a node that missed a pass's changes or failed to take
// them (several nodes only): the next pass re-reads it, reloads its ACL
// lists and rescans its profile.
func (s *Sync) missedLocked(n *node) {
	n.known, n.aclLoaded, n.rescan = false, false, true
	s.dirtyLocked()
}

// markClean remembers the fingerprint when every trunk is settled, so the
// next pass can skip loading the desired state if nothing changes.
func (s *Sync) markClean(fp string, results []db.SyncResult) {
	for _, r := range results {
		if r.State != "applied" && !strings.HasPrefix(r.Message, "disabled") {
			return
		}
	}
	s.mu.Lock()
	s.clean = fp
	s.mu.Unlock()
}

// dirty makes the next pass look at everything (caller holds s.mu).
func (s *Sync) dirtyLocked() { s.clean = "" }

// changedResults drops the results that the trunks' statuses already say.
func changedResults(trunks []db.SIPTrunk, results []db.SyncResult) []db.SyncResult {
	cur := make(map[string]*db.TrunkStatus, len(trunks))
	for i := range trunks {
		cur[trunks[i].ID] = trunks[i].Status
	}
	out := results[:0]
	for _, r := range results {
		if st := cur[r.TrunkID]; st != nil && st.SyncState == r.State && st.SyncMessage == r.Message {
			continue
		}
		out = append(out, r)
	}
	return out
}

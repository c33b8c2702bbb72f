package trunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
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

// switchAPI is what the reconciler needs of the Event Socket.
type switchAPI interface {
	API(ctx context.Context, cmd string) (string, error)
}

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
	Log     *slog.Logger
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
	opts  SyncOptions
	store *db.Store
	sw    switchAPI
	log   *slog.Logger

	passMu sync.Mutex // one pass at a time

	mu        sync.Mutex
	known     bool              // present was read from FreeSWITCH since the last connect
	present   map[string]bool   // gateways FreeSWITCH has in our profile
	loaded    map[string]string // gateway → hash of the file FreeSWITCH loaded
	aclLoaded bool              // ACL lists reloaded since the last connect
	waiters   map[string][]chan struct{}
	disk      map[string][]byte // relative path → bytes on disk (cache)
	diskRead  bool
	dns       map[string]dnsEntry
	kick      chan struct{}
	clean     string // fingerprint of the desired state at the last clean pass; "" = must look

	afterFingerprint func() // tests: runs between a pass's fingerprint and its read of the trunks
}

type dnsEntry struct {
	addrs []netip.Addr
	err   error
}

// NewSync returns a reconciler.
func NewSync(store *db.Store, sw switchAPI, opts SyncOptions) *Sync {
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
	return &Sync{opts: opts, store: store, sw: sw, log: opts.Log,
		present: map[string]bool{}, loaded: map[string]string{}, waiters: map[string][]chan struct{}{},
		disk: map[string][]byte{}, dns: map[string]dnsEntry{}}
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

// Connected must be called after every (re)connect of the Event Socket: the
// next pass re-reads FreeSWITCH's gateways and reloads the ACL lists.
func (s *Sync) Connected() {
	s.mu.Lock()
	s.known = false
	s.aclLoaded = false
	s.dirtyLocked()
	s.mu.Unlock()
}

// Refresh makes the next pass re-apply these gateways: FreeSWITCH's copy is
// treated as stale, so they get killgw and rescan (nothing else is touched).
func (s *Sync) Refresh(gateways ...string) {
	s.mu.Lock()
	for _, g := range gateways {
		if s.present[g] {
			s.loaded[g] = "refresh"
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
// trunks' sync results).
func (s *Sync) Pass(ctx context.Context) (PassResult, error) {
	s.passMu.Lock()
	defer s.passMu.Unlock()
	var res PassResult

	fp, err := s.store.TrunksFingerprint(ctx)
	if err != nil {
		return res, err
	}
	s.mu.Lock()
	unchanged := s.clean != "" && s.clean == fp && s.known && s.aclLoaded
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
	if err := s.readActual(ctx, &res); err != nil {
		return res, err
	}
	p, err := s.plan(ctx, trunks)
	if err != nil {
		return res, err
	}
	if p.empty() {
		results := s.appliedResults(p.gws, p.results)
		s.markClean(fp, results)
		return res, s.store.SetSyncResults(ctx, changedResults(trunks, results))
	}
	// Write files (atomically, only when the bytes change).
	if err := s.writeFiles(p.files, p.prev, &res); err != nil {
		return res, s.writeFailed(ctx, trunks, p, err, &res)
	}
	passErr := s.apply(ctx, p, &res)
	results := s.settle(ctx, fp, p, passErr, &res)
	if err := s.store.SetSyncResults(ctx, changedResults(trunks, results)); err != nil {
		return res, err
	}
	return res, passErr
}

// plan is what one pass has to do.
type plan struct {
	files     map[string][]byte          // the generated files wanted (relative path → bytes)
	gws       map[string]*desiredGateway // the gateways wanted, by name
	results   []db.SyncResult            // trunks settled while rendering (disabled, errors)
	toKill    []string                   // gateways to killgw (changed or removed)
	toAdd     []string                   // gateways a rescan adds ("" = the profile's ACL list changed)
	prev      map[string][]byte          // files about to change, as they were (nil = absent)
	aclReload bool
}

func (p *plan) empty() bool {
	return len(p.prev) == 0 && len(p.toKill) == 0 && len(p.toAdd) == 0 && !p.aclReload
}

// plan renders the desired state and diffs it against the disk and
// against FreeSWITCH.
func (s *Sync) plan(ctx context.Context, trunks []db.SIPTrunk) (*plan, error) {
	files, gws, results, err := s.desired(ctx, trunks)
	if err != nil {
		return nil, err
	}
	p := &plan{files: files, gws: gws, results: results, prev: map[string][]byte{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, d := range gws {
		switch {
		case !s.present[name]:
			p.toAdd = append(p.toAdd, name)
		case s.loaded[name] != d.hash:
			p.toKill = append(p.toKill, name)
			p.toAdd = append(p.toAdd, name)
		}
	}
	for name := range s.present {
		if _, want := gws[name]; !want && xmlgen.IsOurGateway(name) {
			p.toKill = append(p.toKill, name)
		}
	}
	p.aclReload = !s.aclLoaded
	sort.Strings(p.toKill)
	sort.Strings(p.toAdd)
	s.planFilesLocked(p)
	return p, nil
}

// planFilesLocked records the files that change (for restoring when
// FreeSWITCH rejects the new ones) and what their change needs.
func (s *Sync) planFilesLocked(p *plan) {
	for rel, b := range p.files {
		if old, ok := s.disk[rel]; ok && bytes.Equal(old, b) {
			continue
		}
		p.prev[rel] = s.disk[rel] // nil = did not exist
		if strings.HasPrefix(rel, dirACL+"/") || rel == profileParams {
			p.aclReload = true
		}
		if rel == profileParams {
			p.toAdd = append(p.toAdd, "") // the profile's list of ACLs changed: rescan re-reads it
		}
	}
	for rel := range s.disk {
		if _, want := p.files[rel]; !want {
			p.prev[rel] = s.disk[rel]
			if strings.HasPrefix(rel, dirACL+"/") {
				p.aclReload = true
			}
		}
	}
}

// apply sends the plan's commands, the files being written: killgw for
// changed and removed gateways (waiting for their deletion), reloadacl,
// rescan. When FreeSWITCH rejects the files, the previous ones come back.
func (s *Sync) apply(ctx context.Context, p *plan, res *PassResult) error {
	if err := s.kill(ctx, p.toKill, res); err != nil {
		s.log.Warn("killgw incomplete", "err", err)
	}
	reloadOK := func(r string) bool { return strings.HasPrefix(r, "+OK") }
	if p.aclReload {
		if err := s.command(ctx, "reloadacl", res, reloadOK); err != nil {
			return err
		}
		s.mu.Lock()
		s.aclLoaded = true
		s.mu.Unlock()
	}
	if len(p.toAdd) == 0 {
		return nil
	}
	err := s.rescan(ctx, res)
	if err != nil && ctx.Err() == nil {
		// Rejected XML or -ERR: keep the last good files.
		s.log.Error("rescan failed; restoring the previous files", "err", err)
		s.restore(p.prev, res)
		// Bring back what the kills removed, with the previous files.
		if err := s.rescan(ctx, res); err != nil {
			s.log.Error("rescan with the previous files failed", "err", err)
		}
		if p.aclReload {
			_ = s.command(ctx, "reloadacl", res, reloadOK)
		}
	}
	return err
}

// writeFailed handles a generated file that could not be written (the
// folder read-only, full, a path taken): the files this pass wrote go back
// to their last good bytes, FreeSWITCH is not touched, and the trunks the
// pass was for show sync_status error with the cause (without the
// server's path). The loop retries the pass.
func (s *Sync) writeFailed(ctx context.Context, trunks []db.SIPTrunk, p *plan, err error, res *PassResult) error {
	s.restore(p.prev, res)
	cause := err
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		cause = pe.Err
	case errors.As(err, &le):
		cause = le.Err
	}
	passErr := fmt.Errorf("generated files not written (FS_GEN_DIR): %w", cause)
	touched := map[string]bool{}
	for _, n := range append(slices.Clone(p.toAdd), p.toKill...) {
		touched[n] = true
	}
	results := p.results
	for name, d := range p.gws {
		if touched[name] {
			results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "error", Message: passErr.Error()})
		}
	}
	if serr := s.store.SetSyncResults(ctx, changedResults(trunks, results)); serr != nil {
		s.log.Error("trunk sync status not saved", "err", serr)
	}
	return fmt.Errorf("%w (%w)", passErr, err)
}

// settle records what FreeSWITCH now holds after a pass and returns the
// trunks' sync results: applied or pending, or the pass's error for the
// gateways it touched.
func (s *Sync) settle(ctx context.Context, fp string, p *plan, passErr error, res *PassResult) []db.SyncResult {
	results := p.results
	if passErr != nil {
		changed := map[string]bool{}
		for _, n := range p.toAdd {
			changed[n] = true
		}
		for _, n := range p.toKill {
			changed[n] = true
		}
		for name, d := range p.gws {
			if changed[name] || len(p.toAdd) > 0 && changed[""] {
				results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "error", Message: passErr.Error()})
			}
		}
		return results
	}
	s.mu.Lock()
	for _, name := range p.toAdd {
		if d, ok := p.gws[name]; ok && !s.present[name] {
			s.present[name] = true
			s.loaded[name] = d.hash
		}
	}
	s.mu.Unlock()
	results = s.appliedResults(p.gws, results)
	s.readIPAuthStates(ctx, p.gws, p.toAdd, res)
	s.markClean(fp, results)
	return results
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

func (s *Sync) appliedResults(gws map[string]*desiredGateway, results []db.SyncResult) []db.SyncResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, d := range gws {
		if s.present[name] && s.loaded[name] == d.hash {
			results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "applied", Message: d.warning})
		} else {
			results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "pending", Message: "waiting for FreeSWITCH to release the previous gateway"})
		}
	}
	return results
}

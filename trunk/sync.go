package trunk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
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
	Log           *slog.Logger
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
	trunks, err := s.store.AllTrunks(ctx)
	if err != nil {
		return res, err
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
		return res, err
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

// desired renders the enabled trunks into the generated files.
func (s *Sync) desired(ctx context.Context, trunks []db.SIPTrunk) (map[string][]byte, map[string]*desiredGateway, []db.SyncResult, error) {
	files := map[string][]byte{}
	gws := map[string]*desiredGateway{}
	var results []db.SyncResult
	var aclNames []string
	for i := range trunks {
		t := &trunks[i]
		if !t.Enabled {
			results = append(results, db.SyncResult{TrunkID: t.ID, State: "applied", Message: "disabled: not loaded in FreeSWITCH"})
			continue
		}
		d, gwFile, aclFile, err := s.render(ctx, t)
		if err != nil {
			results = append(results, db.SyncResult{TrunkID: t.ID, State: "error", Message: err.Error()})
			s.log.Warn("trunk not rendered", "trunk_id", t.ID, "org_id", t.OrgID, "gateway", t.GatewayName, "err", err)
			continue
		}
		gws[t.GatewayName] = d
		files[filepath.Join(dirGateways, t.GatewayName+".xml")] = gwFile
		files[filepath.Join(dirACL, t.GatewayName+".xml")] = aclFile
		aclNames = append(aclNames, t.GatewayName)
	}
	params, err := xmlgen.RenderInboundACLParams(aclNames)
	if err != nil {
		return nil, nil, nil, err
	}
	files[profileParams] = params
	return files, gws, results, nil
}

// Render returns the files the given trunks would produce (relative path →
// bytes) and, per trunk id, any warning or render error.
func (s *Sync) Render(ctx context.Context, trunks []db.SIPTrunk) (map[string][]byte, map[string]string, error) {
	files, _, results, err := s.desired(ctx, trunks)
	if err != nil {
		return nil, nil, err
	}
	notes := map[string]string{}
	for _, r := range results {
		notes[r.TrunkID] = r.Message
	}
	for _, t := range trunks {
		if t.Enabled {
			if _, w := s.aclFor(ctx, &t); w != "" {
				notes[t.ID] = w
			}
		}
	}
	return files, notes, nil
}

// render turns one trunk into its gateway and ACL files.
func (s *Sync) render(ctx context.Context, t *db.SIPTrunk) (*desiredGateway, []byte, []byte, error) {
	pw, err := s.store.TrunkPassword(t)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("password cannot be decrypted: %w", err)
	}
	acl, warning := s.aclFor(ctx, t)
	xt := xmlgen.Trunk{
		ID: t.ID, OrgID: t.OrgID, GatewayName: t.GatewayName, Register: t.Register,
		Username: t.Username, Password: pw, Realm: t.Realm, Proxy: t.Proxy, Gateway: t.Gateway,
		Transport: t.Transport, FromUser: t.FromUser, FromDomain: t.FromDomain, CallerIDInFrom: t.CallerIDInFrom,
		ExpireSeconds: t.ExpireSeconds, RetrySeconds: t.RetrySeconds, PingSeconds: t.PingSeconds,
		Codecs: t.Codecs, ACL: acl,
	}
	gw, err := xmlgen.RenderGateway(xt)
	if err != nil {
		return nil, nil, nil, err
	}
	al, err := xmlgen.RenderACLList(t.GatewayName, acl)
	if err != nil {
		return nil, nil, nil, err
	}
	sum := sha256.Sum256(gw)
	return &desiredGateway{trunk: t, file: gw, hash: string(sum[:]), warning: warning}, gw, al, nil
}

// aclFor returns the CIDRs allowed to send this trunk's INVITEs: its
// allowed_addresses, else (registration trunks) the addresses its gateway and
// proxy hosts resolve to, less what the address policy refuses (loopback,
// link-local, metadata, …; each with a warning). A host that does not
// resolve leaves the list empty (which denies) and a warning.
func (s *Sync) aclFor(ctx context.Context, t *db.SIPTrunk) ([]string, string) {
	if len(t.AllowedAddresses) > 0 {
		return t.AllowedAddresses, ""
	}
	var out []string
	var warnings []string
	seen := map[string]bool{}
	policy := addressPolicy(s.opts.AddressPolicy)
	for _, hp := range []string{t.Gateway, t.Proxy} {
		host := HostOf(hp)
		if host == "" || seen[host] {
			continue
		}
		seen[host] = true
		if c, _ := netpolicy.ClassifyHost(host); !policy.Allowed(c) {
			warnings = append(warnings, fmt.Sprintf("warning: %s is %s, which the address policy leaves out of its ACL list; set allowed_addresses", host, c.Describe()))
			continue
		}
		addrs, err := s.resolve(ctx, host)
		if err != nil || len(addrs) == 0 {
			warnings = append(warnings, fmt.Sprintf("warning: %s does not resolve, so its ACL list is empty and inbound calls from it are refused; set allowed_addresses", host))
			continue
		}
		for _, a := range addrs {
			if c := netpolicy.ClassifyIP(a); !policy.Allowed(c) {
				warnings = append(warnings, fmt.Sprintf("warning: %s resolves to %s, %s, which the address policy leaves out of its ACL list; set allowed_addresses",
					host, a.Unmap(), c.Describe()))
				continue
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String())
		}
	}
	return out, strings.Join(warnings, "; ")
}

// ResolvedACL returns what a trunk without allowed_addresses allows, as
// its ACL list was last rendered: the addresses its gateway and proxy hosts
// resolved to (from the cache of the last pass; never a DNS lookup, so it
// may run on the call path). A trunk with allowed_addresses gets nil.
func (s *Sync) ResolvedACL(t *db.SIPTrunk) []netip.Prefix {
	if len(t.AllowedAddresses) > 0 {
		return nil
	}
	var out []netip.Prefix
	for _, hp := range []string{t.Gateway, t.Proxy} {
		host := HostOf(hp)
		if host == "" {
			continue
		}
		addrs := []netip.Addr{}
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, a)
		} else {
			s.mu.Lock()
			addrs = append(addrs, s.dns[host].addrs...)
			s.mu.Unlock()
		}
		for _, a := range addrs {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

// HostOf is the host of host[:port] (an IPv6 address without brackets).
func HostOf(hostport string) string {
	if hostport == "" {
		return ""
	}
	if strings.HasPrefix(hostport, "[") {
		if i := strings.IndexByte(hostport, ']'); i > 0 {
			return hostport[1:i]
		}
	}
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func (s *Sync) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	s.mu.Lock()
	e, ok := s.dns[host]
	s.mu.Unlock()
	if ok {
		return e.addrs, e.err
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := s.opts.Resolver(rctx, host)
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	s.mu.Lock()
	s.dns[host] = dnsEntry{addrs: addrs, err: err}
	s.mu.Unlock()
	return addrs, err
}

// addressPolicy is the policy an option holds, netpolicy.Default() when it
// holds none.
func addressPolicy(p *netpolicy.Policy) netpolicy.Policy {
	if p == nil {
		return netpolicy.Default()
	}
	return *p
}

// readIPAuthStates records the live state of newly added IP-auth gateways:
// FreeSWITCH fires no state event for register=false gateways (NOREG is only
// in xmlstatus, gateway-lifecycle recording). Registration gateways get their
// state from sofia::gateway_state events, which a read here could overwrite
// with an older value, so they are left alone.
func (s *Sync) readIPAuthStates(ctx context.Context, gws map[string]*desiredGateway, added []string, res *PassResult) {
	want := map[string]bool{}
	for _, name := range added {
		if d, ok := gws[name]; ok && !d.trunk.Register {
			want[name] = true
		}
	}
	if len(want) == 0 {
		return
	}
	res.Commands = append(res.Commands, "sofia xmlstatus gateway")
	reply, err := s.sw.API(ctx, "sofia xmlstatus gateway")
	if err != nil {
		s.log.Warn("xmlstatus after rescan failed", "err", err)
		return
	}
	list, err := ParseXMLStatus(reply)
	if err != nil {
		s.log.Warn("xmlstatus after rescan unreadable", "err", err)
		return
	}
	for _, g := range list {
		if want[g.Name] {
			if err := s.store.SetGatewayLive(ctx, db.GatewayLive{GatewayName: g.Name, State: g.State, PingStatus: g.Status}); err != nil {
				s.log.Warn("gateway state not saved", "gateway", g.Name, "err", err)
			}
		}
	}
}

// readActual asks FreeSWITCH which gateways it has, once per connection.
func (s *Sync) readActual(ctx context.Context, res *PassResult) error {
	s.mu.Lock()
	known := s.known
	s.mu.Unlock()
	if known {
		return nil
	}
	reply, err := s.sw.API(ctx, "sofia xmlstatus gateway")
	res.Commands = append(res.Commands, "sofia xmlstatus gateway")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSwitch, err)
	}
	list, err := ParseXMLStatus(reply)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.present = map[string]bool{}
	for _, g := range list {
		if g.Profile != "" && g.Profile != s.opts.Profile {
			continue
		}
		s.present[g.Name] = true
		if _, ok := s.loaded[g.Name]; !ok {
			// Assume FreeSWITCH loaded the file we have on disk.
			if b, ok := s.disk[filepath.Join(dirGateways, g.Name+".xml")]; ok {
				sum := sha256.Sum256(b)
				s.loaded[g.Name] = string(sum[:])
			}
		}
	}
	for name := range s.loaded {
		if !s.present[name] {
			delete(s.loaded, name)
		}
	}
	s.known = true
	s.mu.Unlock()
	for _, g := range list {
		if xmlgen.IsOurGateway(g.Name) && (g.Profile == "" || g.Profile == s.opts.Profile) {
			state := g.State
			if err := s.store.SetGatewayLive(ctx, db.GatewayLive{GatewayName: g.Name, State: state, PingStatus: g.Status}); err != nil && !errors.Is(err, db.ErrNotFound) {
				s.log.Warn("gateway state not saved", "gateway", g.Name, "err", err)
			}
		}
	}
	return nil
}

func (s *Sync) command(ctx context.Context, cmd string, res *PassResult, ok func(string) bool) error {
	res.Commands = append(res.Commands, cmd)
	reply, err := s.sw.API(ctx, cmd)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSwitch, cmd, err)
	}
	if !ok(reply) {
		return fmt.Errorf("%w: %s: %s", ErrSwitch, cmd, strings.TrimSpace(reply))
	}
	return nil
}

// rescan asks the profile to re-read its XML. FreeSWITCH answers +OK even when
// the XML does not load; the reply text tells (xml-errors recording).
func (s *Sync) rescan(ctx context.Context, res *PassResult) error {
	cmd := "sofia profile " + s.opts.Profile + " rescan"
	res.Commands = append(res.Commands, cmd)
	reply, err := s.sw.API(ctx, cmd)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSwitch, cmd, err)
	}
	if strings.Contains(reply, "[[error") || strings.Contains(reply, "[error") {
		line := strings.TrimSpace(strings.SplitN(reply, "\n", 2)[0])
		return fmt.Errorf("%w: %s", ErrRejected, line)
	}
	if !strings.Contains(reply, "+OK") {
		return fmt.Errorf("%w: %s: %s", ErrSwitch, cmd, strings.TrimSpace(reply))
	}
	return nil
}

// kill sends killgw for each gateway and waits for its sofia::gateway_delete.
func (s *Sync) kill(ctx context.Context, names []string, res *PassResult) error {
	if len(names) == 0 {
		return nil
	}
	type wait struct {
		name string
		ch   chan struct{}
	}
	var waits []wait
	for _, name := range names {
		ch := make(chan struct{})
		s.mu.Lock()
		s.waiters[name] = append(s.waiters[name], ch)
		s.mu.Unlock()
		cmd := "sofia profile " + s.opts.Profile + " killgw " + name
		res.Commands = append(res.Commands, cmd)
		reply, err := s.sw.API(ctx, cmd)
		if err != nil && strings.Contains(err.Error(), "no such gateway") || strings.Contains(reply, "no such gateway") {
			s.gatewayGone(name)
			continue
		}
		if err != nil {
			s.dropWaiter(name, ch)
			return fmt.Errorf("%w: %s: %v", ErrSwitch, cmd, err)
		}
		waits = append(waits, wait{name, ch})
	}
	timer := time.NewTimer(s.opts.DeleteTimeout)
	defer timer.Stop()
	var late []string
	for _, w := range waits {
		select {
		case <-w.ch:
		case <-timer.C:
			late = append(late, w.name)
			timer.Reset(0)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, w := range waits {
		s.dropWaiter(w.name, w.ch)
	}
	if len(late) > 0 {
		return fmt.Errorf("%w: no sofia::gateway_delete for %s within %s", ErrSwitch, strings.Join(late, ", "), s.opts.DeleteTimeout)
	}
	return nil
}

func (s *Sync) dropWaiter(name string, ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[name]
	for i, w := range ws {
		if w == ch {
			s.waiters[name] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(s.waiters[name]) == 0 {
		delete(s.waiters, name)
	}
}

func (s *Sync) gatewayGone(name string) {
	s.mu.Lock()
	delete(s.present, name)
	delete(s.loaded, name)
	s.dirtyLocked()
	for _, ch := range s.waiters[name] {
		close(ch)
	}
	delete(s.waiters, name)
	s.mu.Unlock()
}

// GatewayEvent is a sofia::gateway_add / gateway_state / gateway_delete event.
type GatewayEvent struct {
	Subclass   string // sofia::gateway_add, sofia::gateway_state, sofia::gateway_delete
	Gateway    string
	Profile    string // profile-name (add/delete)
	State      string // gateway_state: TRYING, REGISTER, REGED, FAILED, FAIL_WAIT, UNREGED, DOWN, …
	PingStatus string // Ping-Status
	Status     int    // SIP status of the last reply, 0 when absent
}

// HandleGatewayEvent updates the actual state from FreeSWITCH's events and
// records the trunk's live state.
func (s *Sync) HandleGatewayEvent(ctx context.Context, ev GatewayEvent) {
	if ev.Gateway == "" || (ev.Profile != "" && ev.Profile != s.opts.Profile) {
		return
	}
	live := db.GatewayLive{GatewayName: ev.Gateway}
	switch ev.Subclass {
	case "sofia::gateway_delete":
		s.gatewayGone(ev.Gateway)
		live.State = "DOWN"
	case "sofia::gateway_add":
		s.mu.Lock()
		if !s.present[ev.Gateway] {
			s.dirtyLocked()
		}
		s.present[ev.Gateway] = true
		if _, ok := s.loaded[ev.Gateway]; !ok {
			// FreeSWITCH loaded what is on disk (a rescan by us or an operator).
			if b, ok := s.disk[filepath.Join(dirGateways, ev.Gateway+".xml")]; ok {
				sum := sha256.Sum256(b)
				s.loaded[ev.Gateway] = string(sum[:])
			}
		}
		s.mu.Unlock()
		return // the add carries no state: events or xmlstatus tell it
	case "sofia::gateway_state":
		live.State, live.PingStatus, live.LastStatusCode = ev.State, ev.PingStatus, ev.Status
	default:
		return
	}
	if !xmlgen.IsOurGateway(ev.Gateway) {
		return
	}
	if err := s.store.SetGatewayLive(ctx, live); err != nil && !errors.Is(err, db.ErrNotFound) {
		s.log.Warn("gateway state not saved", "gateway", ev.Gateway, "err", err)
	}
}

func (s *Sync) loadDisk() error {
	if s.diskRead {
		return nil
	}
	for _, d := range []string{dirGateways, dirACL, dirProfile} {
		if err := os.MkdirAll(filepath.Join(s.opts.GenDir, d), 0o755); err != nil {
			return err
		}
		entries, err := os.ReadDir(filepath.Join(s.opts.GenDir, d))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".xml") {
				continue
			}
			rel := filepath.Join(d, e.Name())
			b, err := os.ReadFile(filepath.Join(s.opts.GenDir, rel))
			if err != nil {
				return err
			}
			s.mu.Lock()
			s.disk[rel] = b
			s.mu.Unlock()
		}
	}
	s.diskRead = true
	return nil
}

// writeFiles writes every file that changed (temp file + rename) and removes
// the files no longer wanted.
func (s *Sync) writeFiles(files map[string][]byte, changed map[string][]byte, res *PassResult) error {
	rels := make([]string, 0, len(changed))
	for rel := range changed {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		b, want := files[rel]
		path := filepath.Join(s.opts.GenDir, rel)
		if !want {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			s.mu.Lock()
			delete(s.disk, rel)
			s.mu.Unlock()
		} else {
			if err := writeAtomic(path, b); err != nil {
				return err
			}
			s.mu.Lock()
			s.disk[rel] = b
			s.mu.Unlock()
		}
		res.Written = append(res.Written, rel)
	}
	return nil
}

// restore puts back the files a rejected pass replaced.
func (s *Sync) restore(prev map[string][]byte, res *PassResult) {
	for rel, b := range prev {
		path := filepath.Join(s.opts.GenDir, rel)
		s.mu.Lock()
		if b == nil {
			os.Remove(path)
			delete(s.disk, rel)
		} else if err := writeAtomic(path, b); err == nil {
			s.disk[rel] = b
		}
		s.mu.Unlock()
		res.Written = append(res.Written, rel)
	}
	// What FreeSWITCH holds is unknown after a rejection: read it again next pass.
	s.mu.Lock()
	s.known = false
	s.dirtyLocked()
	s.mu.Unlock()
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

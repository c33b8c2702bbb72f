package trunk

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// The desired state: trunk records rendered into gateway and ACL files.

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
			s.log.Warn("trunk not rendered", "trunk", t.GatewayName, "org_id", t.OrgID, "err", err)
			continue
		}
		gws[t.GatewayName] = d
		files[filepath.Join(dirGateways, t.GatewayName+".xml")] = gwFile
		files[filepath.Join(dirACL, t.GatewayName+".xml")] = aclFile
		aclNames = append(aclNames, t.GatewayName)
	}
	if len(s.opts.Proxies) > 0 {
		al, err := xmlgen.RenderACLList(xmlgen.ProxyACLList, s.opts.Proxies)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("SIP_PROXIES: %w", err)
		}
		files[filepath.Join(dirACL, xmlgen.ProxyACLList+".xml")] = al
		aclNames = append(aclNames, xmlgen.ProxyACLList)
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
		Codecs: t.Codecs, SRTP: t.SRTP, ACL: acl,
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

package sofia

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/ezxml"
)

// maxInboundACL is SOFIA_MAX_ACL: mod_sofia keeps at most this many
// apply-inbound-acl lists per profile and logs an error for the rest.
const maxInboundACL = 100

var validGatewayName = regexp.MustCompile(`^[\w.\-]+$`)

// config is one successful load of the generated files.
type config struct {
	gateways []gatewayDef // file order; invalid and duplicate names dropped
	acls     map[string]aclList
	inbound  []string // apply-inbound-acl lists of the profile
	settings [][2]string
}

type gatewayDef struct {
	name         string
	params, vars map[string]string
}

type aclList struct {
	allowByDefault bool
	nodes          []aclNode
}

type aclNode struct {
	allow  bool
	cidr   string // as written
	prefix netip.Prefix
}

// The sections the generated directories are included in, as in
// freeswitch/conf: acl/ inside <network-lists>, gateways/ inside the
// profile's <gateways>, profile/ inside its <settings>.
func (p *Profile) document() []byte {
	var b bytes.Buffer
	b.WriteString("<document type=\"freeswitch/xml\">\n<section name=\"configuration\" description=\"Various Configuration\">\n" +
		"<configuration name=\"acl.conf\" description=\"Network Lists\">\n<network-lists>\n")
	p.includeDir(&b, "acl")
	b.WriteString("</network-lists>\n</configuration>\n<configuration name=\"sofia.conf\" description=\"sofia Endpoint\">\n" +
		"<profiles>\n<profile name=\"" + p.c.Profile + "\">\n<gateways>\n")
	p.includeDir(&b, "gateways")
	b.WriteString("</gateways>\n<settings>\n")
	p.includeDir(&b, "profile")
	b.WriteString("</settings>\n</profile>\n</profiles>\n</configuration>\n</section>\n</document>\n")
	return b.Bytes()
}

// includeDir appends the preprocessed *.xml files of GenDir/dir in name
// order, as an X-PRE-PROCESS include glob does (no file: nothing, no error).
func (p *Profile) includeDir(b *bytes.Buffer, dir string) {
	if p.c.GenDir == "" {
		return
	}
	paths, _ := filepath.Glob(filepath.Join(p.c.GenDir, dir, "*.xml"))
	slices.Sort(paths)
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			p.c.Logger.Warn("fstest: unreadable file skipped", "path", path, "err", err)
			continue
		}
		b.Write(preprocess(raw, p.c.Globals))
	}
}

var (
	preprocessVar = regexp.MustCompile(`\$\$\{([^}]*)\}`)
	includeTag    = regexp.MustCompile(`</?include\s*>`)
	preprocessCmd = regexp.MustCompile(`<X-PRE-PROCESS\s+cmd="([^"]*)"\s+data="([^"]*)"\s*/>`)
)

// preprocess does what FreeSWITCH's preprocessor does to an included file,
// line by line: X-PRE-PROCESS set defines a global (other commands are
// dropped here), $${var} is replaced by the global (unset: empty), and the
// <include> wrapper goes away. &#36;{…} is left for the parser, which reads
// it as a literal ${…} (dollar-expansion recording).
func preprocess(raw []byte, globals map[string]string) []byte {
	vars, own := globals, false
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if m := preprocessCmd.FindSubmatch(line); m != nil {
			if string(m[1]) == "set" {
				if k, v, ok := strings.Cut(string(m[2]), "="); ok {
					if !own {
						vars, own = copyMap(globals), true
					}
					vars[k] = v
				}
			}
			line = preprocessCmd.ReplaceAll(line, nil)
		}
		line = preprocessVar.ReplaceAllFunc(line, func(m []byte) []byte {
			return []byte(vars[string(m[3:len(m)-1])])
		})
		line = includeTag.ReplaceAll(line, nil)
		out.Write(line)
		if !bytes.HasSuffix(line, []byte("\n")) {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// loadConfig reads GenDir as FreeSWITCH's XML reload would. On a parse
// error it returns an *ezxml.Error and nothing may change.
func (p *Profile) loadConfig() (*config, error) {
	root, err := ezxml.Parse(p.document())
	if err != nil {
		return nil, err
	}
	return p.readConfig(root), nil
}

func (p *Profile) readConfig(root *ezxml.Node) *config {
	cfg := &config{acls: map[string]aclList{}}
	for _, sec := range root.All("section") {
		for _, conf := range sec.All("configuration") {
			switch conf.Attr("name") {
			case "acl.conf":
				if nl := conf.Child("network-lists"); nl != nil {
					for _, l := range nl.All("list") {
						cfg.acls[l.Attr("name")] = readACL(l)
					}
				}
			case "sofia.conf":
				if ps := conf.Child("profiles"); ps != nil {
					for _, pn := range ps.All("profile") {
						if pn.Attr("name") == p.c.Profile {
							p.readProfile(cfg, pn)
						}
					}
				}
			}
		}
	}
	return cfg
}

func (p *Profile) readProfile(cfg *config, pn *ezxml.Node) {
	seen := map[string]bool{}
	for _, gws := range pn.All("gateways") {
		for _, g := range gws.All("gateway") {
			name := g.Attr("name")
			if !validGatewayName.MatchString(name) {
				p.c.Logger.Debug("fstest: Ignoring invalid name", "gateway", name) // sofia.c: [ERR] only in the log
				continue
			}
			if seen[name] {
				continue // "Ignoring duplicate gateway"
			}
			def := gatewayDef{name: name, params: map[string]string{}, vars: map[string]string{}}
			for _, prm := range g.All("param") {
				def.params[prm.Attr("name")] = prm.Attr("value")
			}
			for _, vs := range g.All("variables") {
				for _, v := range vs.All("variable") {
					def.vars[v.Attr("name")] = v.Attr("value")
				}
			}
			if IsTrue(def.params["register"]) && (def.params["username"] == "" || def.params["password"] == "") {
				// sofia.c: "ERROR: username/password param is REQUIRED!" and the gateway is skipped
				p.c.Logger.Debug("fstest: registration gateway without username or password skipped", "gateway", name)
				continue
			}
			seen[name] = true
			cfg.gateways = append(cfg.gateways, def)
		}
	}
	for _, st := range pn.All("settings") {
		for _, prm := range st.All("param") {
			name, value := prm.Attr("name"), prm.Attr("value")
			cfg.settings = append(cfg.settings, [2]string{name, value})
			if !strings.EqualFold(name, "apply-inbound-acl") {
				continue
			}
			for _, l := range strings.Split(value, ",") {
				if l = strings.TrimSpace(l); l == "" {
					continue
				}
				if len(cfg.inbound) >= maxInboundACL {
					p.c.Logger.Error("fstest: Max acl records reached", "max", maxInboundACL, "list", l)
					continue
				}
				cfg.inbound = append(cfg.inbound, l)
			}
		}
	}
}

func readACL(l *ezxml.Node) aclList {
	out := aclList{allowByDefault: strings.EqualFold(l.Attr("default"), "allow")}
	for _, n := range l.All("node") {
		allow := strings.EqualFold(n.Attr("type"), "allow")
		cidrs := n.Attr("cidr")
		if cidrs == "" && n.Attr("host") != "" {
			cidrs = n.Attr("host") + "/" + maskBits(n.Attr("mask"))
		}
		for _, c := range strings.Split(cidrs, ",") {
			c = strings.TrimSpace(c)
			if c == "" {
				continue
			}
			p, ok := parseCIDR(c)
			if !ok {
				continue // switch_network_list_add_cidr fails: node ignored
			}
			out.nodes = append(out.nodes, aclNode{allow: allow, cidr: c, prefix: p})
		}
	}
	return out
}

func parseCIDR(c string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(c); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(c); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func maskBits(mask string) string {
	a, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() {
		return "32"
	}
	b := a.As4()
	return strconv.Itoa(bits.OnesCount32(binary.BigEndian.Uint32(b[:])))
}

// allows reports whether ip passes the list: the most specific matching
// node decides (a later node wins a tie), else the list's default.
func (l aclList) allows(ip netip.Addr) bool {
	ok, bits := l.allowByDefault, -1
	for _, n := range l.nodes {
		if n.prefix.Contains(ip) && n.prefix.Bits() >= bits {
			ok, bits = n.allow, n.prefix.Bits()
		}
	}
	return ok
}

// builtinACL are lists FreeSWITCH always has.
func builtinACL(name string) (aclList, bool) {
	mk := func(cidrs ...string) aclList {
		l := aclList{}
		for _, c := range cidrs {
			p, _ := parseCIDR(c)
			l.nodes = append(l.nodes, aclNode{allow: true, cidr: c, prefix: p})
		}
		return l
	}
	switch name {
	case "loopback.auto":
		return mk("127.0.0.0/8", "::1/128"), true
	case "rfc1918.auto":
		return mk("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), true
	}
	return aclList{}, false
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// IsTrue reads a boolean param or variable: true, yes, on, 1, enabled,
// active or allow (any case, blanks around ignored).
func IsTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1", "enabled", "active", "allow":
		return true
	}
	return false
}

package fstest

import (
	"encoding/xml"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

var validGatewayName = regexp.MustCompile(`^[\w.\-]+$`)

// api runs one api command and returns its reply body, as recorded.
func (s *Switch) api(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	s.mu.Lock()
	s.commands = append(s.commands, cmd)
	for i, f := range s.failNext {
		if strings.HasPrefix(cmd, f.prefix) {
			s.failNext = append(s.failNext[:i], s.failNext[i+1:]...)
			s.mu.Unlock()
			return f.reply
		}
	}
	s.mu.Unlock()
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return "-ERR no command\n"
	}
	p := s.o.Profile
	switch {
	case f[0] == "status":
		return "UP 0 years, 0 days, 0 hours, 0 minutes, 1 second, 0 milliseconds, 0 microseconds\nFreeSWITCH (Version 1.11.1-release  64bit) is ready\n"
	case f[0] == "module_exists" && len(f) == 2:
		return fmt.Sprint(f[1] == "mod_sofia" || f[1] == "mod_event_socket" || f[1] == "mod_audio_stream" || f[1] == "mod_commands")
	case f[0] == "reloadxml":
		if err := s.checkXML(); err != nil {
			return "+OK [" + err.Error() + "]\n"
		}
		return "+OK [Success]\n"
	case f[0] == "uuid_answer" && len(f) == 2:
		return s.uuidAnswer(f[1])
	case f[0] == "uuid_kill":
		return s.uuidKill(f[1:])
	case f[0] == "reloadacl":
		s.loadACLs()
		return "+OK acl reloaded\n"
	case f[0] == "acl" && len(f) == 3:
		return fmt.Sprint(s.aclMatch(f[1], f[2]))
	case len(f) == 4 && f[0] == "sofia" && f[1] == "profile" && f[2] == p && f[3] == "rescan":
		return s.rescan()
	case len(f) == 4 && f[0] == "sofia" && f[1] == "profile" && f[2] == p && f[3] == "restart":
		return "Reload XML [Success]\nrestarting: " + p
	case len(f) == 5 && f[0] == "sofia" && f[1] == "profile" && f[2] == p && f[3] == "killgw":
		return s.killgw(f[4])
	case len(f) == 5 && f[0] == "sofia" && f[1] == "profile" && f[2] == p && f[3] == "startgw":
		s.rescan()
		return "Reload XML [Success]\n+OK start gateway " + f[4] + " complete\n"
	case len(f) == 2 && f[0] == "sofia" && f[1] == "status":
		return s.sofiaStatus()
	case len(f) == 4 && f[0] == "sofia" && f[1] == "status" && f[2] == "gateway":
		return s.statusGateway(f[3])
	case len(f) >= 3 && f[0] == "sofia" && f[1] == "xmlstatus" && f[2] == "gateway":
		if len(f) == 4 {
			return s.xmlstatus(f[3])
		}
		return s.xmlstatus("")
	}
	return "-ERR " + f[0] + " Command not found!\n"
}

type xmlGatewayFile struct {
	Gateways []struct {
		Name   string `xml:"name,attr"`
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"param"`
		Vars []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"variables>variable"`
	} `xml:"gateway"`
}

type xmlACLFile struct {
	Lists []struct {
		Name  string `xml:"name,attr"`
		Nodes []struct {
			Type string `xml:"type,attr"`
			CIDR string `xml:"cidr,attr"`
		} `xml:"node"`
	} `xml:"list"`
}

type xmlParamsFile struct {
	Params []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"param"`
}

var preprocessVar = regexp.MustCompile(`\$\$\{([^}]*)\}`)

// preprocess expands $${var} on the raw text before XML parsing, as
// FreeSWITCH's preprocessor does (dollar-expansion recording; domain is the
// only global set here, 127.0.0.1 as on the recording switch). &#36;{…}
// survives and reads as a literal ${…}.
func preprocess(b []byte) []byte {
	return preprocessVar.ReplaceAllFunc(b, func(m []byte) []byte {
		if string(m) == "$${domain}" {
			return []byte("127.0.0.1")
		}
		return nil
	})
}

func (s *Switch) files(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(s.o.GenDir, dir, "*.xml"))
	sort.Strings(paths)
	return paths
}

// checkXML parses every generated file like FreeSWITCH's XML reload does.
func (s *Switch) checkXML() error {
	for _, dir := range []string{"gateways", "acl", "profile"} {
		for _, p := range s.files(dir) {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			var v struct{}
			if err := xml.Unmarshal(b, &v); err != nil {
				return fmt.Errorf("[error near line 1]: %v", err)
			}
		}
	}
	return nil
}

// rescan: reload XML; add NEW gateways only; re-read apply-inbound-acl.
func (s *Switch) rescan() string {
	if err := s.checkXML(); err != nil {
		return "Reload XML [" + err.Error() + "]\n+OK scan complete\n"
	}
	var inbound []string
	for _, p := range s.files("profile") {
		b, _ := os.ReadFile(p)
		var f xmlParamsFile
		xml.Unmarshal(b, &f)
		for _, prm := range f.Params {
			if prm.Name == "apply-inbound-acl" {
				inbound = append(inbound, prm.Value)
			}
		}
	}
	var added []string
	s.mu.Lock()
	s.inbound = inbound
	for _, p := range s.files("gateways") {
		b, _ := os.ReadFile(p)
		var f xmlGatewayFile
		xml.Unmarshal(preprocess(b), &f)
		for _, g := range f.Gateways {
			if !validGatewayName.MatchString(g.Name) {
				continue // FreeSWITCH: "Ignoring invalid name" in the log only
			}
			if _, exists := s.gateways[g.Name]; exists {
				continue // "Ignoring duplicate gateway": params NOT updated
			}
			gw := &gateway{name: g.Name, state: "NOREG", added: time.Now(), params: map[string]string{}, vars: map[string]string{}}
			for _, prm := range g.Params {
				gw.params[prm.Name] = prm.Value
			}
			for _, v := range g.Vars {
				gw.vars[v.Name] = v.Value
			}
			s.gateways[g.Name] = gw
			added = append(added, g.Name)
		}
	}
	gen := s.gen
	s.mu.Unlock()
	for _, name := range added {
		s.emit(map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_add", "Gateway": name, "profile-name": s.o.Profile}, "")
		s.mu.Lock()
		reg := s.gateways[name].params["register"] == "true"
		outcome := s.registrar[name]
		s.mu.Unlock()
		if reg {
			s.register(gen, name, outcome)
		}
	}
	return "Reload XML [Success]\n+OK scan complete\n"
}

// register runs a registration gateway's state machine as recorded:
// TRYING → REGISTER (200) → REGED, or TRYING → FAILED (403) → FAIL_WAIT.
func (s *Switch) register(gen int, name string, outcome Registrar) {
	step := s.o.Step
	steps := []map[string]string{{"State": "TRYING", "Ping-Status": "DOWN"}}
	if outcome == RegistrarForbidden {
		steps = append(steps, map[string]string{"State": "FAILED", "Ping-Status": "DOWN", "Status": "403", "Phrase": "Forbidden"},
			map[string]string{"State": "FAIL_WAIT", "Ping-Status": "DOWN"})
	} else {
		steps = append(steps, map[string]string{"State": "REGISTER", "Ping-Status": "DOWN", "Status": "200", "Phrase": "OK"},
			map[string]string{"State": "REGED", "Ping-Status": "UP"})
	}
	for i, st := range steps {
		st := st
		time.AfterFunc(time.Duration(i+1)*step, func() {
			s.mu.Lock()
			g, ok := s.gateways[name]
			if !ok || s.gen != gen || g.state == "DOWN" {
				s.mu.Unlock()
				return
			}
			g.state = st["State"]
			s.mu.Unlock()
			h := map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_state", "Gateway": name}
			for k, v := range st {
				h[k] = v
			}
			s.emit(h, "")
		})
	}
}

// killgw marks the gateway for deletion: DOWN after one step, deleted after three.
func (s *Switch) killgw(name string) string {
	s.mu.Lock()
	g, ok := s.gateways[name]
	gen := s.gen
	if !ok || g.state == "DOWN" {
		s.mu.Unlock()
		return "-ERR no such gateway.\n"
	}
	g.state = "DOWN"
	s.mu.Unlock()
	time.AfterFunc(s.o.Step, func() {
		s.emit(map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_state", "Gateway": name, "State": "DOWN", "Ping-Status": "DOWN"}, "")
	})
	time.AfterFunc(3*s.o.Step, func() {
		s.mu.Lock()
		if s.gen != gen || s.gateways[name] != g {
			s.mu.Unlock()
			return
		}
		delete(s.gateways, name)
		s.mu.Unlock()
		s.emit(map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_delete", "Gateway": name, "profile-name": s.o.Profile}, "")
	})
	return "+OK gateway marked for deletion.\n"
}

func (s *Switch) loadACLs() {
	acls := map[string][]string{}
	for _, p := range s.files("acl") {
		b, _ := os.ReadFile(p)
		var f xmlACLFile
		if xml.Unmarshal(b, &f) != nil {
			continue
		}
		for _, l := range f.Lists {
			nodes := []string{}
			for _, n := range l.Nodes {
				if n.Type == "allow" {
					nodes = append(nodes, n.CIDR)
				}
			}
			acls[l.Name] = nodes
		}
	}
	s.mu.Lock()
	s.acls = acls
	s.mu.Unlock()
}

func (s *Switch) aclMatch(ip, list string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.acls[list] {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(a) {
			return true
		}
	}
	return false // a missing list denies (acl-list-missing)
}

// gatewayFields are a gateway's status fields in the recorded order.
func (s *Switch) gatewayFields(g *gateway) [][2]string {
	user := firstNonEmpty(g.params["username"], "FreeSWITCH")
	realm := firstNonEmpty(g.params["realm"], g.params["proxy"])
	proxy := firstNonEmpty(g.params["proxy"], realm)
	pw := "no"
	if g.params["password"] != "" {
		pw = "yes"
	}
	status := "UP"
	switch g.state {
	case "FAILED", "FAIL_WAIT", "DOWN", "TRYING", "UNREGED":
		status = "DOWN"
	}
	ping, pingfreq, pingmin, pingcount, pingmax, pingtime := "0", "0", "0", "0", "0", "0.00"
	if pf := g.params["ping"]; pf != "" && status == "UP" {
		ping, pingfreq, pingmin, pingcount, pingmax, pingtime = fmt.Sprint(time.Now().Unix()), pf, "1", "1", "1", "1.00"
	}
	exten := firstNonEmpty(g.params["extension"], user)
	expires := firstNonEmpty(g.params["expire-seconds"], "3600")
	uptime := "0"
	if status == "UP" {
		uptime = fmt.Sprint(time.Since(g.added).Microseconds())
	}
	return [][2]string{
		{"name", g.name}, {"profile", s.o.Profile}, {"scheme", "Digest"}, {"realm", realm}, {"username", user}, {"password", pw},
		{"from", "<sip:" + user + "@" + realm + ">"},
		{"contact", "<sip:gw+" + g.name + "@" + s.o.SIPAddr + ";transport=udp;gw=" + g.name + ">"},
		{"exten", exten}, {"to", "sip:" + user + "@" + realm}, {"proxy", "sip:" + proxy}, {"context", "public"},
		{"expires", expires}, {"freq", expires}, {"ping", ping}, {"pingfreq", pingfreq}, {"pingmin", pingmin},
		{"pingcount", pingcount}, {"pingmax", pingmax}, {"pingtime", pingtime}, {"pinging", "0"},
		{"state", g.state}, {"status", status}, {"uptime-usec", uptime},
		{"calls-in", "0"}, {"calls-out", "0"}, {"failed-calls-in", "0"}, {"failed-calls-out", "0"},
	}
}

func (s *Switch) xmlGateway(g *gateway) string {
	var b strings.Builder
	b.WriteString("  <gateway>\n")
	for _, f := range s.gatewayFields(g) {
		b.WriteString("    <" + f[0] + ">")
		xml.EscapeText(&b, []byte(f[1]))
		b.WriteString("</" + f[0] + ">\n")
	}
	if g.state == "FAIL_WAIT" {
		b.WriteString("    <retry>2s</retry>\n")
	}
	b.WriteString("  </gateway>\n")
	return b.String()
}

// xmlstatus answers `sofia xmlstatus gateway [name]` in the recorded shape.
func (s *Switch) xmlstatus(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	const decl = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
	if name != "" {
		g, ok := s.gateways[name]
		if !ok {
			return "Invalid Gateway!\n"
		}
		return decl + s.xmlGateway(g)
	}
	var b strings.Builder
	b.WriteString(decl + "<gateways>\n")
	for _, n := range sortedKeys(s.gateways) {
		b.WriteString(s.xmlGateway(s.gateways[n]))
	}
	b.WriteString("</gateways>\n")
	return b.String()
}

const statusRule = "=================================================================================================\n"

// statusGateway answers `sofia status gateway <name>` (a Key<TAB>Value table).
func (s *Switch) statusGateway(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.gateways[name]
	if !ok {
		return "Invalid Gateway!\n"
	}
	f := map[string]string{}
	for _, kv := range s.gatewayFields(g) {
		f[kv[0]] = kv[1]
	}
	uptime := "0s"
	if f["status"] == "UP" {
		uptime = fmt.Sprintf("%ds", int(time.Since(g.added).Seconds()))
	}
	rows := [][2]string{{"Name", f["name"]}, {"Profile", f["profile"]}, {"Scheme", f["scheme"]}, {"Realm", f["realm"]},
		{"Username", f["username"]}, {"Password", f["password"]}, {"From", f["from"]}, {"Contact", f["contact"]},
		{"Exten", f["exten"]}, {"To", f["to"]}, {"Proxy", f["proxy"]}, {"Context", f["context"]}, {"Expires", f["expires"]},
		{"Freq", f["freq"]}, {"Ping", f["ping"]}, {"PingFreq", f["pingfreq"]}, {"PingTime", f["pingtime"]},
		{"PingState", f["pingmin"] + "/" + f["pingcount"] + "/" + f["pingmax"]}, {"State", f["state"]}, {"Status", f["status"]},
		{"Uptime", uptime}, {"CallsIN", "0"}, {"CallsOUT", "0"}, {"FailedCallsIN", "0"}, {"FailedCallsOUT", "0"}}
	var b strings.Builder
	b.WriteString(statusRule)
	for _, r := range rows {
		fmt.Fprintf(&b, "%-8s\t%s\n", r[0], r[1])
	}
	b.WriteString(statusRule)
	return b.String()
}

// sofiaStatus answers `sofia status` (the profile and its gateways).
func (s *Switch) sofiaStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%25s\t%s\t%42s\t%s\n", "Name", "   Type", "Data", "State")
	b.WriteString(statusRule)
	fmt.Fprintf(&b, "%25s\t%s\t%42s\t%s\n", s.o.Profile, "profile", "sip:mod_sofia@"+s.o.SIPAddr, "RUNNING (0)")
	for _, n := range sortedKeys(s.gateways) {
		g := s.gateways[n]
		f := s.gatewayFields(g)
		state := g.state
		if state == "FAIL_WAIT" {
			state += " (retry: 2s)"
		}
		fmt.Fprintf(&b, "%25s\t%s\t%42s\t%s\n", s.o.Profile+"::"+n, "gateway", "sip:"+f[4][1]+"@"+f[3][1], state)
	}
	b.WriteString(statusRule)
	b.WriteString("1 profile 0 aliases\n")
	return b.String()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

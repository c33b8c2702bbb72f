package fstest

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
)

// apiSofia dispatches the sofia subcommands sipbridge uses.
func (s *Switch) apiSofia(b *batch, args string) string {
	f := strings.Fields(args)
	switch {
	case len(f) >= 3 && f[0] == "profile":
		if f[1] != s.o.Profile {
			return "Invalid Profile [" + f[1] + "]"
		}
		switch {
		case f[2] == "rescan" && len(f) <= 4:
			return s.rescan(b)
		case f[2] == "killgw" && len(f) == 4:
			return s.killgw(b, f[3])
		case f[2] == "startgw" && len(f) == 4:
			return s.startgw(b, f[3])
		case f[2] == "restart" && len(f) <= 4:
			return s.profileRestart(b)
		}
	case len(f) == 1 && f[0] == "status":
		return s.sofiaStatus()
	case len(f) == 3 && f[0] == "status" && f[1] == "gateway":
		return s.statusGateway(f[2])
	case len(f) == 2 && f[0] == "xmlstatus" && f[1] == "gateway":
		return s.xmlstatus("")
	case len(f) == 3 && f[0] == "xmlstatus" && f[1] == "gateway":
		return s.xmlstatus(f[2])
	}
	return s.unsupported("sofia " + args)
}

// rescan reloads the XML, then adds the gateways whose names are new (an
// existing name is ignored, its params NOT updated) and replaces the
// profile's apply-inbound-acl lists. On an XML error it says so and works
// from the XML still in effect, which changes nothing (xml-errors recording).
func (s *Switch) rescan(b *batch) string {
	text, _ := s.reload(b)
	s.applyProfile(b, "", true)
	return "Reload XML [" + text + "]\n+OK scan complete\n"
}

// startgw reloads the XML and starts that gateway if it is new; on an
// existing one nothing happens (gateway-update-kill recording).
func (s *Switch) startgw(b *batch, name string) string {
	text, _ := s.reload(b)
	s.applyProfile(b, name, false)
	return "Reload XML [" + text + "]\n+OK start gateway " + name + " complete\n"
}

// applyProfile loads the new gateways (only the named one when only is set)
// from the XML in effect, in file order.
func (s *Switch) applyProfile(b *batch, only string, settings bool) {
	s.mu.Lock()
	cfg := s.active
	if cfg == nil {
		s.mu.Unlock()
		return
	}
	if settings {
		s.inbound = slices.Clone(cfg.inbound)
	}
	var added []*gateway
	for _, def := range cfg.gateways {
		if only != "" && def.name != only {
			continue
		}
		if _, exists := s.gateways[def.name]; exists {
			continue // "Ignoring duplicate gateway"
		}
		added = append(added, s.addGatewayLocked(def))
	}
	gen := s.gen
	s.mu.Unlock()
	for _, g := range added {
		s.announce(b, g, gen)
	}
}

// profileRestart is supported but counted (sipbridge must never send it):
// RELOADXML, gateway_delete for every gateway, then about 1.2 s later
// UNPUBLISH, sofia::profile_start, PUBLISH and gateway_add for every
// gateway of the XML in effect, loaded afresh (acl-list-missing recording).
// The reply has no trailing newline, as recorded.
func (s *Switch) profileRestart(b *batch) string {
	text, _ := s.reload(b)
	s.mu.Lock()
	s.restarts++
	var old []*gateway
	for _, g := range s.gateways {
		old = append(old, g)
	}
	slices.SortFunc(old, func(x, y *gateway) int { return int(y.order - x.order) })
	s.newEpochLocked()
	s.gateways = map[string]*gateway{}
	gen := s.gen
	s.mu.Unlock()
	s.then(b, func() {
		s.goTimer(func() {
			if !s.sleepEpoch(gen, 0.04) {
				return
			}
			for _, g := range old {
				s.publish(s.newEvent("CUSTOM", "sofia::gateway_delete", hdr{Name: "profile-name", Value: s.o.Profile}, hdr{Name: "Gateway", Value: g.name}))
			}
			if !s.sleepEpoch(gen, 1.2) {
				return
			}
			_, port, _ := strings.Cut(s.o.SIPAddr, ":")
			uri := "sip:mod_sofia@" + s.o.SIPAddr
			prof := []hdr{{Name: "module_name", Value: "mod_sofia"}, {Name: "profile_name", Value: s.o.Profile}, {Name: "profile_uri", Value: uri}}
			svc := append([]hdr{{Name: "service", Value: "_sip._udp,_sip._tcp,_sip._sctp"}, {Name: "port", Value: port}}, prof...)
			s.publish(s.newEvent("UNPUBLISH", "", svc...))
			s.publish(s.newEvent("CUSTOM", "sofia::profile_start", prof...))
			s.publish(s.newEvent("PUBLISH", "", svc...))
			s.applyProfile(nil, "", true)
		})
	})
	return "Reload XML [" + text + "]\nrestarting: " + s.o.Profile
}

// gatewaysLocked lists the gateways newest first, as status output does.
func (s *Switch) gatewaysLocked() []*gateway {
	out := make([]*gateway, 0, len(s.gateways))
	for _, g := range s.gateways {
		out = append(out, g)
	}
	slices.SortFunc(out, func(x, y *gateway) int { return int(y.order - x.order) })
	return out
}

// retryLocked is the "retry: Ns" of a FAIL_WAIT gateway, in switch seconds.
func (s *Switch) retryLocked(g *gateway) int {
	left := s.switchTime(g.retryAt.Sub(s.now())).Seconds()
	if left < 0 {
		return 0
	}
	return int(left)
}

// gatewayFields are a gateway's xmlstatus fields in the recorded order.
func (s *Switch) gatewayFieldsLocked(g *gateway) [][2]string {
	user, realm := g.username(), g.realm()
	proxy := g.proxy()
	if !strings.HasPrefix(proxy, "sip:") && !strings.HasPrefix(proxy, "sips:") {
		proxy = "sip:" + proxy
	}
	pw := "no"
	if g.params["password"] != "" {
		pw = "yes"
	}
	status := s.gwStatusLocked(g)
	ping, pingfreq, pingmin, pingcount, pingmax, pingtime := "0", "0", "0", "0", "0", "0.00"
	if g.pings() {
		ping = fmt.Sprint(s.now().Unix() + int64(atoiOr(g.params["ping"], 0)))
		pingfreq, pingmin, pingmax = g.params["ping"], firstNonEmpty(g.params["ping-min"], "1"), firstNonEmpty(g.params["ping-max"], "1")
		if status == "UP" {
			pingcount, pingtime = "1", "1.00"
		}
	}
	expires := firstNonEmpty(g.params["expire-seconds"], "3600")
	uptime := "0"
	if status == "UP" {
		since := g.added
		if g.register {
			since = g.upSince
		}
		uptime = fmt.Sprint(s.switchTime(s.now().Sub(since)).Microseconds())
	}
	transport := firstNonEmpty(g.params["register-transport"], "udp")
	return [][2]string{
		{"name", g.name}, {"profile", s.o.Profile}, {"scheme", "Digest"}, {"realm", realm}, {"username", user},
		{"password", pw},
		{"from", "<sip:" + firstNonEmpty(g.params["from-user"], user) + "@" + firstNonEmpty(g.params["from-domain"], realm) + ">"},
		{"contact", "<sip:gw+" + g.name + "@" + s.o.SIPAddr + ";transport=" + transport + ";gw=" + g.name + ">"},
		{"exten", firstNonEmpty(g.params["extension"], user)}, {"to", "sip:" + user + "@" + realm}, {"proxy", proxy},
		{"context", firstNonEmpty(g.params["context"], "public")}, {"expires", expires}, {"freq", expires},
		{"ping", ping}, {"pingfreq", pingfreq}, {"pingmin", pingmin}, {"pingcount", pingcount}, {"pingmax", pingmax},
		{"pingtime", pingtime}, {"pinging", "0"}, {"state", g.state}, {"status", status}, {"uptime-usec", uptime},
		{"calls-in", fmt.Sprint(g.callsIn)}, {"calls-out", fmt.Sprint(g.callsOut)},
		{"failed-calls-in", fmt.Sprint(g.failedIn)}, {"failed-calls-out", fmt.Sprint(g.failedOut)},
	}
}

func atoiOr(v string, def int) int {
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil {
		return def
	}
	return n
}

func (s *Switch) xmlGatewayLocked(b *strings.Builder, g *gateway) {
	b.WriteString("  <gateway>\n")
	for _, f := range s.gatewayFieldsLocked(g) {
		b.WriteString("    <" + f[0] + ">")
		xml.EscapeText(b, []byte(f[1]))
		b.WriteString("</" + f[0] + ">\n")
	}
	if g.state == "FAIL_WAIT" {
		fmt.Fprintf(b, "    <retry>%ds</retry>\n", s.retryLocked(g))
	}
	b.WriteString("  </gateway>\n")
}

// xmlstatus answers `sofia xmlstatus gateway [name]` in the recorded shape:
// one gateway has no <gateways> wrapper; an unknown one is "Invalid Gateway!".
func (s *Switch) xmlstatus(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n")
	if name != "" {
		g, ok := s.gateways[name]
		if !ok {
			return "Invalid Gateway!\n"
		}
		s.xmlGatewayLocked(&b, g)
		return b.String()
	}
	b.WriteString("<gateways>\n")
	for _, g := range s.gatewaysLocked() {
		s.xmlGatewayLocked(&b, g)
	}
	b.WriteString("</gateways>\n")
	return b.String()
}

const statusRule = "=================================================================================================\n"

// statusGateway answers `sofia status gateway <name>` (Key<TAB>Value rows).
func (s *Switch) statusGateway(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.gateways[name]
	if !ok {
		return "Invalid Gateway!\n"
	}
	f := map[string]string{}
	for _, kv := range s.gatewayFieldsLocked(g) {
		f[kv[0]] = kv[1]
	}
	up := f["uptime-usec"]
	rows := [][2]string{{"Name", f["name"]}, {"Profile", f["profile"]}, {"Scheme", f["scheme"]}, {"Realm", f["realm"]},
		{"Username", f["username"]}, {"Password", f["password"]}, {"From", f["from"]}, {"Contact", f["contact"]},
		{"Exten", f["exten"]}, {"To", f["to"]}, {"Proxy", f["proxy"]}, {"Context", f["context"]}, {"Expires", f["expires"]},
		{"Freq", f["freq"]}, {"Ping", f["ping"]}, {"PingFreq", f["pingfreq"]}, {"PingTime", f["pingtime"]},
		{"PingState", f["pingmin"] + "/" + f["pingcount"] + "/" + f["pingmax"]}, {"State", f["state"]},
		{"Status", f["status"]}, {"Uptime", fmt.Sprintf("%ds", atoiOr(up, 0)/1_000_000)},
		{"CallsIN", f["calls-in"]}, {"CallsOUT", f["calls-out"]},
		{"FailedCallsIN", f["failed-calls-in"]}, {"FailedCallsOUT", f["failed-calls-out"]}}
	var b strings.Builder
	b.WriteString(statusRule)
	for _, r := range rows {
		fmt.Fprintf(&b, "%-8s\t%s\n", r[0], r[1])
	}
	b.WriteString(statusRule)
	return b.String()
}

// sofiaStatus answers `sofia status`: the profile, its gateways newest
// first, FAIL_WAIT with its retry countdown.
func (s *Switch) sofiaStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	row := func(name, typ, data, state string) { fmt.Fprintf(&b, "%25s\t%s\t%42s\t%s\n", name, typ, data, state) }
	row("Name", "   Type", "Data", "State")
	b.WriteString(statusRule)
	row(s.o.Profile, "profile", "sip:mod_sofia@"+s.o.SIPAddr, "RUNNING (0)")
	for _, g := range s.gatewaysLocked() {
		state := g.state
		if state == "FAIL_WAIT" {
			state += fmt.Sprintf(" (retry: %ds)", s.retryLocked(g))
		}
		row(s.o.Profile+"::"+g.name, "gateway", "sip:"+g.username()+"@"+g.realm(), state)
	}
	b.WriteString(statusRule)
	b.WriteString("1 profile 0 aliases\n")
	return b.String()
}

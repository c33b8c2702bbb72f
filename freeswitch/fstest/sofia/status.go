package sofia

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
)

// apiSofia dispatches the sofia subcommands sipbridge uses.
func (p *Profile) apiSofia(b Batch, args string) string {
	f := strings.Fields(args)
	switch {
	case len(f) >= 3 && f[0] == "profile":
		if f[1] != p.c.Profile {
			return "Invalid Profile [" + f[1] + "]"
		}
		switch {
		case f[2] == "rescan" && len(f) <= 4:
			return p.rescan(b)
		case f[2] == "killgw" && len(f) == 4:
			return p.killgw(b, f[3])
		case f[2] == "startgw" && len(f) == 4:
			return p.startgw(b, f[3])
		case f[2] == "restart" && len(f) <= 4:
			return p.profileRestart(b)
		}
	case len(f) == 1 && f[0] == "status":
		return p.sofiaStatus()
	case len(f) == 3 && f[0] == "status" && f[1] == "gateway":
		return p.statusGateway(f[2])
	case len(f) == 2 && f[0] == "xmlstatus" && f[1] == "gateway":
		return p.xmlstatus("")
	case len(f) == 3 && f[0] == "xmlstatus" && f[1] == "gateway":
		return p.xmlstatus(f[2])
	}
	return p.h.Unsupported("sofia " + args)
}

// rescan reloads the XML, then adds the gateways whose names are new (an
// existing name is ignored, its params NOT updated) and replaces the
// profile's apply-inbound-acl lists. On an XML error it says so and works
// from the XML still in effect, which changes nothing (xml-errors recording).
func (p *Profile) rescan(b Batch) string {
	text, _ := p.reload(b)
	p.applyProfile(b, "", true)
	return "Reload XML [" + text + "]\n+OK scan complete\n"
}

// startgw reloads the XML and starts that gateway if it is new; on an
// existing one nothing happens (gateway-update-kill recording).
func (p *Profile) startgw(b Batch, name string) string {
	text, _ := p.reload(b)
	p.applyProfile(b, name, false)
	return "Reload XML [" + text + "]\n+OK start gateway " + name + " complete\n"
}

// applyProfile loads the new gateways (only the named one when only is set)
// from the XML in effect, in file order.
func (p *Profile) applyProfile(b Batch, only string, settings bool) {
	p.mu.Lock()
	cfg := p.active
	if cfg == nil {
		p.mu.Unlock()
		return
	}
	if settings {
		p.inbound = slices.Clone(cfg.inbound)
	}
	var added []*gateway
	for _, def := range cfg.gateways {
		if only != "" && def.name != only {
			continue
		}
		if _, exists := p.gateways[def.name]; exists {
			continue // "Ignoring duplicate gateway"
		}
		added = append(added, p.addGatewayLocked(def))
	}
	gen := p.gen
	p.mu.Unlock()
	for _, g := range added {
		p.announce(b, g, gen)
	}
}

// profileRestart is supported but counted (sipbridge must never send it):
// RELOADXML, gateway_delete for every gateway, then about 1.2 s later
// UNPUBLISH, sofia::profile_start, PUBLISH and gateway_add for every
// gateway of the XML in effect, loaded afresh (acl-list-missing recording).
// The reply has no trailing newline, as recorded.
func (p *Profile) profileRestart(b Batch) string {
	text, _ := p.reload(b)
	p.mu.Lock()
	p.restarts++
	var old []*gateway
	for _, g := range p.gateways {
		old = append(old, g)
	}
	slices.SortFunc(old, func(x, y *gateway) int { return int(y.order - x.order) })
	p.newEpochLocked()
	p.gateways = map[string]*gateway{}
	gen := p.gen
	p.mu.Unlock()
	p.h.Restarted()
	p.then(b, func() {
		p.h.Go(func() {
			if !p.sleepEpoch(gen, 0.04) {
				return
			}
			for _, g := range old {
				p.h.Publish(p.h.NewEvent("CUSTOM", "sofia::gateway_delete", hdr{Name: "profile-name", Value: p.c.Profile}, hdr{Name: "Gateway", Value: g.name}))
			}
			if !p.sleepEpoch(gen, 1.2) {
				return
			}
			_, port, _ := strings.Cut(p.c.SIPAddr, ":")
			uri := "sip:mod_sofia@" + p.c.SIPAddr
			prof := []hdr{{Name: "module_name", Value: "mod_sofia"}, {Name: "profile_name", Value: p.c.Profile}, {Name: "profile_uri", Value: uri}}
			svc := append([]hdr{{Name: "service", Value: "_sip._udp,_sip._tcp,_sip._sctp"}, {Name: "port", Value: port}}, prof...)
			p.h.Publish(p.h.NewEvent("UNPUBLISH", "", svc...))
			p.h.Publish(p.h.NewEvent("CUSTOM", "sofia::profile_start", prof...))
			p.h.Publish(p.h.NewEvent("PUBLISH", "", svc...))
			p.applyProfile(nil, "", true)
		})
	})
	return "Reload XML [" + text + "]\nrestarting: " + p.c.Profile
}

// gatewaysLocked lists the gateways newest first, as status output does.
func (p *Profile) gatewaysLocked() []*gateway {
	out := make([]*gateway, 0, len(p.gateways))
	for _, g := range p.gateways {
		out = append(out, g)
	}
	slices.SortFunc(out, func(x, y *gateway) int { return int(y.order - x.order) })
	return out
}

// retryLocked is the "retry: Ns" of a FAIL_WAIT gateway, in switch seconds.
func (p *Profile) retryLocked(g *gateway) int {
	left := p.switchTime(g.retryAt.Sub(p.c.Now())).Seconds()
	if left < 0 {
		return 0
	}
	return int(left)
}

// gatewayFields are a gateway's xmlstatus fields in the recorded order.
func (p *Profile) gatewayFieldsLocked(g *gateway) [][2]string {
	user, realm := g.username(), g.realm()
	proxy := g.proxy()
	if !strings.HasPrefix(proxy, "sip:") && !strings.HasPrefix(proxy, "sips:") {
		proxy = "sip:" + proxy
	}
	pw := "no"
	if g.params["password"] != "" {
		pw = "yes"
	}
	status := p.gwStatusLocked(g)
	ping, pingfreq, pingmin, pingcount, pingmax, pingtime := "0", "0", "0", "0", "0", "0.00"
	if g.pings() {
		ping = fmt.Sprint(p.c.Now().Unix() + int64(atoiOr(g.params["ping"], 0)))
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
		uptime = fmt.Sprint(p.switchTime(p.c.Now().Sub(since)).Microseconds())
	}
	transport := firstNonEmpty(g.params["register-transport"], "udp")
	return [][2]string{
		{"name", g.name}, {"profile", p.c.Profile}, {"scheme", "Digest"}, {"realm", realm}, {"username", user},
		{"password", pw},
		{"from", "<sip:" + firstNonEmpty(g.params["from-user"], user) + "@" + firstNonEmpty(g.params["from-domain"], realm) + ">"},
		{"contact", "<sip:gw+" + g.name + "@" + p.c.SIPAddr + ";transport=" + transport + ";gw=" + g.name + ">"},
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

func (p *Profile) xmlGatewayLocked(b *strings.Builder, g *gateway) {
	b.WriteString("  <gateway>\n")
	for _, f := range p.gatewayFieldsLocked(g) {
		b.WriteString("    <" + f[0] + ">")
		xml.EscapeText(b, []byte(f[1]))
		b.WriteString("</" + f[0] + ">\n")
	}
	if g.state == "FAIL_WAIT" {
		fmt.Fprintf(b, "    <retry>%ds</retry>\n", p.retryLocked(g))
	}
	b.WriteString("  </gateway>\n")
}

// xmlstatus answers `sofia xmlstatus gateway [name]` in the recorded shape:
// one gateway has no <gateways> wrapper; an unknown one is "Invalid Gateway!".
func (p *Profile) xmlstatus(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n")
	if name != "" {
		g, ok := p.gateways[name]
		if !ok {
			return "Invalid Gateway!\n"
		}
		p.xmlGatewayLocked(&b, g)
		return b.String()
	}
	b.WriteString("<gateways>\n")
	for _, g := range p.gatewaysLocked() {
		p.xmlGatewayLocked(&b, g)
	}
	b.WriteString("</gateways>\n")
	return b.String()
}

const statusRule = "=================================================================================================\n"

// statusGateway answers `sofia status gateway <name>` (Key<TAB>Value rows).
func (p *Profile) statusGateway(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.gateways[name]
	if !ok {
		return "Invalid Gateway!\n"
	}
	f := map[string]string{}
	for _, kv := range p.gatewayFieldsLocked(g) {
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
func (p *Profile) sofiaStatus() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	row := func(name, typ, data, state string) { fmt.Fprintf(&b, "%25s\t%s\t%42s\t%s\n", name, typ, data, state) }
	row("Name", "   Type", "Data", "State")
	b.WriteString(statusRule)
	row(p.c.Profile, "profile", "sip:mod_sofia@"+p.c.SIPAddr, "RUNNING (0)")
	for _, g := range p.gatewaysLocked() {
		state := g.state
		if state == "FAIL_WAIT" {
			state += fmt.Sprintf(" (retry: %ds)", p.retryLocked(g))
		}
		row(p.c.Profile+"::"+g.name, "gateway", "sip:"+g.username()+"@"+g.realm(), state)
	}
	b.WriteString(statusRule)
	b.WriteString("1 profile 0 aliases\n")
	return b.String()
}

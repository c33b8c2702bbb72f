package sofia

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// gateway is a loaded sofia gateway and its registration state.
type gateway struct {
	name         string
	params, vars map[string]string
	order        int64 // load order: status output lists the newest first
	register     bool
	state        string
	up           bool // status UP (Ping-Status)
	added        time.Time
	upSince      time.Time
	replied      bool // a registrar answered: events carry Register-Network-*
	failures     int
	retryAt      time.Time
	deleting     bool
	stop         chan struct{} // closed by killgw: the registration loop ends

	callsIn, callsOut, failedIn, failedOut int // for the channel emulation
}

// addGatewayLocked loads def; p.mu is held.
func (p *Profile) addGatewayLocked(def gatewayDef) *gateway {
	p.gwOrder++
	g := &gateway{name: def.name, params: copyMap(def.params), vars: copyMap(def.vars), order: p.gwOrder,
		register: IsTrue(def.params["register"]), added: p.c.Now(), stop: make(chan struct{})}
	g.state = "NOREG"
	if g.register {
		g.state = "UNREGED" // until the first REGISTER goes out
	}
	p.gateways[g.name] = g
	return g
}

// announce fires gateway_add, then (after the reply) starts the
// registration loop of a register=true gateway. A register=false gateway
// fires no state event at all (gateway-lifecycle recording).
func (p *Profile) announce(b Batch, g *gateway, gen int) {
	p.fire(b, p.h.NewEvent("CUSTOM", "sofia::gateway_add", hdr{Name: "Gateway", Value: g.name}, hdr{Name: "profile-name", Value: p.c.Profile}))
	if g.register {
		p.then(b, func() { p.h.Go(func() { p.registration(g, gen) }) })
	}
}

// registration is the recorded REGISTER cycle: TRYING (+0.5 s), then
// REGISTER (200) and REGED 1 s later; or FAILED (403), FAIL_WAIT 1 s
// later, UNREGED retry-seconds × failures later, TRYING 1 s later, …
func (p *Profile) registration(g *gateway, gen int) {
	if !p.sleepGW(g, gen, 0.5) {
		return
	}
	for {
		p.mu.Lock()
		outcome := p.outcomeLocked(g)
		p.mu.Unlock()
		if !p.gwState(g, gen, "TRYING", nil) {
			return
		}
		if outcome == RegistrarOK {
			if !p.gwState(g, gen, "REGISTER", func(g *gateway) []hdr {
				g.replied = true
				return []hdr{{Name: "Phrase", Value: "OK"}, {Name: "Status", Value: "200"}}
			}) || !p.sleepGW(g, gen, 1) {
				return
			}
			p.gwState(g, gen, "REGED", func(g *gateway) []hdr {
				g.up, g.upSince, g.failures = true, p.c.Now(), 0
				return nil
			})
			return // stays REGED; re-registrations fire no event
		}
		status, phrase := "403", "Forbidden"
		if outcome == RegistrarTimeout {
			status, phrase = "408", "Request Timeout"
		}
		var wait float64
		if !p.gwState(g, gen, "FAILED", func(g *gateway) []hdr {
			g.replied = g.replied || outcome == RegistrarForbidden
			g.up = false
			g.failures++
			wait = retrySeconds(g) * float64(g.failures)
			return []hdr{{Name: "Phrase", Value: phrase}, {Name: "Status", Value: status}}
		}) || !p.sleepGW(g, gen, 1) {
			return
		}
		if !p.gwState(g, gen, "FAIL_WAIT", func(g *gateway) []hdr {
			g.retryAt = p.c.Now().Add(p.d(wait))
			return nil
		}) || !p.sleepGW(g, gen, wait) {
			return
		}
		if !p.gwState(g, gen, "UNREGED", nil) || !p.sleepGW(g, gen, 1) {
			return
		}
	}
}

// retrySeconds is the gateway's retry-seconds (sofia.c: below 5 means 30).
func retrySeconds(g *gateway) float64 {
	n, err := strconv.Atoi(g.params["retry-seconds"])
	if err != nil || n < 5 {
		return 30
	}
	return float64(n)
}

func (p *Profile) sleepGW(g *gateway, gen int, sec float64) bool { return p.sleepOr(gen, sec, g.stop) }

// gwState moves a live gateway to state and fires sofia::gateway_state;
// mutate (under the lock) adjusts the gateway and returns the trailing
// headers. False when the gateway is gone or being deleted.
func (p *Profile) gwState(g *gateway, gen int, state string, mutate func(*gateway) []hdr) bool {
	p.mu.Lock()
	if p.gen != gen || p.gateways[g.name] != g || g.deleting {
		p.mu.Unlock()
		return false
	}
	g.state = state
	var tail []hdr
	if mutate != nil {
		tail = mutate(g)
	}
	h := p.stateHeadersLocked(g)
	p.mu.Unlock()
	p.h.Publish(p.h.NewEvent("CUSTOM", "sofia::gateway_state", append(h, tail...)...))
	return true
}

func (p *Profile) stateHeadersLocked(g *gateway) []hdr {
	ping := "DOWN"
	if g.up {
		ping = "UP"
	}
	h := []hdr{{Name: "Gateway", Value: g.name}, {Name: "State", Value: g.state}, {Name: "Ping-Status", Value: ping}}
	if g.replied {
		host, port := g.network()
		h = append(h, hdr{Name: "Register-Network-IP", Value: host}, hdr{Name: "Register-Network-Port", Value: port})
	}
	return h
}

// killgw marks a gateway for deletion: a registering one goes DOWN after
// 0.5 s and is deleted 1 s later; a register=false one is deleted after
// 0.5 s without a state event (gateway-update-kill, inbound-gw-* recordings).
func (p *Profile) killgw(b Batch, name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.gateways[name]
	if !ok {
		return "-ERR no such gateway.\n"
	}
	if !g.deleting {
		g.deleting = true
		close(g.stop)
		gen := p.gen
		p.then(b, func() { p.h.Go(func() { p.deleteGateway(g, gen) }) })
	}
	return "+OK gateway marked for deletion.\n"
}

func (p *Profile) deleteGateway(g *gateway, gen int) {
	live := func() bool { return p.gen == gen && p.gateways[g.name] == g }
	if !p.sleepEpoch(gen, 0.5) {
		return
	}
	if g.register {
		p.mu.Lock()
		if !live() {
			p.mu.Unlock()
			return
		}
		g.state, g.up = "DOWN", false
		h := p.stateHeadersLocked(g)
		p.mu.Unlock()
		p.h.Publish(p.h.NewEvent("CUSTOM", "sofia::gateway_state", h...))
		if !p.sleepEpoch(gen, 1) {
			return
		}
	}
	p.mu.Lock()
	if !live() {
		p.mu.Unlock()
		return
	}
	delete(p.gateways, g.name)
	p.mu.Unlock()
	p.h.Publish(p.h.NewEvent("CUSTOM", "sofia::gateway_delete", hdr{Name: "profile-name", Value: p.c.Profile}, hdr{Name: "Gateway", Value: g.name}))
}

func (p *Profile) sleepEpoch(gen int, sec float64) bool { return p.sleepOr(gen, sec, nil) }

// sleepOr waits sec switch seconds; false when the switch restarted or
// closed, the generation changed, or stop (nil: never) closed first.
func (p *Profile) sleepOr(gen int, sec float64, stop <-chan struct{}) bool {
	p.mu.Lock()
	epoch := p.epoch
	ok := p.gen == gen
	p.mu.Unlock()
	if !ok {
		return false
	}
	t := time.NewTimer(p.d(sec))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
	case <-epoch:
	case <-p.h.Done():
	}
	return false
}

// newEpochLocked ends every gateway timer (Reset, profile restart).
func (p *Profile) newEpochLocked() {
	close(p.epoch)
	p.epoch = make(chan struct{})
	p.gen++
}

// outcomeLocked is the registrar outcome for g: by name, proxy host:port,
// proxy host; default 200 OK.
func (p *Profile) outcomeLocked(g *gateway) Registrar {
	if r, ok := p.registrar[g.name]; ok {
		return r
	}
	hp := g.proxyHostPort()
	if r, ok := p.registrar[hp]; ok {
		return r
	}
	host, _ := g.network()
	if r, ok := p.registrar[host]; ok {
		return r
	}
	return RegistrarOK
}

// gwStatusLocked is UP or DOWN as xmlstatus shows it: a registering gateway
// is UP while REGED; a register=false one is UP, unless it pings and its
// OPTIONS go unanswered (originate-gateway-down recording).
func (p *Profile) gwStatusLocked(g *gateway) string {
	switch {
	case g.register && g.up, !g.register && !g.pings(), !g.register && p.outcomeLocked(g) == RegistrarOK:
		return "UP"
	}
	return "DOWN"
}

func (g *gateway) pings() bool {
	n, err := strconv.Atoi(g.params["ping"])
	return err == nil && n > 0
}

func (g *gateway) username() string { return firstNonEmpty(g.params["username"], "FreeSWITCH") }

func (g *gateway) realm() string {
	return firstNonEmpty(g.params["realm"], g.params["proxy"], g.name)
}

func (g *gateway) proxy() string { return firstNonEmpty(g.params["proxy"], g.realm()) }

// proxyHostPort is the proxy without a sip: scheme or URI parameters.
func (g *gateway) proxyHostPort() string {
	p := g.proxy()
	p = strings.TrimPrefix(strings.TrimPrefix(p, "sip:"), "sips:")
	p, _, _ = strings.Cut(p, ";")
	return p
}

// network is where REGISTER goes (Register-Network-IP/Port); a DNS name is
// reported as is, never resolved.
func (g *gateway) network() (string, string) {
	hp := g.proxyHostPort()
	if host, port, err := net.SplitHostPort(hp); err == nil {
		return host, port
	}
	return strings.Trim(hp, "[]"), "5060"
}

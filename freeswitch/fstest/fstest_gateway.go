package fstest

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

// addGatewayLocked loads def; s.mu is held.
func (s *Switch) addGatewayLocked(def gatewayDef) *gateway {
	s.gwOrder++
	g := &gateway{name: def.name, params: copyMap(def.params), vars: copyMap(def.vars), order: s.gwOrder,
		register: isTrue(def.params["register"]), added: s.now(), stop: make(chan struct{})}
	g.state = "NOREG"
	if g.register {
		g.state = "UNREGED" // until the first REGISTER goes out
	}
	s.gateways[g.name] = g
	return g
}

// announce fires gateway_add, then (after the reply) starts the
// registration loop of a register=true gateway. A register=false gateway
// fires no state event at all (gateway-lifecycle recording).
func (s *Switch) announce(b *batch, g *gateway, gen int) {
	s.fire(b, s.newEvent("CUSTOM", "sofia::gateway_add", hdr{Name: "Gateway", Value: g.name}, hdr{Name: "profile-name", Value: s.o.Profile}))
	if g.register {
		s.then(b, func() { s.goTimer(func() { s.registration(g, gen) }) })
	}
}

// then runs f after b's events are out (at once when b is nil).
func (s *Switch) then(b *batch, f func()) {
	if b != nil {
		b.after = append(b.after, f)
		return
	}
	f()
}

// registration is the recorded REGISTER cycle: TRYING (+0.5 s), then
// REGISTER (200) and REGED 1 s later; or FAILED (403), FAIL_WAIT 1 s
// later, UNREGED retry-seconds × failures later, TRYING 1 s later, …
func (s *Switch) registration(g *gateway, gen int) {
	if !s.sleepGW(g, gen, 0.5) {
		return
	}
	for {
		s.mu.Lock()
		outcome := s.outcomeLocked(g)
		s.mu.Unlock()
		if !s.gwState(g, gen, "TRYING", nil) {
			return
		}
		if outcome == RegistrarOK {
			if !s.gwState(g, gen, "REGISTER", func(g *gateway) []hdr {
				g.replied = true
				return []hdr{{Name: "Phrase", Value: "OK"}, {Name: "Status", Value: "200"}}
			}) || !s.sleepGW(g, gen, 1) {
				return
			}
			s.gwState(g, gen, "REGED", func(g *gateway) []hdr {
				g.up, g.upSince, g.failures = true, s.now(), 0
				return nil
			})
			return // stays REGED; re-registrations fire no event
		}
		status, phrase := "403", "Forbidden"
		if outcome == RegistrarTimeout {
			status, phrase = "408", "Request Timeout"
		}
		var wait float64
		if !s.gwState(g, gen, "FAILED", func(g *gateway) []hdr {
			g.replied = g.replied || outcome == RegistrarForbidden
			g.up = false
			g.failures++
			wait = retrySeconds(g) * float64(g.failures)
			return []hdr{{Name: "Phrase", Value: phrase}, {Name: "Status", Value: status}}
		}) || !s.sleepGW(g, gen, 1) {
			return
		}
		if !s.gwState(g, gen, "FAIL_WAIT", func(g *gateway) []hdr {
			g.retryAt = s.now().Add(s.d(wait))
			return nil
		}) || !s.sleepGW(g, gen, wait) {
			return
		}
		if !s.gwState(g, gen, "UNREGED", nil) || !s.sleepGW(g, gen, 1) {
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

func (s *Switch) sleepGW(g *gateway, gen int, sec float64) bool { return s.sleepOr(gen, sec, g.stop) }

// gwState moves a live gateway to state and fires sofia::gateway_state;
// mutate (under the lock) adjusts the gateway and returns the trailing
// headers. False when the gateway is gone or being deleted.
func (s *Switch) gwState(g *gateway, gen int, state string, mutate func(*gateway) []hdr) bool {
	s.mu.Lock()
	if s.gen != gen || s.gateways[g.name] != g || g.deleting {
		s.mu.Unlock()
		return false
	}
	g.state = state
	var tail []hdr
	if mutate != nil {
		tail = mutate(g)
	}
	h := s.stateHeadersLocked(g)
	s.mu.Unlock()
	s.publish(s.newEvent("CUSTOM", "sofia::gateway_state", append(h, tail...)...))
	return true
}

func (s *Switch) stateHeadersLocked(g *gateway) []hdr {
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
func (s *Switch) killgw(b *batch, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.gateways[name]
	if !ok {
		return "-ERR no such gateway.\n"
	}
	if !g.deleting {
		g.deleting = true
		close(g.stop)
		gen := s.gen
		s.then(b, func() { s.goTimer(func() { s.deleteGateway(g, gen) }) })
	}
	return "+OK gateway marked for deletion.\n"
}

func (s *Switch) deleteGateway(g *gateway, gen int) {
	live := func() bool { return s.gen == gen && s.gateways[g.name] == g }
	if !s.sleepEpoch(gen, 0.5) {
		return
	}
	if g.register {
		s.mu.Lock()
		if !live() {
			s.mu.Unlock()
			return
		}
		g.state, g.up = "DOWN", false
		h := s.stateHeadersLocked(g)
		s.mu.Unlock()
		s.publish(s.newEvent("CUSTOM", "sofia::gateway_state", h...))
		if !s.sleepEpoch(gen, 1) {
			return
		}
	}
	s.mu.Lock()
	if !live() {
		s.mu.Unlock()
		return
	}
	delete(s.gateways, g.name)
	s.mu.Unlock()
	s.publish(s.newEvent("CUSTOM", "sofia::gateway_delete", hdr{Name: "profile-name", Value: s.o.Profile}, hdr{Name: "Gateway", Value: g.name}))
}

func (s *Switch) sleepEpoch(gen int, sec float64) bool { return s.sleepOr(gen, sec, nil) }

// sleepOr waits sec switch seconds; false when the switch restarted or
// closed, the generation changed, or stop (nil: never) closed first.
func (s *Switch) sleepOr(gen int, sec float64, stop <-chan struct{}) bool {
	s.mu.Lock()
	epoch := s.epoch
	ok := s.gen == gen
	s.mu.Unlock()
	if !ok {
		return false
	}
	t := time.NewTimer(s.d(sec))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
	case <-epoch:
	case <-s.done:
	}
	return false
}

// newEpochLocked ends every gateway timer (Restart, profile restart, Close).
func (s *Switch) newEpochLocked() {
	close(s.epoch)
	s.epoch = make(chan struct{})
	s.gen++
}

// outcomeLocked is the registrar outcome for g: by name, proxy host:port,
// proxy host; default 200 OK.
func (s *Switch) outcomeLocked(g *gateway) Registrar {
	if r, ok := s.registrar[g.name]; ok {
		return r
	}
	hp := g.proxyHostPort()
	if r, ok := s.registrar[hp]; ok {
		return r
	}
	host, _ := g.network()
	if r, ok := s.registrar[host]; ok {
		return r
	}
	return RegistrarOK
}

// gwStatusLocked is UP or DOWN as xmlstatus shows it: a registering gateway
// is UP while REGED; a register=false one is UP, unless it pings and its
// OPTIONS go unanswered (originate-gateway-down recording).
func (s *Switch) gwStatusLocked(g *gateway) string {
	switch {
	case g.register && g.up, !g.register && !g.pings(), !g.register && s.outcomeLocked(g) == RegistrarOK:
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

// Package sofia is the mod_sofia side of the FreeSWITCH simulator
// (freeswitch/fstest): the configuration read from the files sipbridge
// writes under GenDir (gateways/*.xml, acl/*.xml, profile/*.xml) as
// FreeSWITCH's XML reload reads them, XML errors reported in the ezxml
// form with nothing changed; the ACL lists; one profile's gateways and
// their registration state machine with per-gateway registrar outcomes;
// the commands reloadxml, reloadacl, acl and `sofia profile <p>
// rescan|startgw|killgw|restart`, `sofia xmlstatus gateway [name]`,
// `sofia status [gateway <name>]`, as recorded (gateway-*, xml-errors,
// acl-*, inbound-gw-*). The switch fires its events (Host, Batch) and asks
// it about gateways for its outbound calls.
//
// Timing: every delay is in switch seconds, scaled by Config.Scale
// (killgw: DOWN after 0.5 s, gateway_delete after 1.5 s; TRYING 0.5 s
// after gateway_add, REGED 1 s later; FAIL_WAIT 1 s after FAILED, UNREGED
// retry-seconds × failures later, TRYING again 1 s later), so the order
// of events is the real one; durations it reports are in switch time.
package sofia

import (
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
)

type hdr = eslserver.Header

// Registrar is the answer a registration gateway's REGISTER gets (and, for a
// register=false gateway with `ping`, whether its OPTIONS are answered).
type Registrar int

const (
	RegistrarOK        Registrar = iota // 200 OK: TRYING, REGISTER, REGED (recorded)
	RegistrarForbidden                  // 403 Forbidden: TRYING, FAILED, FAIL_WAIT, UNREGED… (recorded)
	RegistrarTimeout                    // no answer: like Forbidden with 408 Request Timeout (not recorded)
)

// GatewayInfo is a loaded gateway as a test sees it.
type GatewayInfo struct {
	Name     string
	State    string            // NOREG, UNREGED, TRYING, REGISTER, REGED, FAILED, FAIL_WAIT, DOWN
	Status   string            // UP or DOWN, as xmlstatus shows it
	Deleting bool              // killgw accepted, gateway_delete not yet fired
	Params   map[string]string // <param>s as loaded (after $${} expansion)
	Vars     map[string]string // <variables>
}

// Config configures a Profile; every field is required.
type Config struct {
	Profile string            // the profile's name
	SIPAddr string            // its SIP address, as in contacts
	GenDir  string            // the directory sipbridge writes ("" : none)
	Globals map[string]string // the $${var} values of the XML preprocessor
	Logger  *slog.Logger
	Now     func() time.Time
	Scale   float64 // wall time / switch time
}

// Host is the switch as the profile sees it.
type Host interface {
	NewEvent(name, subclass string, extra ...eslserver.Header) *eslserver.Event
	Publish(e *eslserver.Event) // fires an event at once
	Go(f func())                // runs f in a goroutine the switch's Close waits for
	Done() <-chan struct{}      // closed when the switch closes
	Unsupported(cmd string) string
	// Restarted says the profile restarted: the switch's call timers
	// (ringing legs, transfers) end, as its calls would.
	Restarted()
}

// Batch collects the events of a command: the switch publishes them after
// its reply, then runs the Then funcs.
type Batch interface {
	Fire(e *eslserver.Event)
	Then(f func())
}

// Profile is the sofia profile and the XML in effect. All methods are
// safe for concurrent use.
type Profile struct {
	c Config
	h Host

	mu        sync.Mutex
	gateways  map[string]*gateway
	gwOrder   int64
	active    *config              // the last XML that loaded (nil: nothing loaded yet)
	acls      map[string]aclList   // lists in effect (reloadacl)
	inbound   []string             // the profile's apply-inbound-acl lists (rescan)
	registrar map[string]Registrar // by gateway name, proxy host:port or host
	restarts  int
	gen       int           // bumped by Reset and profile restart: stale timers do nothing
	epoch     chan struct{} // closed with each gen bump: wakes the timers up
}

// New returns a profile with nothing loaded (a real switch would load the
// files present at startup; here nothing is loaded until rescan/reloadacl).
func New(c Config, h Host) *Profile {
	return &Profile{c: c, h: h, gateways: map[string]*gateway{}, acls: map[string]aclList{},
		registrar: map[string]Registrar{}, epoch: make(chan struct{})}
}

// API returns the commands of mod_sofia and of the XML and ACL reloads.
func (p *Profile) API() map[string]func(b Batch, args string) string {
	return map[string]func(Batch, string) string{
		"reloadxml": p.apiReloadXML,
		"reloadacl": p.apiReloadACL,
		"acl":       p.apiACL,
		"sofia":     p.apiSofia,
	}
}

// Reset forgets everything loaded (the switch restarted): no gateways, no
// ACL lists, no inbound lists; their timers end. Registrar outcomes stay.
func (p *Profile) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.newEpochLocked()
	p.gateways, p.acls, p.inbound, p.active = map[string]*gateway{}, map[string]aclList{}, nil, nil
}

// SetRegistrar sets the outcome of REGISTER (and of OPTIONS pings) for a
// gateway, named by gateway name, by proxy "host:port" or by proxy host.
// It applies from the next attempt on: a FAIL_WAIT gateway retries with it.
func (p *Profile) SetRegistrar(gateway string, r Registrar) {
	p.mu.Lock()
	p.registrar[gateway] = r
	p.mu.Unlock()
}

// Restarts counts `sofia profile <p> restart` commands.
func (p *Profile) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Gateways lists the loaded gateways by name.
func (p *Profile) Gateways() []GatewayInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]GatewayInfo, 0, len(p.gateways))
	for _, name := range slices.Sorted(maps.Keys(p.gateways)) {
		g := p.gateways[name]
		out = append(out, GatewayInfo{Name: g.name, State: g.state, Status: p.gwStatusLocked(g), Deleting: g.deleting,
			Params: copyMap(g.params), Vars: copyMap(g.vars)})
	}
	return out
}

// ACL returns the allow nodes (cidr as written) of a loaded ACL list.
func (p *Profile) ACL(list string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, n := range p.acls[list].nodes {
		if n.allow {
			out = append(out, n.cidr)
		}
	}
	return out
}

// InboundACLs returns the profile's apply-inbound-acl lists, in file order.
func (p *Profile) InboundACLs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.inbound)
}

// Outbound is sofia_outgoing_channel's look at a call's gateway: whether
// it exists and is up, its username and proxy host:port. A valid call
// (a number given) counts as a call out, or a failed one when the
// gateway is down (GATEWAY_DOWN).
func (p *Profile) Outbound(name string, valid bool) (username, hostPort string, exists, up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.gateways[name]
	if g == nil {
		return "", "", false, false
	}
	up = p.gwStatusLocked(g) == "UP"
	switch {
	case up && valid:
		g.callsOut++
	case valid:
		g.failedOut++
	}
	return g.username(), g.proxyHostPort(), true, up
}

// FailedOut counts a failed call out of the gateway.
func (p *Profile) FailedOut(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.gateways[name]; g != nil {
		g.failedOut++
	}
}

// fire publishes e now, or after the reply when b is not nil.
func (p *Profile) fire(b Batch, e *eslserver.Event) {
	if b != nil {
		b.Fire(e)
		return
	}
	p.h.Publish(e)
}

// then runs f after b's events are out (at once when b is nil).
func (p *Profile) then(b Batch, f func()) {
	if b != nil {
		b.Then(f)
		return
	}
	f()
}

// d converts switch seconds to wall time.
func (p *Profile) d(sec float64) time.Duration {
	return time.Duration(sec * float64(time.Second) * p.c.Scale)
}

// switchTime converts elapsed wall time to switch time.
func (p *Profile) switchTime(wall time.Duration) time.Duration {
	return time.Duration(float64(wall) / p.c.Scale)
}

// reload re-reads the XML. On success the new files are in effect and a
// RELOADXML event fires; on error the previous ones stay. The text is what
// FreeSWITCH puts in brackets: "Success" or "[error near line N]: …".
func (p *Profile) reload(b Batch) (string, bool) {
	cfg, err := p.loadConfig()
	if err != nil {
		p.c.Logger.Info("fstest: XML reload failed", "err", err)
		return err.Error(), false
	}
	p.mu.Lock()
	p.active = cfg
	p.mu.Unlock()
	p.fire(b, p.h.NewEvent("RELOADXML", ""))
	return "Success", true
}

// apiReloadXML: "+OK [Success]\n", and "+OK [<error>]\n" on a broken file
// (xml-errors recording: +OK although it failed).
func (p *Profile) apiReloadXML(b Batch, _ string) string {
	text, _ := p.reload(b)
	return "+OK [" + text + "]\n"
}

// apiReloadACL reloads the XML and re-reads the ACL lists from the XML in
// effect: with a broken file the previous lists stay (the old XML root is
// kept, as reloadxml shows); the reply is the recorded one either way.
func (p *Profile) apiReloadACL(b Batch, _ string) string {
	p.reload(b)
	p.mu.Lock()
	p.acls = map[string]aclList{}
	if p.active != nil {
		for k, v := range p.active.acls {
			p.acls[k] = v
		}
	}
	p.mu.Unlock()
	return "+OK acl reloaded\n"
}

// apiACL answers `acl <ip> <list>` with true or false, no newline; a list
// that does not exist denies (acl-list-missing recording), and so do
// missing arguments (mod_commands acl_function: "false", no usage text).
func (p *Profile) apiACL(_ Batch, args string) string {
	f := strings.Fields(args)
	if len(f) < 2 {
		return "false"
	}
	return fmt.Sprint(p.ACLAllows(f[0], f[1]))
}

// ACLAllows reports whether ip passes the list in effect (or a built-in
// one: loopback.auto, rfc1918.auto); a missing list denies.
func (p *Profile) ACLAllows(ip, list string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	p.mu.Lock()
	l, ok := p.acls[list]
	p.mu.Unlock()
	if !ok {
		if l, ok = builtinACL(list); !ok {
			return false
		}
	}
	return l.allows(a)
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

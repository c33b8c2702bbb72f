package trunk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// The actual state in FreeSWITCH: what it reports (xmlstatus, sofia
// gateway events) and the commands a pass sends it.

// readIPAuthStates records the live state of newly added IP-auth gateways:
// FreeSWITCH fires no state event for register=false gateways (NOREG is only
// in xmlstatus, gateway-lifecycle recording). Registration gateways get their
// state from sofia::gateway_state events, which a read here could overwrite
// with an older value, so they are left alone.
func (s *Sync) readIPAuthStates(ctx context.Context, n *node, gws map[string]*desiredGateway, added []string, res *PassResult) {
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
	since := s.seq.Load() + 1
	reply, err := n.sw.API(ctx, "sofia xmlstatus gateway")
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
			if err := s.recordLive(ctx, n, db.GatewayLive{GatewayName: g.Name, State: g.State, PingStatus: g.Status}, since); err != nil {
				s.log.Warn("gateway state not saved", "trunk", g.Name, "err", err)
			}
		}
	}
}

// readActual asks a node which gateways it has, once per connection.
func (s *Sync) readActual(ctx context.Context, n *node, res *PassResult) error {
	s.mu.Lock()
	known := n.known
	s.mu.Unlock()
	if known {
		return nil
	}
	since := s.seq.Load() + 1
	reply, err := n.sw.API(ctx, "sofia xmlstatus gateway")
	res.Commands = append(res.Commands, "sofia xmlstatus gateway")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSwitch, err)
	}
	list, err := ParseXMLStatus(reply)
	if err != nil {
		return err
	}
	s.mu.Lock()
	n.present = map[string]bool{}
	for _, g := range list {
		if g.Profile != "" && g.Profile != s.opts.Profile {
			continue
		}
		n.present[g.Name] = true
		if _, ok := n.loaded[g.Name]; !ok {
			// Assume FreeSWITCH loaded the file we have on disk.
			if b, ok := s.disk[filepath.Join(dirGateways, g.Name+".xml")]; ok {
				sum := sha256.Sum256(b)
				n.loaded[g.Name] = string(sum[:])
			}
		}
	}
	for name := range n.loaded {
		if !n.present[name] {
			delete(n.loaded, name)
		}
	}
	n.known = true
	s.mu.Unlock()
	for _, g := range list {
		if xmlgen.IsOurGateway(g.Name) && (g.Profile == "" || g.Profile == s.opts.Profile) {
			state := g.State
			if err := s.recordLive(ctx, n, db.GatewayLive{GatewayName: g.Name, State: state, PingStatus: g.Status}, since); err != nil && !errors.Is(err, db.ErrNotFound) {
				s.log.Warn("gateway state not saved", "trunk", g.Name, "err", err)
			}
		}
	}
	return nil
}

func (s *Sync) command(ctx context.Context, n *node, cmd string, res *PassResult, ok func(string) bool) error {
	res.Commands = append(res.Commands, cmd)
	reply, err := n.sw.API(ctx, cmd)
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
func (s *Sync) rescan(ctx context.Context, n *node, res *PassResult) error {
	cmd := "sofia profile " + s.opts.Profile + " rescan"
	res.Commands = append(res.Commands, cmd)
	reply, err := n.sw.API(ctx, cmd)
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
func (s *Sync) kill(ctx context.Context, n *node, names []string, res *PassResult) error {
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
		n.waiters[name] = append(n.waiters[name], ch)
		s.mu.Unlock()
		cmd := "sofia profile " + s.opts.Profile + " killgw " + name
		res.Commands = append(res.Commands, cmd)
		reply, err := n.sw.API(ctx, cmd)
		if err != nil && strings.Contains(err.Error(), "no such gateway") || strings.Contains(reply, "no such gateway") {
			s.gatewayGone(n, name)
			continue
		}
		if err != nil {
			s.dropWaiter(n, name, ch)
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
		s.dropWaiter(n, w.name, w.ch)
	}
	if len(late) > 0 {
		return fmt.Errorf("%w: no sofia::gateway_delete for %s within %s", ErrSwitch, strings.Join(late, ", "), s.opts.DeleteTimeout)
	}
	return nil
}

func (s *Sync) dropWaiter(n *node, name string, ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := n.waiters[name]
	for i, w := range ws {
		if w == ch {
			n.waiters[name] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(n.waiters[name]) == 0 {
		delete(n.waiters, name)
	}
}

func (s *Sync) gatewayGone(n *node, name string) {
	s.mu.Lock()
	delete(n.present, name)
	delete(n.loaded, name)
	s.dirtyLocked()
	for _, ch := range n.waiters[name] {
		close(ch)
	}
	delete(n.waiters, name)
	s.mu.Unlock()
}

// GatewayEvent is a sofia::gateway_add / gateway_state / gateway_delete event.
type GatewayEvent struct {
	Subclass   string // sofia::gateway_add, sofia::gateway_state, sofia::gateway_delete
	Node       string // the node that sent it ("": the first)
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
	s.mu.Lock()
	n := s.nodeLocked(ev.Node)
	s.mu.Unlock()
	if n == nil {
		return
	}
	live := db.GatewayLive{GatewayName: ev.Gateway}
	switch ev.Subclass {
	case "sofia::gateway_delete":
		s.gatewayGone(n, ev.Gateway)
		live.State = "DOWN"
	case "sofia::gateway_add":
		s.mu.Lock()
		if !n.present[ev.Gateway] {
			s.dirtyLocked()
		}
		n.present[ev.Gateway] = true
		if _, ok := n.loaded[ev.Gateway]; !ok {
			// FreeSWITCH loaded what is on disk (a rescan by us or an operator).
			if b, ok := s.disk[filepath.Join(dirGateways, ev.Gateway+".xml")]; ok {
				sum := sha256.Sum256(b)
				n.loaded[ev.Gateway] = string(sum[:])
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
	if err := s.recordLive(ctx, n, live, 0); err != nil && !errors.Is(err, db.ErrNotFound) {
		s.log.Warn("gateway state not saved", "trunk", ev.Gateway, "err", err)
	}
}

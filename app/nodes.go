package app

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web/switchapi"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

// connectNodes makes the further nodes' connections (not yet started),
// one per node for trunk sync's commands and the node's gateway events,
// and returns trunk sync's nodes (nil: the one node at Addr).
func (a *App) connectNodes(opts func(more ...esl.Option) []esl.Option) []trunk.Node {
	sw := a.cfg.Switch
	if len(sw.Nodes) == 0 {
		return nil
	}
	out := []trunk.Node{{Name: sw.Nodes[0].Name, API: a.Cmd}}
	for _, n := range sw.Nodes[1:] {
		name := n.Name
		c := esl.New(n.ESL, sw.Password, opts(
			esl.WithOnConnect(func(ctx context.Context) {
				a.TrunkSync.NodeConnected(name)
				a.TrunkSync.Kick()
				a.nodeLostWhenDone(ctx, name)
			}),
			esl.WithLogger(a.log.With("component", "esl", "conn", "node", "node", name)),
			esl.WithEvents(trunk.GatewayEventSubclasses...))...)
		c.OnEvent(func(e *esl.Event) {
			if ge, ok := trunk.GatewayEventFrom(e); ok {
				ge.Node = name
				a.TrunkSync.HandleGatewayEvent(a.ctx, ge)
			}
		})
		a.NodeConns = append(a.NodeConns, c)
		out = append(out, trunk.Node{Name: name, API: c})
	}
	return out
}

// nodeLostWhenDone waits for the end of a connection that carries a
// node's gateway events (ctx, from esl.WithOnConnect) and then tells trunk
// sync that what the node said of its gateways is no longer known, unless
// sipbridge itself is stopping.
func (a *App) nodeLostWhenDone(ctx context.Context, name string) {
	<-ctx.Done()
	if a.ctx.Err() == nil {
		a.TrunkSync.NodeLost(a.ctx, name)
	}
}

// syncReady is when trunk sync's passes run: the switch up, or with
// several nodes any of them (a pass shows the others' errors).
func (a *App) syncReady() bool {
	if a.SwitchUp() {
		return true
	}
	for _, c := range a.NodeConns {
		if c.Connected() {
			return true
		}
	}
	return false
}

// nodeStates is what the trunk answers show per node (nil: one node).
func (a *App) nodeStates() trunkapi.NodeStates {
	if a.TrunkSync == nil || !a.TrunkSync.PerNode() {
		return nil
	}
	return a.Trunks
}

// buildNodesAPI serves GET /api/v1/switch/nodes.
func (a *App) buildNodesAPI() {
	switchapi.Register(a.Web.Server, switchapi.Deps{Nodes: a.switchNodes, Token: a.cfg.OperatorToken})
}

// switchNodes lists the nodes: the first is the switch at Addr (all its
// connections), the others their one connection each.
func (a *App) switchNodes() []switchapi.Node {
	sw := a.cfg.Switch
	if sw == nil {
		return []switchapi.Node{}
	}
	var sums []trunk.NodeSummary
	if a.TrunkSync != nil {
		sums = a.TrunkSync.Nodes()
	}
	owners := a.leaseOwners()
	out := make([]switchapi.Node, 0, len(sums))
	for i, s := range sums {
		n := switchapi.Node{Name: s.Name, Gateways: s.Gateways, GatewaysByState: s.ByState}
		var err error
		if i == 0 {
			n.ESLAddress, n.Connected, err = sw.Addr, a.SwitchUp(), a.switchErr()
		} else {
			c, cn := a.NodeConns[i-1], a.CallNodes[i]
			n.ESLAddress, n.Connected, err = sw.Nodes[i].ESL, c.Connected() && cn.Events.Connected() && cn.Pool.Connected(), c.LastError()
		}
		n.LeaseOwner = owners[a.CallNodes[i].leaseName()]
		if !n.Connected {
			n.LastError = connectError(err, sw.Password)
		}
		out = append(out, n)
	}
	return out
}

// connectError words a connection's last error for the operator, without
// the password.
func connectError(err error, password string) string {
	switch {
	case err == nil:
		return "not connected yet"
	case errors.Is(err, esl.ErrAuth):
		return "FreeSWITCH refused FS_ESL_PASSWORD"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "…")
	}
	return msg
}

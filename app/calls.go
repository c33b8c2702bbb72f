package app

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/route"
)

// CallNode is one FreeSWITCH node's call control and the connections it
// runs on: its events (channel events, and the first node's gateway events
// too) and a pool for its commands.
type CallNode struct {
	Name   string // FS_NODES name ("" for the one node at FS_ESL_ADDR)
	Events *esl.Client
	Pool   *esl.Pool
	Calls  *sip.Calls
	// leases are the replica's (nil: this process controls the node's
	// calls, no Replica).
	leases *cluster.Leases
}

// controlled tells whether this process controls the node's calls: always
// without Replica, else while it holds the node's lease (its last renewal
// less than the TTL ago).
func (n *CallNode) controlled() bool { return n.leases == nil || n.leases.Holds(n.leaseName()) }

// up tells whether the node's call connections are up and this process
// controls its calls.
func (n *CallNode) up() bool {
	return n.controlled() && n.Events != nil && n.Events.Connected() && n.Pool.Connected()
}

// handle hands one of the node's events to its call control, when this
// process controls the node's calls.
func (n *CallNode) handle(e *esl.Event) {
	if n.controlled() {
		n.Calls.HandleEvent(e)
	}
}

// reconnected tells the node's live calls to check their channels (an
// event or command connection came back).
func (n *CallNode) reconnected(context.Context) {
	if n.Calls != nil {
		n.Calls.SwitchReconnected()
	}
}

// connectCallNodes makes each node's call connections (not yet started):
// the first node's are Events and Pool; every further node gets an event
// connection of its own, whose channel events go to its call control, and
// a command pool (FS_CALL_CONNECTIONS connections).
func (a *App) connectCallNodes(opts func(more ...esl.Option) []esl.Option) {
	sw := a.cfg.Switch
	first := &CallNode{Events: a.Events, Pool: a.Pool}
	if len(sw.Nodes) > 0 {
		first.Name = sw.Nodes[0].Name
	}
	a.CallNodes = []*CallNode{first}
	size := max(sw.CallConnections, 1)
	for _, n := range sw.Nodes[min(1, len(sw.Nodes)):] {
		cn := &CallNode{Name: n.Name}
		log := a.log.With("component", "esl", "node", n.Name)
		cn.Events = esl.New(n.ESL, sw.Password, opts(esl.WithOnConnect(cn.reconnected),
			esl.WithLogger(log.With("conn", "events")), esl.WithEvents(sip.CallEventNames...))...)
		cn.Events.OnEvent(cn.handle)
		cn.Pool = esl.NewPool(size, n.ESL, sw.Password, opts(esl.WithOnConnect(cn.reconnected), esl.WithLogger(log.With("conn", "calls")))...)
		a.CallNodes = append(a.CallNodes, cn)
	}
}

// buildCalls makes each node's call control and the one over them all.
// The nodes share the registry of live calls (which tells the node of a
// call, and what a drain waits for) and the organizations' limits (a limit
// holds over every node).
func (a *App) buildCalls() {
	a.frameSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sipbridge_bridge_frame_seconds",
		Help:    "Time from a caller frame's arrival on the mod_audio_stream websocket to its media message written to the assistant.",
		Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 10e-3},
	})
	co := sip.CallsOptions{
		Options:      call.Options{AddressPolicy: a.cfg.AddressPolicy, Now: a.cfg.Now, Registry: call.NewRegistry()},
		StreamWSBase: a.cfg.StreamWSBase, RecordingsDir: a.cfg.RecordingsDir, PlaybackDir: a.cfg.PlaybackDir, WelcomeAudioDir: a.cfg.WelcomeAudioDir,
		LegTimeout: a.cfg.LegTimeout, DefaultLimits: a.cfg.CallDefaults, Hosted: a.Hosted,
		OnFrame: func(d time.Duration) { a.frameSeconds.Observe(d.Seconds()) },
	}
	if a.cfg.Switch == nil {
		a.CallNodes = []*CallNode{{}}
	} else {
		co.Profile = a.cfg.Switch.Profile
		co.Routing = route.Options{ImplicitACL: a.TrunkSync.ResolvedACL, Front: a.cfg.Switch.Front, Changes: a.Changes}
	}
	var registry *call.Registry
	nodes := make([]cluster.Node, 0, len(a.CallNodes))
	for _, cn := range a.CallNodes {
		o := co
		o.Node, o.Log = cn.Name, a.log.With("component", "calls")
		if cn.Name != "" {
			o.Log = o.Log.With("node", cn.Name)
		}
		if a.cfg.CallsOptions != nil {
			a.cfg.CallsOptions(&o)
		}
		if registry == nil { // the first node's, after the hook: its clock and defaults
			registry, co.Limits = o.Registry, call.NewLimits(a.Store, o.DefaultLimits, o.Now)
		} else if o.Registry != registry {
			panic("app: CallsOptions gave the nodes different registries")
		}
		o.Limits = co.Limits
		var sw interface {
			API(ctx context.Context, cmd string) (string, error)
			BGAPI(ctx context.Context, cmd string) (string, error)
			SendMsg(ctx context.Context, uuid string, msg esl.SendMsg) error
		} = noSwitch{}
		up := func() bool { return false }
		if cn.Pool != nil {
			sw, up = cn.Pool, cn.up
		}
		cn.Calls = sip.NewCalls(a.Store, sw, o)
		nodes = append(nodes, cluster.Node{Name: cn.Name, Calls: cn.Calls, Up: up})
	}
	a.Calls = cluster.New(registry, nodes...)
}

// noSwitch is call control's switch when none is configured.
type noSwitch struct{}

var errNoSwitch = errors.New("no FreeSWITCH event socket is configured")

func (noSwitch) API(context.Context, string) (string, error)        { return "", errNoSwitch }
func (noSwitch) BGAPI(context.Context, string) (string, error)      { return "", errNoSwitch }
func (noSwitch) SendMsg(context.Context, string, esl.SendMsg) error { return errNoSwitch }

// startCallNodes starts the further nodes' call connections (the first
// node's are Events and Pool, started with the others) and the replica's
// leases.
func (a *App) startCallNodes() error {
	if a.Leases != nil {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.Leases.Run(a.ctx) }()
	}
	for _, cn := range a.CallNodes[1:] {
		if err := cn.Pool.Start(a.ctx); err != nil {
			return err
		}
		if err := cn.Events.Start(a.ctx); err != nil {
			return err
		}
	}
	return nil
}

// closeCallNodes closes the further nodes' call connections.
func (a *App) closeCallNodes() {
	for _, cn := range a.CallNodes[1:] {
		cn.Events.Close()
		cn.Pool.Close()
	}
}

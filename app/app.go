// Package app builds the whole bridge (store-backed services, the Event
// Socket connections, call control, the hosted-provider path, numbers, SMS
// and the HTTP server) from a Config, routes the switch's events, and runs
// and stops it. `sipbridge serve` and the tests that need a server use it,
// so the wiring exists once.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/console"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/nodes"
	"github.com/sipbridge/sipbridge/freeswitch/xmlcurl"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/route"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web"
	"github.com/sipbridge/sipbridge/web/httpapi"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

// Config is what the bridge is built from. Store is required; the zero
// value of every other field is a working default.
type Config struct {
	// Store is the opened, migrated database.
	Store *db.Store
	// Log receives every component's log (nil: discarded).
	Log *slog.Logger
	// Switch is FreeSWITCH's Event Socket (nil: no switch; SIP call
	// control answers that the switch is not configured, the hosted path
	// works).
	Switch *Switch

	PublicBaseURL string // how providers reach sipbridge (PUBLIC_BASE_URL)
	StreamWSBase  string // how mod_audio_stream reaches sipbridge (STREAM_WS_BASE)
	RecordingsDir string // created if missing (RECORDINGS_DIR)
	PlaybackDir   string // playback pipes; empty: file playback (PLAYBACK_MODE=files)
	// WelcomeAudioDir holds the assistants' welcome_audio files, read by
	// FreeSWITCH at the same path (WELCOME_AUDIO_DIR).
	WelcomeAudioDir string

	// Provider holds the provider API base URLs, timeout, retry policy,
	// HTTP client and clock.
	Provider provider.Config
	// Env is the environment level of provider credential resolution.
	Env provider.Credentials
	// EnvTrunk is the environment-level SIP trunk (SIP_GATEWAY…).
	EnvTrunk trunk.Env
	// SMSRates is the send rate per provider in messages/second.
	SMSRates map[string]float64
	// AddressPolicy checks tenants' URLs and trunks (nil: netpolicy.Default()).
	AddressPolicy *netpolicy.Policy
	// ACL bounds trunks' allowed_addresses (nil: trunkapi.DefaultACLPolicy).
	ACL *trunkapi.ACLPolicy
	// CallDefaults are the platform's call limits.
	CallDefaults call.PlatformLimits
	// LegTimeout is the ring time per trunk (zero: call control's default).
	LegTimeout time.Duration
	// SyncInterval is the trunk reconcile tick (zero: the sync's default).
	SyncInterval time.Duration
	// ManualSync leaves the trunk reconcile loop unstarted: passes run only
	// when asked (tests that need a gateway absent until they load it).
	ManualSync bool
	// DrainTimeout bounds how long SIGTERM waits for live calls.
	DrainTimeout time.Duration
	// Now is call control's and the hosted path's clock (nil: time.Now).
	Now func() time.Time

	// The hooks below adjust a service's options after the defaults above
	// are applied (tests: short timeouts, fake provider clients, a clock).
	CallsOptions   func(*sip.CallsOptions)
	HostedOptions  func(*hosted.Options)
	NumbersOptions func(*numbers.Options)
	SMSOptions     func(*sms.Options)
	SyncOptions    func(*trunk.SyncOptions)
	ConsoleOptions func(*console.Deps)

	// Replica, when set, shares the nodes with other replicas on the same
	// database through leases (REPLICA_ADDR; nil: this process controls
	// every node's calls).
	Replica *Replica

	// OperatorToken is the platform operator's bearer token
	// (OPERATOR_TOKEN): GET /api/v1/switch/nodes answers to it only
	// (empty: that route is off).
	OperatorToken string
}

// Switch is how sipbridge reaches FreeSWITCH.
type Switch struct {
	Addr     string // Event Socket host:port (FS_ESL_ADDR)
	Password string // FS_ESL_PASSWORD
	// CallConnections is how many connections carry call control's
	// commands (FS_CALL_CONNECTIONS; zero: 1).
	CallConnections int
	GenDir          string // generated gateway and ACL files (FS_GEN_DIR)
	Profile         string // the sofia profile of the gateways (FS_PROFILE)
	// XMLCurl serves sofia.conf and acl.conf to mod_xml_curl at POST
	// /fs/xml (nil: off, the route answers 404). Its Profile and Log are
	// filled in.
	XMLCurl *xmlcurl.Options
	// Front is the trusted SIP front (SIP_PROXIES, SIP_PROXY_SOURCE_HEADER):
	// its addresses get an ACL list the profile applies, and a call from
	// one is identified by the carrier address in its header.
	Front route.Front
	// Options are added to every connection's (tests: a quick reconnect
	// backoff or heartbeat).
	Options []esl.Option
	// Reminder is how often the warning that FreeSWITCH is not connected
	// repeats while it stays so (zero: DefaultSwitchReminder).
	Reminder time.Duration
	// Nodes are the FreeSWITCH nodes (FS_NODES), the first the one at
	// Addr: every trunk is applied to each, each trunk's state is kept and
	// shown per node, and each node has call control of its own. None: the
	// one node at Addr.
	Nodes []nodes.Node
}

// App is the built bridge. Its services are exported for the tests that
// drive them directly; New builds them, Start connects and starts the
// background work, Run serves HTTP until stopped, Close releases it all.
type App struct {
	Store *db.Store
	// Changes is the database's change feed, which the API's read caches
	// check (package db/changes).
	Changes   *changes.Feed
	Trunks    *trunk.Service
	TrunkSync *trunk.Sync // nil without a switch
	Numbers   *numbers.Service
	BYOC      *numbers.BYOC
	SMS       *sms.Service
	Hosted    *hosted.Path
	// Calls is SIP call control over every node (CallNodes).
	Calls *cluster.Calls
	// CallNodes are each node's call control, the first node's on Events
	// and Pool, the others' on connections of their own.
	CallNodes []*CallNode
	// Leases are this replica's node leases (nil without Config.Replica).
	Leases  *cluster.Leases
	Web     *web.Server
	Console *console.Console
	// Live is the hosted path's registry of live calls (the SIP path
	// keeps its own, its CallsOptions' call.Options.Registry, which its
	// nodes share: each path drains and counts its own calls).
	Live *call.Registry
	// Cmd carries trunk sync's commands and Events the switch's events;
	// Pool carries call control's commands (nil without a switch).
	Cmd, Events *esl.Client
	Pool        *esl.Pool
	// NodeConns are the further nodes' connections (Switch.Nodes[1:]),
	// each carrying trunk sync's commands and the node's gateway events.
	NodeConns []*esl.Client

	cfg          Config
	log          *slog.Logger
	ctx          context.Context
	stop         context.CancelFunc
	wg           sync.WaitGroup
	frameSeconds prometheus.Histogram
	// vonageReplays remembers the Vonage JWTs already used, by the voice
	// and the SMS webhooks alike: a token is good for one of them, once.
	vonageReplays *provider.ReplayCache
	// signer signs this replica's requests to the others and checks
	// theirs; presence tells them it runs (nil without Config.Replica).
	signer     *cluster.Signer
	presence   *cluster.Presence
	forwarder  *forwarder // asks the other replicas about their live calls
	closeCalls sync.Once
	adopted    chan struct{} // Adopted
	closeAll   sync.Once
}

// New builds the bridge; nothing connects or runs until Start. ctx bounds
// the background work Start begins.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Store == nil {
		return nil, errors.New("app: Config.Store is required")
	}
	if cfg.Replica != nil && cfg.Store.Keys == nil {
		return nil, errors.New("app: Config.Replica needs the store's keys (SECRET_KEY): the replicas sign their requests to each other with a key derived from them")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{Store: cfg.Store, cfg: cfg, log: log, vonageReplays: &provider.ReplayCache{}, Live: call.NewRegistry(),
		adopted: make(chan struct{})}
	a.ctx, a.stop = context.WithCancel(ctx)
	feed, err := changes.Register(cfg.Store.DB)
	if err != nil { // the API reads the database every time, as without a feed
		log.Warn("no change feed: the API's read caches are off", "err", err)
	}
	a.Changes = feed
	a.Trunks = trunk.New(cfg.Store, log).WithEnvironment(cfg.EnvTrunk)
	if n, err := a.Trunks.ApplyEnvironment(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("environment SIP trunk settings applied", "trunks", n)
	}
	if p := cfg.AddressPolicy; p != nil && p.AllowLoopback {
		log.Warn("ALLOW_LOOPBACK_ADDRESSES=true: tenants' stream_url, sms_webhook_url and trunks may reach loopback, link-local and cloud metadata addresses; for development only")
	}
	if cfg.RecordingsDir != "" {
		if err := os.MkdirAll(cfg.RecordingsDir, 0o750); err != nil {
			return nil, fmt.Errorf("RECORDINGS_DIR: %w", err)
		}
	}
	if cfg.Switch != nil {
		a.connectSwitch()
	}
	a.buildHosted()
	a.buildCalls()
	a.buildNumbers()
	a.buildSMS()
	a.buildWeb()
	a.buildReplicaAPI()
	a.buildLeases()
	// The feed's listener is a database connection, as the store's pool
	// is: it runs from here so that the API's caches work without Start.
	a.wg.Add(1)
	go func() { defer a.wg.Done(); feed.Run(a.ctx, log) }()
	return a, nil
}

// connectSwitch makes the Event Socket connections (not yet started) and
// trunk sync. Two connections besides call control's pool: commands (api
// runs synchronously on its connection and would hold back events) and
// events.
func (a *App) connectSwitch() {
	sw := a.cfg.Switch
	// The connections log their attempts at debug level; watchSwitch tells
	// the operator about them as one.
	opts := func(more ...esl.Option) []esl.Option {
		return append(append(more, esl.WithQuietReconnect()), sw.Options...)
	}
	// After every (re)connect: re-read FreeSWITCH's state and reconcile.
	resync := func(context.Context) { a.TrunkSync.Connected(); a.TrunkSync.Kick() }
	// Live calls check their channels after a reconnect of the events (their
	// events may have been lost meanwhile) or of call control's commands
	// (the check runs on them: the last of the two to come back succeeds).
	recheck := func(context.Context) {
		if len(a.CallNodes) > 0 {
			a.CallNodes[0].Calls.SwitchReconnected()
		}
	}
	a.Cmd = esl.New(sw.Addr, sw.Password, opts(esl.WithOnConnect(resync), esl.WithLogger(a.log.With("component", "esl", "conn", "commands")))...)
	// The events' connection carries the first node's gateway events too:
	// when it drops, that node's states are no longer known (several nodes).
	a.Events = esl.New(sw.Addr, sw.Password, opts(esl.WithOnConnect(func(ctx context.Context) {
		resync(ctx)
		recheck(ctx)
		a.nodeLostWhenDone(ctx, "")
	}),
		esl.WithLogger(a.log.With("component", "esl", "conn", "events")),
		esl.WithEvents(trunk.GatewayEventSubclasses...), esl.WithEvents(sip.CallEventNames...))...)
	// Call control's commands go over a small pool of their own: FreeSWITCH
	// runs one connection's api commands one after the other.
	n := sw.CallConnections
	if n <= 0 {
		n = 1
	}
	a.Pool = esl.NewPool(n, sw.Addr, sw.Password, opts(esl.WithOnConnect(recheck), esl.WithLogger(a.log.With("component", "esl", "conn", "calls")))...)
	so := trunk.SyncOptions{GenDir: sw.GenDir, Profile: sw.Profile, AddressPolicy: a.cfg.AddressPolicy, Proxies: sw.Front.CIDRs(),
		Log: a.log.With("component", "trunk_sync")}
	so.Nodes = a.connectNodes(opts)
	a.connectCallNodes(opts)
	if a.cfg.SyncOptions != nil {
		a.cfg.SyncOptions(&so)
	}
	a.TrunkSync = trunk.NewSync(a.Store, a.Cmd, so)
	a.Trunks.WithSync(a.TrunkSync)
	a.Events.OnEvent(a.route)
}

// route hands a switch event to its owner: gateway events to trunk sync,
// the rest to call control.
func (a *App) route(e *esl.Event) {
	if ge, ok := trunk.GatewayEventFrom(e); ok {
		a.TrunkSync.HandleGatewayEvent(a.ctx, ge)
		return
	}
	a.CallNodes[0].handle(e)
}

func (a *App) buildHosted() {
	ho := hosted.Options{
		Options: call.Options{AddressPolicy: a.cfg.AddressPolicy, Log: a.log.With("component", "hosted_calls"), Now: a.cfg.Now,
			Registry: a.Live},
		PublicBaseURL: a.cfg.PublicBaseURL, ProviderConfig: a.cfg.Provider, Env: a.cfg.Env, VonageReplays: a.vonageReplays,
	}
	if a.cfg.Replica != nil {
		ho.Replica = a.cfg.Replica.Name
	}
	if a.cfg.HostedOptions != nil {
		a.cfg.HostedOptions(&ho)
	}
	a.Hosted = hosted.New(a.Store, ho)
}

func (a *App) buildNumbers() {
	no := numbers.Options{PublicBaseURL: a.cfg.PublicBaseURL, ProviderConfig: a.cfg.Provider, Env: a.cfg.Env,
		Log: a.log.With("component", "numbers")}
	if a.cfg.NumbersOptions != nil {
		a.cfg.NumbersOptions(&no)
	}
	a.Numbers = numbers.New(a.Store, a.Trunks, no)
	a.BYOC = numbers.NewBYOC(a.Store, a.Trunks)
}

func (a *App) buildSMS() {
	so := sms.Options{PublicBaseURL: a.cfg.PublicBaseURL, ProviderConfig: a.cfg.Provider, Env: a.cfg.Env,
		Rates: a.cfg.SMSRates, AddressPolicy: a.cfg.AddressPolicy, Log: a.log.With("component", "sms"), VonageReplays: a.vonageReplays}
	if a.cfg.SMSOptions != nil {
		a.cfg.SMSOptions(&so)
	}
	a.SMS = sms.New(a.Store, call.CheckDestination, so)
}

func (a *App) buildWeb() {
	var ready []httpapi.ReadyCheck
	if a.cfg.Switch != nil {
		ready = append(ready, httpapi.ReadyCheck{Name: "freeswitch", Check: func(context.Context) error {
			if !a.SwitchUp() {
				return errors.New(switchDown(a.cfg.Switch.Addr, a.switchErr()))
			}
			return nil
		}})
	}
	a.Web = web.New(web.Deps{Store: a.Store, Log: a.log, Trunks: a.Trunks, Numbers: a.Numbers, BYOC: a.BYOC, Calls: a.Calls, SMS: a.SMS,
		Hosted: hostedCalls{a.Hosted, a}, AddressPolicy: a.cfg.AddressPolicy, LegTimeout: a.cfg.LegTimeout, Ready: ready,
		ACL: a.cfg.ACL, CallDefaults: a.cfg.CallDefaults, WelcomeAudioDir: a.cfg.WelcomeAudioDir, Changes: a.Changes,
		Nodes: a.nodeStates()})
	live := func(path string, n func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sipbridge_calls_live", Help: "Live calls on this instance (SIP and provider-hosted).",
			ConstLabels: prometheus.Labels{"path": path}}, func() float64 { return float64(n()) })
	}
	a.Web.Registry().MustRegister(a.frameSeconds, live("sip", a.Calls.Active), live("hosted", a.Hosted.Active))
	a.buildConsole()
	a.buildNodesAPI()
	if sw := a.cfg.Switch; sw != nil && sw.XMLCurl != nil {
		o := *sw.XMLCurl
		o.Profile, o.Log = a.TrunkSync.Profile(), a.log.With("component", "fs_xml")
		a.Web.Echo().POST("/fs/xml", echo.WrapHandler(xmlcurl.New(a.TrunkSync, o)))
	}
}

// Command sipbridge is the control plane of a FreeSWITCH SIP bridge for AI
// voice assistants. main only wires configuration, dependencies and signals;
// the work lives in the packages of the layout (see ../shared/DESIGN.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipbridge/sipbridge/controller"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/web"
)

const usage = `usage: sipbridge <command> [flags]

commands:
  serve                        run the API server (migrates the database first)
  migrate                      apply database migrations and exit
  admin create-key --org NAME  create an API key (and the organization if missing);
                               the key is printed alone on the last line, shown once
  admin rotate-secrets         re-encrypt every stored secret with the current SECRET_KEY
  render --org NAME [--show-secrets]
                               print the gateway and ACL files the organization's trunks produce
  diag                         connect to FreeSWITCH (FS_ESL_ADDR) and report status, mod_audio_stream,
                               every sipbridge gateway with its state, and drift from the database

configuration comes from the environment: see README.md
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sipbridge: configuration: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	var cmdErr error
	switch args[0] {
	case "serve":
		cmdErr = serve(ctx, cfg, log)
	case "migrate":
		cmdErr = migrateCmd(ctx, cfg, log, stdout)
	case "admin":
		cmdErr = admin(ctx, cfg, log, args[1:], stdout)
	case "render":
		cmdErr = renderCmd(ctx, cfg, log, args[1:], stdout)
	case "diag":
		cmdErr = diagCmd(ctx, cfg, log, stdout)
	default:
		fmt.Fprintf(stderr, "sipbridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if cmdErr != nil {
		var ue usageError
		if errors.As(cmdErr, &ue) {
			fmt.Fprintf(stderr, "sipbridge: %v\n\n%s", cmdErr, usage)
			return 2
		}
		log.Error("command failed", "command", args[0], "err", cmdErr)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// openStore opens and migrates the database and returns the store.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (*db.Store, func(), error) {
	if err := cfg.loadKeys(log); err != nil {
		return nil, nil, err
	}
	g, err := db.Open(cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	closeDB := func() {
		if sqlDB, err := g.DB(); err == nil {
			sqlDB.Close()
		}
	}
	applied, err := db.Migrate(ctx, g)
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "applied", applied, "version", db.SchemaVersion())
	}
	return db.NewStore(g, cfg.Keys, log), closeDB, nil
}

func migrateCmd(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	_, closeDB, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	fmt.Fprintf(stdout, "schema at version %d\n", db.SchemaVersion())
	return nil
}

func admin(ctx context.Context, cfg *Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"admin needs a subcommand: create-key or rotate-secrets"}
	}
	switch args[0] {
	case "create-key":
		fs := flag.NewFlagSet("create-key", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		org := fs.String("org", "", "organization name (created if missing)")
		name := fs.String("name", "", "a label for the key")
		if err := fs.Parse(args[1:]); err != nil {
			return usageError{"admin create-key: " + err.Error()}
		}
		if *org == "" {
			return usageError{"admin create-key needs --org NAME"}
		}
		store, closeDB, err := openStore(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer closeDB()
		o, created, err := store.EnsureOrg(ctx, *org)
		if err != nil {
			return err
		}
		key, rec, err := store.CreateAPIKey(ctx, o.ID, *name)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(stdout, "created organization %q (id %d)\n", o.Name, o.ID)
		}
		fmt.Fprintf(stdout, "API key %s… for organization %q (id %d); it is shown only once:\n", rec.Prefix, o.Name, o.ID)
		fmt.Fprintln(stdout, key)
		return nil
	case "rotate-secrets":
		store, closeDB, err := openStore(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer closeDB()
		n, err := store.RotateSecrets(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "re-encrypted %d secret value(s) with key %s\n", n, cfg.Keys.CurrentKeyID())
		return nil
	}
	return usageError{fmt.Sprintf("unknown admin subcommand %q", args[0])}
}

// serve runs the API until SIGTERM (drain, then stop) or SIGINT (stop).
func serve(parent context.Context, cfg *Config, log *slog.Logger) error {
	// SIGTERM drains live calls (new ones are refused with 503) up to
	// DRAIN_TIMEOUT, then stops; SIGINT, or a second signal, stops at once.
	ctx, stop := context.WithCancel(parent)
	defer stop()
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigc)
	store, closeDB, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()

	trunks := controller.NewTrunks(store, log).WithEnvironment(controller.EnvTrunk{
		Gateway: cfg.SIPGateway, Username: cfg.SIPUsername, Password: cfg.SIPPassword})
	if n, err := trunks.ApplyEnvironment(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("environment SIP trunk settings applied", "trunks", n)
	}
	policy := cfg.AddressPolicy(log.With("component", "address_policy"))
	if policy.AllowLoopback {
		log.Warn("ALLOW_LOOPBACK_ADDRESSES=true: tenants' stream_url, sms_webhook_url and trunks may reach loopback, link-local and cloud metadata addresses; for development only")
	}

	// Two Event Socket connections: commands (api runs synchronously on its
	// connection and would hold back events) and events.
	var trunkSync *controller.TrunkSync
	var calls *controller.Calls
	// After every (re)connect: re-read FreeSWITCH's state and reconcile.
	resync := esl.WithOnConnect(func(context.Context) { trunkSync.Connected(); trunkSync.Kick() })
	cmdConn := esl.New(cfg.FSESLAddr, cfg.FSESLPassword, resync, esl.WithLogger(log.With("esl", "commands")))
	evConn := esl.New(cfg.FSESLAddr, cfg.FSESLPassword, resync, esl.WithLogger(log.With("esl", "events")),
		esl.WithEvents(controller.GatewayEventSubclasses...), esl.WithEvents(controller.CallEventNames...))
	trunkSync = controller.NewTrunkSync(store, cmdConn, controller.SyncOptions{
		GenDir: cfg.FSGenDir, Profile: cfg.FSProfile, AddressPolicy: policy, Log: log.With("component", "trunk_sync"),
	})
	if err := os.MkdirAll(cfg.RecordingsDir, 0o750); err != nil {
		return fmt.Errorf("RECORDINGS_DIR: %w", err)
	}
	hosted := controller.NewHosted(store, controller.HostedOptions{
		PublicBaseURL: cfg.PublicBaseURL, ProviderConfig: cfg.Provider, Env: cfg.EnvCredentials(),
		AddressPolicy: policy, Log: log.With("component", "hosted_calls"),
	})
	defer hosted.Close()
	frameSeconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sipbridge_bridge_frame_seconds",
		Help:    "Time from a caller frame's arrival on the mod_audio_stream websocket to its media message written to the assistant.",
		Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 10e-3},
	})
	// Call control's commands go over a small pool of their own: FreeSWITCH
	// runs one connection's api commands one after the other.
	callConns := esl.NewPool(cfg.FSCallConnections, cfg.FSESLAddr, cfg.FSESLPassword, esl.WithLogger(log.With("esl", "calls")))
	playbackDir := ""
	if cfg.PlaybackMode == "pipe" {
		playbackDir = cfg.PlaybackDir
	}
	calls = controller.NewCalls(store, callConns, controller.CallsOptions{
		StreamWSBase: cfg.StreamWSBase, RecordingsDir: cfg.RecordingsDir, Profile: cfg.FSProfile, PlaybackDir: playbackDir,
		LegTimeout: cfg.LegTimeout, DefaultLimits: cfg.CallDefaults, TrunkACL: trunkSync.ResolvedACL,
		Hosted: hosted, AddressPolicy: policy, Log: log.With("component", "calls"),
		OnFrame: func(d time.Duration) { frameSeconds.Observe(d.Seconds()) },
	})
	if n, err := store.CloseOrphanCalls(ctx, "sipbridge restarted while the call was live"); err != nil {
		log.Warn("closing calls left open by a previous run", "err", err)
	} else if n > 0 {
		log.Warn("closed calls left open by a previous run", "calls", n)
	}
	evConn.OnEvent(func(e *esl.Event) {
		if ge, ok := controller.GatewayEventFrom(e); ok {
			trunkSync.HandleGatewayEvent(ctx, ge)
			return
		}
		calls.HandleEvent(e)
	})
	if err := callConns.Start(ctx); err != nil {
		return err
	}
	defer callConns.Close()
	for _, c := range []*esl.Client{cmdConn, evConn} {
		if err := c.Start(ctx); err != nil {
			return err
		}
		defer c.Close()
	}
	switchUp := func() bool { return cmdConn.Connected() && evConn.Connected() && callConns.Connected() }
	go func() {
		if err := trunkSync.Run(ctx, controller.RunOptions{Changed: trunks.ChangedC(), Every: cfg.SyncInterval, Ready: switchUp}); err != nil {
			log.Error("trunk sync stopped", "err", err)
		}
	}()

	trunks.WithSync(trunkSync)
	numbers := controller.NewNumbers(store, trunks, controller.NumbersOptions{
		PublicBaseURL: cfg.PublicBaseURL, ProviderConfig: cfg.Provider, Env: cfg.EnvCredentials(), Log: log.With("component", "numbers"),
	})
	sms := controller.NewSMS(store, numbers, controller.SMSOptions{
		PublicBaseURL: cfg.PublicBaseURL, ProviderConfig: cfg.Provider, Env: cfg.EnvCredentials(), Rates: cfg.SMSRates,
		AddressPolicy: policy, Log: log.With("component", "sms"),
	})
	smsDone := make(chan struct{})
	go func() { sms.Run(ctx); close(smsDone) }() // the SMS queue and forwarding workers
	defer func() { stop(); <-smsDone }()         // a message being sent is finished and recorded
	srv := web.New(web.Deps{Store: store, Log: log, Trunks: trunks, Numbers: numbers, Calls: calls, SMS: sms, Hosted: hosted, AddressPolicy: policy, LegTimeout: cfg.LegTimeout, Ready: []web.ReadyCheck{{
		Name: "freeswitch",
		Check: func(context.Context) error {
			if !switchUp() {
				return fmt.Errorf("event socket %s not connected", cfg.FSESLAddr)
			}
			return nil
		},
	}}, ACL: &cfg.ACL, CallDefaults: cfg.CallDefaults})

	srv.Registry().MustRegister(frameSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sipbridge_calls_live", Help: "Live calls on this instance (SIP and provider-hosted).",
			ConstLabels: prometheus.Labels{"path": "sip"}}, func() float64 { return float64(calls.Active()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sipbridge_calls_live", Help: "Live calls on this instance (SIP and provider-hosted).",
			ConstLabels: prometheus.Labels{"path": "hosted"}}, func() float64 { return float64(hosted.Active()) }),
	)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	log.Info("sipbridge serving", "addr", ln.Addr().String(), "embedded_db", cfg.embedded())

	select {
	case err := <-errc:
		calls.Close()
		return err
	case <-ctx.Done():
	case sig := <-sigc:
		if sig == syscall.SIGTERM {
			log.Info("SIGTERM: draining live calls", "calls", calls.Active(), "timeout", cfg.DrainTimeout.String())
			dctx, dcancel := context.WithTimeout(ctx, cfg.DrainTimeout)
			go func() {
				select {
				case <-sigc:
					log.Info("second signal: stopping now")
					dcancel()
				case <-dctx.Done():
				}
			}()
			if err := calls.Drain(dctx); err != nil {
				log.Warn("drain ended with calls still live: hanging them up", "calls", calls.Active())
			}
			if err := hosted.Drain(dctx); err != nil {
				log.Warn("drain ended with hosted calls still live: closing them", "calls", hosted.Active())
			}
			dcancel()
		}
	}
	log.Info("shutting down")
	calls.Close()
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Command sipbridge is the control plane of a FreeSWITCH SIP bridge for AI
// voice assistants. main reads configuration and signals and runs commands;
// serve hands the bridge's wiring to package app, and the work lives in the
// packages of the layout (see ../shared/DESIGN.md).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/db"
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
  render-dispatcher [--set N]  print Kamailio's dispatcher.list for the FreeSWITCH nodes (FS_NODES,
                               else FS_ESL_ADDR's host at SIP port 5080), dispatcher set N (default 1)
  xml-curl-credentials NODE    print a node's own /fs/xml credentials (user:password) for its
                               xml_curl.conf: NODE of FS_NODES, derived from FS_XML_CURL_PASSWORD
  echo-assistant [--addr HOST:PORT] [--delay 500ms]
                               serve the echo test assistant (default 127.0.0.1:8765): a caller on a
                               number whose assistant streams to it hears themselves 500 ms later,
                               and each key they press read back as its tone

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
	if args[0] == "echo-assistant" { // needs none of the bridge's configuration
		return echoAssistant(ctx, args[1:], getenv, stderr)
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
	case "render-dispatcher":
		cmdErr = renderDispatcher(cfg, args[1:], stdout)
	case "xml-curl-credentials":
		cmdErr = xmlCurlCredentials(cfg, args[1:], stdout)
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

// echoAssistant runs the echo-assistant command with a logger of its own
// (LOG_LEVEL only).
func echoAssistant(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(getenv("LOG_LEVEL"), "info"))); err != nil {
		fmt.Fprintf(stderr, "sipbridge: configuration: LOG_LEVEL: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	err := echoAssistantCmd(ctx, log, args)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sipbridge: %v\n\n%s", err, usage)
		return 2
	case err != nil:
		log.Error("command failed", "command", "echo-assistant", "err", err)
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
func serve(ctx context.Context, cfg *Config, log *slog.Logger) error {
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigc)
	store, closeDB, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	if cfg.PprofAddr != "" {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		if err := servePprof(pctx, cfg.PprofAddr, log); err != nil {
			return err
		}
	}
	a, err := app.New(ctx, cfg.appConfig(store, log))
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Start(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	log.Info("sipbridge serving", "addr", ln.Addr().String(), "embedded_db", cfg.embedded())
	return a.Run(ctx, ln, sigc)
}

// Command loadapi measures the throughput and latency of a running
// sipbridge's API. It starts nothing: it targets the server at -url with the
// API key in -key (or SIPBRIDGE_API_KEY). With -trunks N it first makes the
// key's organization hold at least N SIP trunks, created through the API.
// Then, for each path in turn, -c keep-alive clients send GET requests for
// -d and it prints requests per second, p50, p90, p99 and errors.
//
//	sipbridge admin create-key --org load   # prints the key on its last line
//	go run ./cmd/loadapi -url http://127.0.0.1:8080 -key sb_… -trunks 100 -c 16 -d 10s
//
// scripts/load-api.sh runs the whole measurement: a fresh PostgreSQL
// database, a sipbridge binary, the key, the trunks and this command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type options struct {
	url     string
	key     string
	trunks  int
	clients int
	dur     time.Duration
	warmup  time.Duration
	paths   []string
}

const defaultPaths = "/api/v1/sip-trunks,/api/v1/sip-trunks?limit=100,/api/v1/organization,/api/v1/sip-trunks/{trunk},/healthz"

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var paths string
	fs := flag.NewFlagSet("loadapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the running sipbridge")
	fs.StringVar(&o.key, "key", getenv("SIPBRIDGE_API_KEY"), "API key (default $SIPBRIDGE_API_KEY)")
	fs.IntVar(&o.trunks, "trunks", 0, "make the organization hold at least this many SIP trunks first (0: seed nothing)")
	fs.IntVar(&o.clients, "c", 16, "concurrent keep-alive clients")
	fs.DurationVar(&o.dur, "d", 10*time.Second, "measured duration per path")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each path's measurement")
	fs.StringVar(&paths, "paths", defaultPaths, "comma-separated paths to GET; {trunk} is one of the organization's trunk ids")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.url = strings.TrimRight(o.url, "/")
	for _, p := range strings.Split(paths, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.paths = append(o.paths, p)
		}
	}
	switch {
	case o.key == "":
		return o, errors.New("-key (or SIPBRIDGE_API_KEY) is required")
	case o.clients < 1 || o.dur <= 0 || o.warmup < 0 || o.trunks < 0:
		return o, errors.New("-c must be ≥ 1, -d > 0, -warmup ≥ 0 and -trunks ≥ 0")
	case len(o.paths) == 0:
		return o, errors.New("-paths names no path")
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadapi: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl := newClient(o.url, o.key, o.clients)
	trunkID, err := seed(ctx, cl, o.trunks, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadapi: seeding: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d clients, %s per path (after %s of warm-up), %s\n", o.clients, o.dur, o.warmup, o.url)
	fmt.Fprintf(stdout, "%-36s %10s %9s %9s %9s %8s %8s\n", "path", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "KB/resp")
	failed := false
	for _, p := range o.paths {
		if strings.Contains(p, "{trunk}") {
			if trunkID == "" {
				fmt.Fprintf(stderr, "loadapi: %s: the organization has no trunk\n", p)
				failed = true
				continue
			}
			p = strings.ReplaceAll(p, "{trunk}", trunkID)
		}
		if o.warmup > 0 {
			hammer(ctx, cl, p, o.clients, o.warmup)
		}
		r := hammer(ctx, cl, p, o.clients, o.dur)
		fmt.Fprintln(stdout, r.line(displayPath(p, trunkID)))
		failed = failed || r.errors > 0
		if ctx.Err() != nil {
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

// displayPath names a trunk's path by its pattern, so lines compare across runs.
func displayPath(p, trunkID string) string {
	if trunkID != "" {
		return strings.ReplaceAll(p, trunkID, "{trunk}")
	}
	return p
}

// client sends the API's requests over a pool of keep-alive connections.
type client struct {
	base string
	key  string
	http *http.Client
}

func newClient(base, key string, conns int) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &client{base: base, key: key, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/cluster"

	"github.com/sipbridge/sipbridge/freeswitch/nodes"
	"github.com/sipbridge/sipbridge/route"
)

// frontConfig is the SIP side of scaling out: the trusted SIP fronts
// (Kamailio) and the FreeSWITCH node list.
type frontConfig struct {
	// Front is SIP_PROXIES (comma-separated addresses or CIDRs; empty:
	// none) and SIP_PROXY_SOURCE_HEADER (default X-Sipbridge-Source).
	Front route.Front
	// Nodes is FS_NODES (name=host:esl_port[;sip=host:port],…), else one
	// node "fs1" at FS_ESL_ADDR.
	Nodes []nodes.Node
	// PerNode: FS_NODES is set. Every trunk is applied to each node, the
	// first node's Event Socket is FS_ESL_ADDR's (call control's), and the
	// trunks' state is shown per node.
	PerNode bool
	// OperatorToken is OPERATOR_TOKEN: the bearer token of the operator's
	// routes (GET /api/v1/switch/nodes; empty: off).
	OperatorToken string
	// ReplicaName is REPLICA_NAME (default <hostname>-<pid>-<random>) and
	// ReplicaAddr REPLICA_ADDR, this replica's base URL for the others:
	// set, the replicas on one database share the nodes through leases.
	ReplicaName, ReplicaAddr string
	// ReplicaNodes is REPLICA_NODES: the nodes this replica takes from its
	// start (empty: all).
	ReplicaNodes []string
	// ReplicaAllowFrom is REPLICA_ALLOW_FROM: the addresses besides
	// loopback and private ones the other replicas' requests may come from.
	ReplicaAllowFrom []netip.Prefix
	// LeaseTTL is REPLICA_LEASE_TTL (default 10s, at least 1s): how long a
	// node's lease lasts; its holder renews it every third of that, at most
	// every 3 s (cluster.NewLeases).
	LeaseTTL time.Duration
}

func (c *Config) loadFront(get envGetter) []error {
	var errs []error
	var err error
	if c.SIPFront.Front, err = route.ParseFront(get("SIP_PROXIES", ""), get("SIP_PROXY_SOURCE_HEADER", route.DefaultSourceHeader)); err != nil {
		errs = append(errs, err)
	}
	fsNodes := get("FS_NODES", "")
	if c.SIPFront.Nodes, err = nodes.FromEnv(fsNodes, c.FSESLAddr); err != nil {
		errs = append(errs, err)
	} else if strings.TrimSpace(fsNodes) != "" {
		c.SIPFront.PerNode, c.FSESLAddr = true, c.SIPFront.Nodes[0].ESL
	}
	c.SIPFront.OperatorToken = get("OPERATOR_TOKEN", "")
	if err := c.SIPFront.loadReplica(get); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// loadReplica reads REPLICA_NAME, REPLICA_ADDR, REPLICA_ALLOW_FROM, REPLICA_NODES and
// REPLICA_LEASE_TTL.
func (f *frontConfig) loadReplica(get envGetter) error {
	ttl, err := time.ParseDuration(strings.TrimSpace(get("REPLICA_LEASE_TTL", cluster.DefaultLeaseTTL.String())))
	if err != nil || ttl < time.Second {
		return fmt.Errorf("REPLICA_LEASE_TTL: %q: want a duration of at least 1s, e.g. 10s (how long a node's lease lasts)",
			get("REPLICA_LEASE_TTL", ""))
	}
	f.LeaseTTL = ttl
	// The default name is unique even where every container shares the
	// host's name and runs as pid 1: two replicas under one name would
	// renew each other's leases and close each other's calls.
	host, _ := os.Hostname()
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	f.ReplicaName = strings.TrimSpace(get("REPLICA_NAME", fmt.Sprintf("%s-%d-%x", host, os.Getpid(), suffix)))
	f.ReplicaAddr = strings.TrimSpace(get("REPLICA_ADDR", ""))
	if f.ReplicaAddr == "" {
		return nil
	}
	u, err := url.Parse(f.ReplicaAddr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("REPLICA_ADDR: %q: want this replica's base URL as the others reach it, e.g. http://10.0.0.5:8080", f.ReplicaAddr)
	}
	if f.ReplicaName == "" {
		return errors.New("REPLICA_NAME: empty: want a name unique among the replicas")
	}
	allow, errs := parsePrefixes("REPLICA_ALLOW_FROM", get("REPLICA_ALLOW_FROM", ""))
	if len(errs) > 0 {
		return errs[0]
	}
	f.ReplicaAllowFrom = allow
	for _, n := range strings.Split(get("REPLICA_NODES", ""), ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.ContainsFunc(f.Nodes, func(x nodes.Node) bool { return x.Name == n }) {
			return fmt.Errorf("REPLICA_NODES: %q is not a node of FS_NODES", n)
		}
		f.ReplicaNodes = append(f.ReplicaNodes, n)
	}
	return nil
}

// replica is the bridge's Replica (nil without REPLICA_ADDR: this
// process controls every node's calls).
func (f frontConfig) replica() *app.Replica {
	if f.ReplicaAddr == "" {
		return nil
	}
	return &app.Replica{Name: f.ReplicaName, Addr: f.ReplicaAddr, Nodes: f.ReplicaNodes, TTL: f.LeaseTTL, AllowFrom: f.ReplicaAllowFrom}
}

// switchNodes are the nodes the bridge applies trunks to per node (nil:
// the one node at FS_ESL_ADDR).
func (f frontConfig) switchNodes() []nodes.Node {
	if !f.PerNode {
		return nil
	}
	return f.Nodes
}

// renderDispatcher prints Kamailio's dispatcher.list for the nodes.
func renderDispatcher(cfg *Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("render-dispatcher", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	set := fs.Int("set", 1, "dispatcher set id")
	if err := fs.Parse(args); err != nil {
		return usageError{"render-dispatcher: " + err.Error()}
	}
	if *set < 0 || fs.NArg() > 0 {
		return usageError{"render-dispatcher: want [--set N] with N ≥ 0"}
	}
	_, err := fmt.Fprint(stdout, nodes.DispatcherList(cfg.SIPFront.Nodes, *set))
	return err
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// SIP_PROXIES, SIP_PROXY_SOURCE_HEADER and FS_NODES: off / one node by
// default, parsed when set, refused with the variable named.
func TestLoadConfigFront(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := LoadConfig(env())
	if err != nil || len(c.SIPFront.Front.Proxies) != 0 || c.SIPFront.Front.Header != "X-Sipbridge-Source" ||
		len(c.SIPFront.Nodes) != 1 || c.SIPFront.Nodes[0].SIP != "127.0.0.1:5080" {
		t.Fatalf("default: %+v %v", c.SIPFront, err)
	}
	c, err = LoadConfig(env("SIP_PROXIES", "10.0.0.5", "SIP_PROXY_SOURCE_HEADER", "X-Carrier-IP"))
	if err != nil || strings.Join(c.SIPFront.Front.CIDRs(), ",") != "10.0.0.5/32" || c.SIPFront.Front.Header != "X-Carrier-IP" {
		t.Fatalf("set: %+v %v", c.SIPFront, err)
	}
	if c.appConfig(nil, slog.New(slog.DiscardHandler)).Switch.Front.Header != "X-Carrier-IP" {
		t.Fatal("the front does not reach the bridge")
	}
	for _, bad := range [][]string{
		{"SIP_PROXIES", "kamailio.example"},
		{"SIP_PROXY_SOURCE_HEADER", "Via"},
		{"FS_NODES", "fs1=10.0.0.1"},
		{"FS_ESL_ADDR", "nowhere"},
		{"REPLICA_ADDR", "10.0.0.5:8080"},
		{"REPLICA_ADDR", "http://10.0.0.5:8080/api"},
		{"REPLICA_NODES", "fs9", "REPLICA_ADDR", "http://10.0.0.5:8080"},
		{"REPLICA_LEASE_TTL", "500ms", "REPLICA_ADDR", "http://10.0.0.5:8080"},
		{"REPLICA_LEASE_TTL", "ten", "REPLICA_ADDR", "http://10.0.0.5:8080"},
	} {
		if _, err := LoadConfig(env(bad...)); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: err %v, want one naming %s", bad, err, bad[0])
		}
	}
}

// FS_NODES set: the bridge applies trunks to each node, the first one's
// Event Socket replacing FS_ESL_ADDR; unset, one node as before.
// OPERATOR_TOKEN reaches the bridge.
func TestFSNodesReachTheBridge(t *testing.T) {
	env := map[string]string{"FS_ESL_ADDR": "10.0.0.9:8021"}
	get := func(k string) string { return env[k] }
	c, err := LoadConfig(get)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := c.appConfig(nil, slog.New(slog.DiscardHandler)); cfg.Switch.Nodes != nil || cfg.Switch.Addr != "10.0.0.9:8021" || cfg.OperatorToken != "" {
		t.Fatalf("without FS_NODES: nodes %v, addr %s, token %q", cfg.Switch.Nodes, cfg.Switch.Addr, cfg.OperatorToken)
	} else if cfg.Replica != nil {
		t.Fatalf("without REPLICA_ADDR: replica %+v, want none (no leases)", cfg.Replica)
	}
	env["REPLICA_ADDR"] = "http://10.0.0.5:8080"
	if c, err = LoadConfig(get); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if r := c.appConfig(nil, slog.New(slog.DiscardHandler)).Replica; r == nil || r.Addr != "http://10.0.0.5:8080" || !strings.HasPrefix(r.Name, fmt.Sprintf("%s-%d-", host, os.Getpid())) {
		t.Fatalf("REPLICA_ADDR set: replica %+v, want its address and the default name", r)
	}
	env["REPLICA_NAME"], env["REPLICA_NODES"] = "sb-a", " fs1 "
	if c, err = LoadConfig(get); err != nil {
		t.Fatal(err)
	}
	if r := c.appConfig(nil, slog.New(slog.DiscardHandler)).Replica; r.Name != "sb-a" || !slices.Equal(r.Nodes, []string{"fs1"}) {
		t.Fatalf("REPLICA_NAME and REPLICA_NODES: %+v", r)
	} else if r.TTL != 10*time.Second {
		t.Fatalf("default lease TTL %v, want 10s", r.TTL)
	}
	env["REPLICA_LEASE_TTL"] = "3s"
	if c, err = LoadConfig(get); err != nil {
		t.Fatal(err)
	}
	if r := c.appConfig(nil, slog.New(slog.DiscardHandler)).Replica; r.TTL != 3*time.Second {
		t.Fatalf("REPLICA_LEASE_TTL=3s: TTL %v", r.TTL)
	}
	env["REPLICA_ALLOW_FROM"] = "203.0.113.0/28, 198.51.100.7"
	if c, err = LoadConfig(get); err != nil {
		t.Fatal(err)
	}
	if r := c.appConfig(nil, slog.New(slog.DiscardHandler)).Replica; len(r.AllowFrom) != 2 || r.AllowFrom[1].String() != "198.51.100.7/32" {
		t.Fatalf("REPLICA_ALLOW_FROM: %v", r.AllowFrom)
	}
	env["REPLICA_ALLOW_FROM"] = "10.0.0.0/8,nope"
	if _, err = LoadConfig(get); err == nil || !strings.Contains(err.Error(), `REPLICA_ALLOW_FROM: "nope"`) {
		t.Fatalf("a bad REPLICA_ALLOW_FROM: %v, want it named", err)
	}
	delete(env, "REPLICA_ALLOW_FROM")
	delete(env, "REPLICA_LEASE_TTL")
	delete(env, "REPLICA_ADDR")
	env["FS_NODES"], env["OPERATOR_TOKEN"] = "a=10.0.0.11:8021,b=10.0.0.12:8021", "op"
	if c, err = LoadConfig(get); err != nil {
		t.Fatal(err)
	}
	cfg := c.appConfig(nil, slog.New(slog.DiscardHandler))
	if len(cfg.Switch.Nodes) != 2 || cfg.Switch.Nodes[1].Name != "b" || cfg.Switch.Addr != "10.0.0.11:8021" || cfg.OperatorToken != "op" {
		t.Fatalf("with FS_NODES: nodes %v, addr %s, token %q", cfg.Switch.Nodes, cfg.Switch.Addr, cfg.OperatorToken)
	}
}

func TestRenderDispatcherCommand(t *testing.T) {
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		return map[string]string{"FS_NODES": "fs1=10.0.0.11:8021,fs2=10.0.0.12:8021;sip=10.0.0.12:5060"}[k]
	}
	if code := run(context.Background(), []string{"render-dispatcher", "--set", "2"}, getenv, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "\n2 sip:10.0.0.11:5080 0 2 duid=fs1\n2 sip:10.0.0.12:5060 0 1 duid=fs2\n") {
		t.Fatalf("output:\n%s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"render-dispatcher", "extra"}, getenv, &out, &errb); code != 2 {
		t.Fatalf("extra argument: exit %d", code)
	}
}

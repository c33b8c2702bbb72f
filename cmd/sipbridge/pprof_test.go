package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// PPROF_ADDR is off by default and, when set, only a loopback address.
func TestPprofAddr(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := LoadConfig(env(nil))
	if err != nil || c.PprofAddr != "" {
		t.Fatalf("default: %q %v", c.PprofAddr, err)
	}
	for _, ok := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:0", "127.0.0.2:6060"} {
		if c, err := LoadConfig(env(map[string]string{"PPROF_ADDR": ok})); err != nil || c.PprofAddr != ok {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{":6060", "0.0.0.0:6060", "10.0.0.1:6060", "[::]:6060", "example.com:6060", "127.0.0.1"} {
		if _, err := LoadConfig(env(map[string]string{"PPROF_ADDR": bad})); err == nil || !strings.Contains(err.Error(), "PPROF_ADDR") {
			t.Errorf("%s: error %v should name PPROF_ADDR", bad, err)
		}
	}
}

func TestServePprof(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := servePprof(ctx, addr, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("cmdline: %d %q", res.StatusCode, body)
	}
}

package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// validPprofAddr checks PPROF_ADDR: host:port on a loopback address
// (127.0.0.0/8, ::1 or localhost), never a public one: the profiles show
// the process's memory and code paths.
func validPprofAddr(addr string) error {
	bad := errors.New("PPROF_ADDR must be a loopback host:port, e.g. 127.0.0.1:6060 (empty: no profiling endpoint)")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return bad
	}
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return bad
	}
	return nil
}

// servePprof serves net/http/pprof's handlers on addr (loopback only,
// checked by LoadConfig) until ctx ends. It returns once listening.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return errors.New("PPROF_ADDR resolved to a non-loopback address")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("profiling endpoint serving", "component", "pprof", "addr", ln.Addr().String())
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/sipbridge/sipbridge/assistant/echo"
)

// echoAssistantCmd serves the echo test assistant until ctx ends or
// SIGINT/SIGTERM: point an assistant's stream_url at it and call its
// number to hear yourself 500 ms later, and each key you press as its tone.
func echoAssistantCmd(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("echo-assistant", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:8765", "listen address (host:port)")
	delay := fs.Duration("delay", echo.DefaultDelay, "how long after the caller speaks they hear it")
	if err := fs.Parse(args); err != nil {
		return usageError{"echo-assistant: " + err.Error()}
	}
	if fs.NArg() > 0 || *delay <= 0 || *delay > time.Minute {
		return usageError{"echo-assistant takes [--addr HOST:PORT] [--delay DURATION] (0 < delay ≤ 1m)"}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := echo.New(echo.Options{Delay: *delay, Log: log.With("component", "echo_assistant")})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("echo assistant listening: set an assistant's stream_url to the stream_url shown",
		"addr", ln.Addr().String(), "stream_url", "ws://"+ln.Addr().String()+"/stream", "delay_ms", delay.Milliseconds())
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = hs.Close()
	}
	srv.Close() // the streams' websockets
	srv.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

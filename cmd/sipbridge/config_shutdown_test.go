package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/call/sip"
)

// SHUTDOWN_CALLS: hangup by default, handoff reaches call control, any
// other value refused with the variable named.
func TestLoadConfigShutdownCalls(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "SHUTDOWN_CALLS" {
				return v
			}
			return ""
		}
	}
	c, err := LoadConfig(env(""))
	if err != nil || c.ShutdownCalls != sip.ShutdownHangup {
		t.Fatalf("default: %q %v, want hangup", c.ShutdownCalls, err)
	}
	c, err = LoadConfig(env("handoff"))
	if err != nil {
		t.Fatal(err)
	}
	var co sip.CallsOptions
	c.appConfig(nil, slog.New(slog.DiscardHandler)).CallsOptions(&co)
	if co.ShutdownCalls != sip.ShutdownHandoff {
		t.Fatalf("call control's ShutdownCalls %q, want handoff", co.ShutdownCalls)
	}
	if _, err := LoadConfig(env("leave")); err == nil || !strings.Contains(err.Error(), "SHUTDOWN_CALLS") {
		t.Fatalf("SHUTDOWN_CALLS=leave: err %v, want one naming the variable", err)
	}
}

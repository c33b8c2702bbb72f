package call

import (
	"log/slog"
	"testing"
	"time"
)

func TestOptionsWithDefaults(t *testing.T) {
	o := Options{}.WithDefaults()
	if o.AssistantConnectTimeout != 1500*time.Millisecond || o.Registry == nil || o.Log == nil || o.Now == nil {
		t.Fatalf("defaults %+v", o)
	}
	reg, log := NewRegistry(), slog.New(slog.DiscardHandler)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	set := Options{AssistantConnectTimeout: time.Second, Registry: reg, Log: log, Now: func() time.Time { return at }}.WithDefaults()
	if set.AssistantConnectTimeout != time.Second || set.Registry != reg || set.Log != log || !set.Now().Equal(at) {
		t.Fatalf("set options changed: %+v", set)
	}
	if neg := (Options{AssistantConnectTimeout: -time.Second}).WithDefaults(); neg.AssistantConnectTimeout != 1500*time.Millisecond {
		t.Fatalf("a negative timeout stays %v", neg.AssistantConnectTimeout)
	}
}

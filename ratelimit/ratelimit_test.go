package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestRateLimitTokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	r := NewLimits(map[string]float64{"twilio": 2}, 10, func() time.Time { return now })
	// Burst of 2, then one token every 500 ms.
	for i := 0; i < 2; i++ {
		if d := r.Take("twilio"); d != 0 {
			t.Fatalf("take %d waited %v", i, d)
		}
	}
	if d := r.Take("twilio"); d != 500*time.Millisecond {
		t.Fatalf("third take: wait %v, want 500ms", d)
	}
	now = now.Add(500 * time.Millisecond)
	if d := r.Take("twilio"); d != 0 {
		t.Fatalf("after refill: %v", d)
	}
	// Providers have their own buckets; the default rate applies to others.
	for i := 0; i < 10; i++ {
		if d := r.Take("telnyx"); d != 0 {
			t.Fatalf("telnyx take %d waited %v", i, d)
		}
	}
	if d := r.Take("telnyx"); d != 100*time.Millisecond {
		t.Fatalf("telnyx 11th: %v", d)
	}
	// Wait gives up with the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Wait(ctx, "telnyx"); err == nil {
		t.Fatal("wait ignored a cancelled context")
	}
}

func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 9: 512 * time.Second, 10: 10 * time.Minute, 40: 10 * time.Minute} {
		if got := Backoff(2*time.Second, 10*time.Minute, attempt); got != want {
			t.Errorf("attempt %d: %v, want %v", attempt, got, want)
		}
	}
}

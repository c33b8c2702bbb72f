package controller

import (
	"context"
	"math"
	"sync"
	"time"
)

// rateLimits is one token bucket per provider.
type rateLimits struct {
	mu      sync.Mutex
	now     func() time.Time
	def     float64
	rates   map[string]float64
	buckets map[string]*bucket
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate float64, now time.Time) *bucket {
	burst := math.Max(1, rate)
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// take removes one token, or tells how long to wait for one.
func (b *bucket) take(now time.Time) time.Duration {
	b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

func newRateLimits(rates map[string]float64, def float64, now func() time.Time) *rateLimits {
	return &rateLimits{now: now, def: def, rates: rates, buckets: map[string]*bucket{}}
}

// take removes one token from the provider's bucket, or tells how long to
// wait for one.
func (r *rateLimits) take(name string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[name]
	now := r.now()
	if b == nil {
		rate := r.def
		if v, ok := r.rates[name]; ok && v > 0 {
			rate = v
		}
		b = newBucket(rate, now)
		r.buckets[name] = b
	}
	return b.take(now)
}

// wait blocks until the provider's bucket yields a token or ctx ends.
func (r *rateLimits) wait(ctx context.Context, name string) error {
	for {
		d := r.take(name)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

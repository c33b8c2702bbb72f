// Package ratelimit paces outbound work: the token bucket of SMS sends per
// provider (Limits) and of new calls per organization (Bucket, through the
// call limits), and the exponential backoff of retries (SMS sends and
// forwards, call status callbacks).
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Bucket is a token bucket: rate tokens a second, at most burst. It is not
// safe for concurrent use; its owner locks.
type Bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// NewBucket returns a full bucket of rate tokens a second (burst: one
// second's worth, at least 1).
func NewBucket(rate float64, now time.Time) *Bucket {
	burst := math.Max(1, rate)
	return &Bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// Rate is the bucket's refill rate in tokens a second.
func (b *Bucket) Rate() float64 { return b.rate }

// Take removes one token, or tells how long to wait for one.
func (b *Bucket) Take(now time.Time) time.Duration {
	b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// Limits is one token bucket per name (a provider). It is safe for
// concurrent use.
type Limits struct {
	mu      sync.Mutex
	now     func() time.Time
	def     float64
	rates   map[string]float64
	buckets map[string]*Bucket
}

// NewLimits returns the buckets of rates (tokens a second per name); a name
// without a positive rate gets def.
func NewLimits(rates map[string]float64, def float64, now func() time.Time) *Limits {
	return &Limits{now: now, def: def, rates: rates, buckets: map[string]*Bucket{}}
}

// Take removes one token from the name's bucket, or tells how long to wait
// for one.
func (r *Limits) Take(name string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[name]
	now := r.now()
	if b == nil {
		rate := r.def
		if v, ok := r.rates[name]; ok && v > 0 {
			rate = v
		}
		b = NewBucket(rate, now)
		r.buckets[name] = b
	}
	return b.Take(now)
}

// Wait blocks until the name's bucket yields a token or ctx ends.
func (r *Limits) Wait(ctx context.Context, name string) error {
	for {
		d := r.Take(name)
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

// Backoff is the delay before retry number attempt (from 1):
// base·2^(attempt-1), capped at max.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/sipbridge/sipbridge/db"
)

// Safety limit errors (API: 429 for the first two, 403 for the country).
var (
	ErrTooManyCalls      = errors.New("the organization's concurrent call limit is reached")
	ErrCallRateExceeded  = errors.New("the organization's calls-per-second limit is exceeded")
	ErrCountryNotAllowed = errors.New("the destination country is not in the organization's outbound allow-list")
)

// rateLimiter is a token bucket per organization (calls per second).
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[int64]*bucket
}

// allow takes one token from the organization's bucket (capacity: one
// second's worth, at least 1); a changed rate starts a new bucket.
func (r *rateLimiter) allow(org int64, perSecond float64, now time.Time) bool {
	if perSecond <= 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buckets == nil {
		r.buckets = map[int64]*bucket{}
	}
	b := r.buckets[org]
	if b == nil || b.rate != perSecond {
		b = newBucket(perSecond, now)
		r.buckets[org] = b
	}
	return b.take(now) == 0
}

// destinationCountry returns the ISO country of an E.164 number.
func destinationCountry(e164 string) string {
	pn, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(pn)
}

// checkLimits applies the organization's limits to a new outbound call (or
// bridged transfer) to `to`. It is the one place these limits are decided.
func (c *Calls) checkLimits(ctx context.Context, org *db.Organization, to string) error {
	if err := checkCountry(org, to); err != nil {
		return err
	}
	l := org.Settings.CallLimits
	if l.MaxConcurrentCalls > 0 {
		n, err := c.store.CountLiveCalls(ctx, org.ID)
		if err != nil {
			return err
		}
		if n >= int64(l.MaxConcurrentCalls) {
			return fmt.Errorf("%w: %d live, limit %d", ErrTooManyCalls, n, l.MaxConcurrentCalls)
		}
	}
	if !c.rate.allow(org.ID, l.CallsPerSecond, c.opts.Now()) {
		return fmt.Errorf("%w: limit %g/s", ErrCallRateExceeded, l.CallsPerSecond)
	}
	return nil
}

// checkCountry applies the outbound country allow-list (also to bridged
// transfers, which stay one call).
func checkCountry(org *db.Organization, to string) error {
	allowed := org.Settings.CallLimits.OutboundCountries
	if len(allowed) == 0 {
		allowed = []string{org.DefaultCountry}
	}
	if slices.Contains(allowed, "*") {
		return nil
	}
	cc := destinationCountry(to)
	if cc == "" || !slices.Contains(allowed, cc) {
		return fmt.Errorf("%w: %s is in %q, allowed: %v", ErrCountryNotAllowed, to, cc, allowed)
	}
	return nil
}

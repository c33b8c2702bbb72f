package call

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/ratelimit"
)

// Costly destination classes, refused for calls, transfers and messages
// unless the organization lists them in call_limits.allow_number_types.
const (
	NumberPremiumRate = "premium_rate" // phonenumbers PREMIUM_RATE (+1 900, +44 9…, +979 …)
	NumberSharedCost  = "shared_cost"  // phonenumbers SHARED_COST (+34 901, …)
	NumberSatellite   = "satellite"    // international networks: +870, +881, +882, +883
)

// NumberTypes are the values call_limits.allow_number_types accepts.
var NumberTypes = []string{NumberPremiumRate, NumberSharedCost, NumberSatellite}

// satelliteCodes are the country calling codes of satellite and
// international networks (Inmarsat, GMSS, International Networks), billed
// far above any country.
var satelliteCodes = []int32{870, 881, 882, 883}

// NumberClass returns the costly class of an E.164 number (NumberTypes), or
// "" for an ordinary one.
func NumberClass(e164 string) string {
	pn, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	if slices.Contains(satelliteCodes, pn.GetCountryCode()) {
		return NumberSatellite
	}
	switch phonenumbers.GetNumberType(pn) {
	case phonenumbers.PREMIUM_RATE:
		return NumberPremiumRate
	case phonenumbers.SHARED_COST:
		return NumberSharedCost
	}
	return ""
}

// PlatformLimits are the limits of an organization whose own are 0.
type PlatformLimits struct {
	MaxConcurrentCalls int     // 0: no cap
	CallsPerSecond     float64 // 0: no cap
}

// Effective returns the organization's limits with the platform's in place
// of its zeros.
func (p PlatformLimits) Effective(l db.CallLimits) (maxConcurrent int, perSecond float64) {
	maxConcurrent, perSecond = l.MaxConcurrentCalls, l.CallsPerSecond
	if maxConcurrent <= 0 {
		maxConcurrent = p.MaxConcurrentCalls
	}
	if perSecond <= 0 {
		perSecond = p.CallsPerSecond
	}
	return maxConcurrent, perSecond
}

// rateLimiter is a token bucket per organization (calls per second).
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[int64]*ratelimit.Bucket
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
		r.buckets = map[int64]*ratelimit.Bucket{}
	}
	b := r.buckets[org]
	if b == nil || b.Rate() != perSecond {
		b = ratelimit.NewBucket(perSecond, now)
		r.buckets[org] = b
	}
	return b.Take(now) == 0
}

// destinationCountry returns the ISO country of an E.164 number.
func destinationCountry(e164 string) string {
	pn, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(pn)
}

// LiveCounter counts an organization's live calls (the store).
type LiveCounter interface {
	CountLiveCalls(ctx context.Context, orgID int64) (int64, error)
}

// Limits applies the organization's limits to new calls: destination
// rules, concurrent calls, calls per second; and serializes, per
// organization, the limit checks with the creation of the call record
// (Admit), so parallel requests cannot all pass a concurrency limit.
type Limits struct {
	counter  LiveCounter
	defaults PlatformLimits
	now      func() time.Time
	rate     rateLimiter

	mu     sync.Mutex
	admits map[int64]*sync.Mutex
}

// NewLimits returns the limits of a path; now is its clock (nil: time.Now).
func NewLimits(counter LiveCounter, defaults PlatformLimits, now func() time.Time) *Limits {
	if now == nil {
		now = time.Now
	}
	return &Limits{counter: counter, defaults: defaults, now: now, admits: map[int64]*sync.Mutex{}}
}

// Check applies the organization's limits to a new outbound call (or
// bridged transfer) to `to`. It is the one place these limits are decided.
func (l *Limits) Check(ctx context.Context, org *db.Organization, to string) error {
	if err := CheckDestination(org, to); err != nil {
		return err
	}
	maxConcurrent, perSecond := l.defaults.Effective(org.Settings.CallLimits)
	if maxConcurrent > 0 {
		n, err := l.counter.CountLiveCalls(ctx, org.ID)
		if err != nil {
			return err
		}
		if n >= int64(maxConcurrent) {
			return fmt.Errorf("%w: %d live, limit %d", ErrTooManyCalls, n, maxConcurrent)
		}
	}
	if !l.rate.allow(org.ID, perSecond, l.now()) {
		return fmt.Errorf("%w: limit %g/s", ErrCallRateExceeded, perSecond)
	}
	return nil
}

// Admit takes the organization's admission lock; the returned release
// may be called more than once.
func (l *Limits) Admit(org int64) (release func()) {
	l.mu.Lock()
	m := l.admits[org]
	if m == nil {
		m = &sync.Mutex{}
		l.admits[org] = m
	}
	l.mu.Unlock()
	m.Lock()
	var once sync.Once
	return func() { once.Do(m.Unlock) }
}

// CheckDestination applies the organization's destination rules to a call,
// a transfer to a number or a message to `to`: the costly number types
// (premium rate, shared cost, satellite) unless allowed, then the outbound
// country allow-list. It is the one place these rules are decided.
func CheckDestination(org *db.Organization, to string) error {
	if class := NumberClass(to); class != "" && !slices.Contains(org.Settings.CallLimits.AllowNumberTypes, class) {
		return fmt.Errorf("%w: %s is a %s number; the organization allows it by adding %q to call_limits.allow_number_types",
			ErrNumberTypeNotAllowed, to, strings.ReplaceAll(class, "_", "-"), class)
	}
	return checkCountry(org, to)
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
	if cc == phonenumbers.UNKNOWN_REGION || cc == "001" {
		return fmt.Errorf("%w: %s is a non-geographic (international network) number: only outbound_countries [\"*\"] reaches it, allowed: %v", ErrCountryNotAllowed, to, allowed)
	}
	if cc == "" || !slices.Contains(allowed, cc) {
		return fmt.Errorf("%w: %s is in %q, allowed: %v", ErrCountryNotAllowed, to, cc, allowed)
	}
	return nil
}

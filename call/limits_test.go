package call

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

func TestNumberClass(t *testing.T) {
	for number, want := range map[string]string{
		"+19005550123":     NumberPremiumRate, // US 1-900
		"+449098765432":    NumberPremiumRate, // UK 09
		"+33892123456":     NumberPremiumRate, // FR 0892
		"+979123456789":    NumberPremiumRate, // international premium rate
		"+34901123456":     NumberSharedCost,  // ES 901
		"+8821612345678":   NumberSatellite,
		"+882123456789":    NumberSatellite, // not a valid number: its code decides
		"+881612345678":    NumberSatellite,
		"+883510012345678": NumberSatellite,
		"+870772123456":    NumberSatellite,
		"+14165550199":     "",
		"+442079460018":    "",
		"+4930123456":      "",
		"+18005550199":     "", // toll free costs the callee
		"not a number":     "",
	} {
		if got := NumberClass(number); got != want {
			t.Errorf("%s: %q, want %q", number, got, want)
		}
	}
}

func TestCheckDestination(t *testing.T) {
	org := func(countries, types []string) *db.Organization {
		return &db.Organization{DefaultCountry: "US", Settings: db.OrgSettings{CallLimits: db.CallLimits{OutboundCountries: countries, AllowNumberTypes: types}}}
	}
	for _, c := range []struct {
		org  *db.Organization
		to   string
		want error
	}{
		{org(nil, nil), "+12125550123", nil},
		{org(nil, nil), "+14165550199", ErrCountryNotAllowed},
		{org(nil, nil), "+19005550123", ErrNumberTypeNotAllowed},
		{org([]string{"*"}, nil), "+19005550123", ErrNumberTypeNotAllowed},
		{org([]string{"*"}, nil), "+8821612345678", ErrNumberTypeNotAllowed},
		{org(nil, []string{NumberPremiumRate}), "+19005550123", nil},
		{org(nil, []string{NumberSatellite}), "+8821612345678", ErrCountryNotAllowed},
		{org([]string{"*"}, []string{NumberSatellite}), "+8821612345678", nil},
		{org([]string{"US", "ES"}, []string{NumberPremiumRate}), "+34901123456", ErrNumberTypeNotAllowed},
		{org([]string{"US", "ES"}, []string{NumberSharedCost}), "+34901123456", nil},
	} {
		if err := CheckDestination(c.org, c.to); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("%s with %+v: %v, want %v", c.to, c.org.Settings.CallLimits, err, c.want)
		}
	}
}

func TestPlatformLimitsEffective(t *testing.T) {
	p := PlatformLimits{MaxConcurrentCalls: 10, CallsPerSecond: 5}
	if m, r := p.Effective(db.CallLimits{}); m != 10 || r != 5 {
		t.Fatalf("unset: %d %g", m, r)
	}
	if m, r := p.Effective(db.CallLimits{MaxConcurrentCalls: 50, CallsPerSecond: 0.5}); m != 50 || r != 0.5 {
		t.Fatalf("set: %d %g", m, r)
	}
	if m, r := (PlatformLimits{}).Effective(db.CallLimits{}); m != 0 || r != 0 {
		t.Fatalf("no platform cap: %d %g", m, r)
	}
}

type liveCount int64

func (n liveCount) CountLiveCalls(context.Context, int64) (int64, error) { return int64(n), nil }

func TestLimitsCheck(t *testing.T) {
	org := &db.Organization{ID: 7, DefaultCountry: "US"}
	now := time.Unix(1000, 0)
	l := NewLimits(liveCount(2), PlatformLimits{MaxConcurrentCalls: 2, CallsPerSecond: 1}, func() time.Time { return now })
	if err := l.Check(context.Background(), org, "+12125550123"); !errors.Is(err, ErrTooManyCalls) {
		t.Fatalf("2 live of 2: %v", err)
	}
	l = NewLimits(liveCount(1), PlatformLimits{MaxConcurrentCalls: 2, CallsPerSecond: 1}, func() time.Time { return now })
	if err := l.Check(context.Background(), org, "+12125550123"); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := l.Check(context.Background(), org, "+12125550123"); !errors.Is(err, ErrCallRateExceeded) {
		t.Fatalf("second call in the same second: %v", err)
	}
	now = now.Add(time.Second)
	if err := l.Check(context.Background(), org, "+12125550123"); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	if err := l.Check(context.Background(), org, "+14165550199"); !errors.Is(err, ErrCountryNotAllowed) {
		t.Fatalf("Canada from a US organization: %v", err)
	}
}

func TestLimitsAdmitSerializesAnOrganization(t *testing.T) {
	l := NewLimits(liveCount(0), PlatformLimits{}, nil)
	release := l.Admit(1)
	other := l.Admit(2) // another organization is not held up
	other()
	got := make(chan struct{})
	go func() { l.Admit(1)(); close(got) }()
	select {
	case <-got:
		t.Fatal("a second admission of the same organization did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	release() // twice is harmless
	<-got
}

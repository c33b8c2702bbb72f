package controller

import (
	"errors"
	"testing"

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

package main

import (
	"net/netip"
	"strings"
	"testing"
)

// The multi-tenant safety settings: MAX_ACL_PREFIX, SHARED_CARRIER_CIDRS,
// DEFAULT_MAX_CONCURRENT_CALLS and DEFAULT_CALLS_PER_SECOND.
func TestLoadConfigTenantSafety(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := LoadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.ACL.MaxPrefixV4 != 16 || c.ACL.MaxPrefixV6 != 32 || len(c.ACL.SharedCarrier) != 0 ||
		c.CallDefaults.MaxConcurrentCalls != 10 || c.CallDefaults.CallsPerSecond != 5 {
		t.Fatalf("defaults: ACL %+v, call limits %+v", c.ACL, c.CallDefaults)
	}
	c, err = LoadConfig(env("MAX_ACL_PREFIX", "v4=8,v6=24", "SHARED_CARRIER_CIDRS", "203.0.113.0/24,2001:db8::/48",
		"DEFAULT_MAX_CONCURRENT_CALLS", "0", "DEFAULT_CALLS_PER_SECOND", "2.5"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ACL.MaxPrefixV4 != 8 || c.ACL.MaxPrefixV6 != 24 || len(c.ACL.SharedCarrier) != 2 || c.ACL.SharedCarrier[0] != netip.MustParsePrefix("203.0.113.0/24") ||
		c.CallDefaults.MaxConcurrentCalls != 0 || c.CallDefaults.CallsPerSecond != 2.5 {
		t.Fatalf("set: ACL %+v, call limits %+v", c.ACL, c.CallDefaults)
	}
	for _, bad := range [][]string{
		{"MAX_ACL_PREFIX", "v4=40"},
		{"MAX_ACL_PREFIX", "wide"},
		{"SHARED_CARRIER_CIDRS", "203.0.113.1/24"},
		{"DEFAULT_MAX_CONCURRENT_CALLS", "-1"},
		{"DEFAULT_MAX_CONCURRENT_CALLS", "ten"},
		{"DEFAULT_CALLS_PER_SECOND", "NaN"},
		{"DEFAULT_CALLS_PER_SECOND", "-2"},
	} {
		if _, err := LoadConfig(env(bad...)); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: error %v should name %s", bad, err, bad[0])
		}
	}
}

// SIP_GATEWAY is host[:port]; SIP_USERNAME and SIP_PASSWORD one line each.
func TestLoadConfigEnvironmentTrunk(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	c, err := LoadConfig(env("SIP_GATEWAY", "sip.zadarma.com", "SIP_USERNAME", "15551234567", "SIP_PASSWORD", "your_sip_password"))
	if err != nil || c.SIPGateway != "sip.zadarma.com" || c.SIPUsername != "15551234567" {
		t.Fatalf("documented values: %+v %v", c, err)
	}
	for _, bad := range [][]string{
		{"SIP_GATEWAY", "sip.zadarma.com;transport=sctp"},
		{"SIP_GATEWAY", "user@sip.zadarma.com"},
		{"SIP_GATEWAY", "sip.zadarma.com/x"},
		{"SIP_GATEWAY", "sip.zadarma.com:"},
		{"SIP_PASSWORD", "a\nb"},
	} {
		if _, err := LoadConfig(env(bad...)); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: error %v should name %s", bad, err, bad[0])
		}
	}
}

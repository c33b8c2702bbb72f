package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// FS_XML_CURL_*: off without a password; the allowed addresses parse as
// CIDRs or bare addresses; values that would break the conf are refused.
func TestLoadConfigXMLCurl(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := LoadConfig(env())
	if err != nil || c.XMLCurl.options() != nil {
		t.Fatalf("default: %v, options %+v; want off", err, c.XMLCurl.options())
	}
	c, err = LoadConfig(env("FS_XML_CURL_PASSWORD", "pw", "FS_XML_CURL_ALLOW_FROM", "203.0.113.0/24, 198.51.100.7"))
	if err != nil {
		t.Fatal(err)
	}
	o := c.XMLCurl.options()
	want := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.51.100.7/32")}
	if o == nil || o.User != "freeswitch" || o.Password != "pw" || !slices.Equal(o.AllowFrom, want) {
		t.Fatalf("options %+v", o)
	}
	for _, bad := range [][]string{
		{"FS_XML_CURL_ALLOW_FROM", "nope", "FS_XML_CURL_PASSWORD", "pw"},
		{"FS_XML_CURL_ALLOW_FROM", "10.0.0.0/8"},
		{"FS_XML_CURL_USER", "a:b", "FS_XML_CURL_PASSWORD", "pw"},
		{"FS_XML_CURL_PASSWORD", `p"w`},
	} {
		if _, err := LoadConfig(env(bad...)); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: err %v, want one naming %s", bad, err, bad[0])
		}
	}
}

package main

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/xmlcurl"
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

// Each FS_NODES node has its own /fs/xml credentials; FS_XML_CURL_PER_NODE
// makes them the only ones, and needs FS_NODES; `sipbridge
// xml-curl-credentials NODE` prints a node's pair, and refuses a name
// outside FS_NODES.
func TestXMLCurlNodeCredentials(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{"FS_XML_CURL_PASSWORD": "pw"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := LoadConfig(env("FS_NODES", "fs1=10.0.0.1:8021,fs2=10.0.0.2:8021", "FS_XML_CURL_PER_NODE", "true"))
	if err != nil {
		t.Fatal(err)
	}
	if o := c.XMLCurl.options(); o == nil || !o.PerNode || !slices.Equal(o.Nodes, []string{"fs1", "fs2"}) {
		t.Fatalf("options %+v, want per node fs1 and fs2", o)
	}
	for _, bad := range [][]string{{"FS_XML_CURL_PER_NODE", "true"}, {"FS_XML_CURL_PER_NODE", "maybe"}} {
		if _, err := LoadConfig(env(bad...)); err == nil || !strings.Contains(err.Error(), "FS_XML_CURL_PER_NODE") {
			t.Errorf("%v: err %v, want one naming FS_XML_CURL_PER_NODE", bad, err)
		}
	}
	var out, errb strings.Builder
	getenv := env("FS_NODES", "fs1=10.0.0.1:8021,fs2=10.0.0.2:8021")
	if code := run(context.Background(), []string{"xml-curl-credentials", "fs2"}, getenv, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if want := "fs2:" + xmlcurl.NodePassword("pw", "fs2") + "\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	if code := run(context.Background(), []string{"xml-curl-credentials", "fs9"}, getenv, &out, &errb); code != 2 || !strings.Contains(errb.String(), "fs9") {
		t.Errorf("a node outside FS_NODES: exit %d, %s", code, errb.String())
	}
}

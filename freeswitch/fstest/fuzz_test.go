package fstest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/ezxml"
)

// FuzzParseXML: the ezxml-like parser never panics; an error is an
// *ezxml.Error with a line inside the document.
func FuzzParseXML(f *testing.F) {
	for _, s := range []string{gwGood, gwBroken, gwDollar, aclFile("l", "127.0.0.1/32"), "<a><!-- -- --></a>",
		"<a><![CDATA[x]]></a>", "<?xml?><a b='c'/>", "<a x=\"1>", "</a>", "<a>&#x110000;&#0;&amp</a>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := ezxml.Parse(data)
		if err == nil {
			if root == nil {
				t.Fatalf("no root and no error for %q", data)
			}
			return
		}
		var xe *ezxml.Error
		if !errors.As(err, &xe) || xe.Line < 1 || xe.Line > bytes.Count(data, []byte{'\n'})+1 {
			t.Fatalf("error %v for %q", err, data)
		}
	})
}

// FuzzGenDir: any file content in any generated directory loads or fails
// as a whole; what loads has only valid gateway names and parsed ACL nodes.
func FuzzGenDir(f *testing.F) {
	f.Add("gateways", gwGood)
	f.Add("gateways", gwInvalidNames)
	f.Add("gateways", gwBroken)
	f.Add("acl", aclFile("l", "10.0.0.0/8", "::1", "bad"))
	f.Add("profile", profileFile("a", "b,c"))
	f.Add("gateways", `<X-PRE-PROCESS cmd="set" data="x=$${domain}"/><include><gateway name="$${x}"/></include>`)
	f.Fuzz(func(t *testing.T, dir, body string) {
		switch dir {
		case "gateways", "acl", "profile":
		default:
			return
		}
		gen := t.TempDir()
		writeFile(t, gen, dir+"/f.xml", body)
		s := New(Options{GenDir: gen})
		cfg, err := s.loadConfig()
		if err != nil {
			var xe *ezxml.Error
			if !errors.As(err, &xe) {
				t.Fatalf("error type %T", err)
			}
			return
		}
		for _, g := range cfg.gateways {
			if !validGatewayName.MatchString(g.name) {
				t.Fatalf("invalid name %q loaded", g.name)
			}
		}
		for _, l := range cfg.acls {
			for _, n := range l.nodes {
				if !n.prefix.IsValid() {
					t.Fatalf("unparsed node %q kept", n.cidr)
				}
			}
		}
		if len(cfg.inbound) > maxInboundACL {
			t.Fatalf("%d inbound lists", len(cfg.inbound))
		}
	})
}

// FuzzAPI: any api command line gets an answer without a panic.
func FuzzAPI(f *testing.F) {
	for _, s := range []string{"status", "sofia profile external rescan", "sofia profile external killgw x",
		"sofia xmlstatus gateway", "sofia status gateway a b", "acl 1.2.3.4 l", "acl ::1 loopback.auto",
		"module_exists mod_sofia", "uuid_kill", "uuid_answer x", "sofia profile", "sofia", ""} {
		f.Add(s)
	}
	gen := f.TempDir()
	s := New(Options{GenDir: gen})
	defer s.Close()
	f.Fuzz(func(t *testing.T, line string) {
		if strings.Contains(line, "restart") {
			return // its timers outlive the iteration; covered by TestProfileRestart
		}
		if s.exec(line) == "" {
			t.Fatalf("empty answer to %q", line)
		}
	})
}

package sofia

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/ezxml"
)

// TestPreprocess: $${var} expanded on raw lines (unset: empty), &#36; left
// for the parser, X-PRE-PROCESS set honoured, <include> stripped.
func TestPreprocess(t *testing.T) {
	g := map[string]string{"domain": "127.0.0.1"}
	for _, tc := range []struct{ in, want string }{
		{`<param value="pa$${domain}ss"/>`, "<param value=\"pa127.0.0.1ss\"/>\n"},
		{`<param value="pa&#36;{domain}ss"/>`, "<param value=\"pa&#36;{domain}ss\"/>\n"},
		{`<param value="$${nope}|${domain}|$$x"/>`, "<param value=\"|${domain}|$$x\"/>\n"},
		{"<include>\n<a/>\n</include>", "\n<a/>\n\n"},
		{"<X-PRE-PROCESS cmd=\"set\" data=\"x=1\"/>\n<a v=\"$${x}$${domain}\"/>", "\n<a v=\"1127.0.0.1\"/>\n"},
	} {
		if got := string(preprocess([]byte(tc.in), g)); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
	if g["x"] != "" {
		t.Error("a file's set leaked into the globals")
	}
}

// FuzzGenDir: any file content in any generated directory loads or fails
// as a whole; what loads has only valid gateway names and parsed ACL nodes.
func FuzzGenDir(f *testing.F) {
	f.Add("gateways", `<include><gateway name="org1_good"><param name="username" value="u"/><param name="password" value="p"/>
<param name="proxy" value="127.0.0.1:5070"/><param name="register" value="true"/></gateway></include>`)
	f.Add("gateways", `<include><gateway name="org1 space"/><gateway name="org1/slash"/></include>`)
	f.Add("gateways", `<include><gateway name="org1_broken"><param name="register" value="false"/></include>`)
	f.Add("acl", `<include><list name="l" default="deny"><node type="allow" cidr="10.0.0.0/8"/><node type="allow" cidr="::1"/>`+
		`<node type="allow" cidr="bad"/></list></include>`)
	f.Add("profile", `<include><param name="apply-inbound-acl" value="a"/><param name="apply-inbound-acl" value="b,c"/></include>`)
	f.Add("gateways", `<X-PRE-PROCESS cmd="set" data="x=$${domain}"/><include><gateway name="$${x}"/></include>`)
	f.Fuzz(func(t *testing.T, dir, body string) {
		switch dir {
		case "gateways", "acl", "profile":
		default:
			return
		}
		gen := t.TempDir()
		if err := os.MkdirAll(filepath.Join(gen, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(gen, dir, "f.xml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		p := New(Config{Profile: "external", GenDir: gen, Globals: map[string]string{"domain": "127.0.0.1"},
			Logger: slog.New(slog.DiscardHandler)}, nil)
		cfg, err := p.loadConfig()
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

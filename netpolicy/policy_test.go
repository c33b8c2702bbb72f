package netpolicy

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// fakeResolver maps names to addresses; any other name does not exist.
func fakeResolver(m map[string][]string) func(context.Context, string, string) ([]netip.Addr, error) {
	return func(_ context.Context, network, host string) ([]netip.Addr, error) {
		ss, ok := m[strings.TrimSuffix(strings.ToLower(host), ".")]
		if !ok {
			return nil, errors.New("no such host")
		}
		var out []netip.Addr
		for _, s := range ss {
			a := netip.MustParseAddr(s)
			if (network == "ip4" && !a.Is4()) || (network == "ip6" && a.Is4()) {
				continue
			}
			out = append(out, a)
		}
		return out, nil
	}
}

var testNames = map[string][]string{
	"ai.example.com":   {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
	"evil.example":     {"127.0.0.1"},
	"mixed.example":    {"93.184.215.14", "169.254.169.254"},
	"mapped.example":   {"::ffff:127.0.0.1"},
	"internal.example": {"10.1.2.3"},
}

func TestCheckURL(t *testing.T) {
	p := Default()
	p.Resolver = fakeResolver(testNames)
	ctx := context.Background()
	bad := []struct{ url, why string }{
		// sms_webhook_url reproductions.
		{"http://127.0.0.1:9000/hook", "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "metadata"},
		{"http://metadata.google.internal/computeMetadata/v1/", "metadata"},
		{"http://[::1]:8080/", "loopback"},
		{"http://2130706433/", "numeric"},
		{"http://0x7f.1/", "numeric"},
		{"http://0177.0.0.1/", "numeric"},
		{"http://127.0.0.1./", "numeric"},
		{"http://localhost:8080/", "loopback"},
		{"http://LOCALHOST./", "loopback"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[::]/", "unspecified"},
		{"http://0.0.0.0:8021/", "unspecified"},
		{"http://%31%32%37.0.0.1/", "absolute"}, // url.Parse refuses escapes in a host
		{"http://evil.example/", "resolves to 127.0.0.1"},
		{"http://mixed.example/", "resolves to 169.254.169.254"},
		{"http://mapped.example/", "resolves to 127.0.0.1"},
		{"http://user:pass@ai.example.com/", "credentials"},
		{"http://user@ai.example.com/", "credentials"},
		{"http://ai.example.com:0/", "port"},
		{"http://ai.example.com:99999/", "port"},
		{"http://ai.example.com:/", "port"},
		{"ftp://ai.example.com/", "must use"},
		{"//ai.example.com/", "absolute"},
		{"http:ai.example.com", "absolute"},
		{"http:///path", "absolute"},
		// stream_url reproductions.
		{"ws://127.0.0.1:8021/", "loopback"},
		{"ws://169.254.10.10/", "link-local"},
		{"ws://[fe80::1%25eth0]:80/", "link-local"},
		{"wss://ai.example.com:99999/stream", "port"},
	}
	for _, c := range bad {
		schemes := []string{"http", "https"}
		if strings.HasPrefix(c.url, "ws") {
			schemes = []string{"ws", "wss"}
		}
		err := p.CheckURL(ctx, "the_field", c.url, schemes...)
		if err == nil {
			t.Errorf("%s: accepted", c.url)
			continue
		}
		if !strings.HasPrefix(err.Error(), "the_field: ") || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %q, want the field and %q", c.url, err, c.why)
		}
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: %v does not wrap ErrBlocked", c.url, err)
		}
	}
	good := []string{
		"https://ai.example.com/sms", "https://AI.EXAMPLE.COM./sms", "http://8.8.8.8:8080/x",
		"https://[2606:4700:4700::1111]/", "http://internal.example/", "http://10.1.2.3:8080/",
		"http://203.0.113.7/", "https://ai.example.com:443/a?b=c#d",
	}
	for _, u := range good {
		if err := p.CheckURL(ctx, "f", u, "http", "https"); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if err := p.CheckURL(ctx, "f", "ws://10.1.2.3:8080/stream", "ws", "wss"); err != nil {
		t.Errorf("private assistant with the default policy: %v", err)
	}
	// A name that does not resolve: ErrNotResolved, not ErrBlocked.
	err := p.CheckURL(ctx, "f", "https://nowhere.example/", "https")
	if !errors.Is(err, ErrNotResolved) || errors.Is(err, ErrBlocked) {
		t.Errorf("unresolvable: %v", err)
	}
	// Without AllowPrivate, private addresses and names resolving to them go.
	strict := Policy{Resolver: p.Resolver}
	for _, u := range []string{"ws://10.1.2.3:8080/stream", "ws://internal.example/", "ws://100.64.1.1/"} {
		if err := strict.CheckURL(ctx, "stream_url", u, "ws"); !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "private") {
			t.Errorf("strict %s: %v", u, err)
		}
	}
	// With AllowLoopback, loopback and metadata pass; unspecified and numeric forms never.
	dev := Policy{AllowPrivate: true, AllowLoopback: true, Resolver: p.Resolver}
	for _, u := range []string{"ws://127.0.0.1:8080/", "ws://localhost:8080/", "ws://evil.example/", "ws://[::1]/"} {
		if err := dev.CheckURL(ctx, "stream_url", u, "ws"); err != nil {
			t.Errorf("dev %s: %v", u, err)
		}
	}
	for _, u := range []string{"ws://0.0.0.0/", "ws://2130706433/", "ws://[::]/", "ws://224.0.0.1/", "ws://255.255.255.255/"} {
		if err := dev.CheckURL(ctx, "stream_url", u, "ws"); !errors.Is(err, ErrBlocked) {
			t.Errorf("dev %s: %v", u, err)
		}
	}
}

func TestCheckHostPort(t *testing.T) {
	p := Default()
	p.Resolver = fakeResolver(testNames)
	ctx := context.Background()
	for _, hp := range []string{
		"127.0.0.1", "localhost", "127.0.0.1:8021", "169.254.169.254", "0.0.0.0", "[::1]", "[::1]:5060",
		"evil.example:5060", "2130706433", "localhost.:5060", "[::ffff:127.0.0.1]:5060", "[::]",
		"sip.example.com:0", "sip.example.com:65536", "sip.example.com:", "::1", "[127.0.0.1]", "[::1",
	} {
		err := p.CheckHostPort(ctx, "gateway", hp)
		if !errors.Is(err, ErrBlocked) || !strings.HasPrefix(err.Error(), "gateway: ") {
			t.Errorf("%q: %v", hp, err)
		}
	}
	for _, hp := range []string{"10.0.0.1", "10.0.0.1:5060", "203.0.113.10", "[2001:db8::1]:5061", "ai.example.com:5080"} {
		if err := p.CheckHostPort(ctx, "gateway", hp); err != nil {
			t.Errorf("%q: %v", hp, err)
		}
	}
	if err := (Policy{}).CheckHostPort(ctx, "gateway", "10.0.0.1"); !errors.Is(err, ErrBlocked) {
		t.Errorf("10.0.0.1 without AllowPrivate: %v", err)
	}
	if err := p.CheckHostPort(ctx, "gateway", "pbx"); !errors.Is(err, ErrNotResolved) {
		t.Errorf("unresolvable name: %v", err)
	}
}

func TestErrorMessages(t *testing.T) {
	p := Default()
	p.Resolver = fakeResolver(testNames)
	for host, want := range map[string]string{
		"127.0.0.1":                "127.0.0.1 is a loopback address; sipbridge does not connect there",
		"metadata.google.internal": "metadata.google.internal is a cloud metadata service; sipbridge does not connect there",
		"evil.example":             "evil.example resolves to 127.0.0.1, a loopback address; sipbridge does not connect there",
		"2130706433":               "2130706433 is a numeric host form that resolvers read differently; write an IPv4 address as a.b.c.d or use a host name",
		"0.0.0.0":                  "0.0.0.0 is an unspecified address; sipbridge does not connect there",
	} {
		if err := p.CheckHost(context.Background(), host); err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", host, err, want)
		}
	}
}

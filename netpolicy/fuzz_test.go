package netpolicy

import (
	"context"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"127.0.0.1", "169.254.169.254", "metadata.google.internal", "[::1]", "2130706433", "0x7f.1", "0177.0.0.1",
	"localhost", "localhost.", "foo.localhost", "::ffff:127.0.0.1", "[::]", "0.0.0.0", "10.0.0.1", "127.1",
	"fe80::1%eth0", "64:ff9b::7f00:1", "2002:7f00:1::", "sip.example.com", "example.123", "1.2.3.4.5", "",
	"0x", "00", "[fe80::1%25en0]", "ｌｏｃａｌｈｏｓｔ", "a..b", "8.8.8.8", "2001:db8::1",
}

// atonLike reads host the way inet_aton does (1–4 parts, each decimal,
// 0-prefixed octal or 0x hex, the last part filling the remaining bytes);
// a resolver or dialer built on it would connect to the result.
func atonLike(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) && len(vals) > 1 || last > 0xffffffff {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func FuzzClassifyHost(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		c, a := ClassifyHost(host)
		if a.IsValid() {
			if ClassifyIP(a) != c {
				t.Fatalf("%q: class %v but address %v is %v", host, c, a, ClassifyIP(a))
			}
			return
		}
		switch c {
		case Name, Loopback, Metadata:
			// A name: nothing reads it as an address.
			if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
				t.Fatalf("%q: an address classified as %v without the address", host, c)
			}
			if v4, ok := atonLike(host); ok {
				t.Fatalf("%q reads as %v (inet_aton) but is classified %v", host, v4, c)
			}
			for _, r := range host {
				if r > 0x7f || r <= ' ' {
					t.Fatalf("%q: non-ASCII or control character in a %v", host, c)
				}
			}
		case Invalid, Ambiguous:
		default:
			t.Fatalf("%q: address class %v without an address", host, c)
		}
	})
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add("http://" + s + "/")
		f.Add("ws://" + s + ":8080/x?y")
	}
	f.Add("http://user:pass@example.com/")
	f.Add("https://example.com:99999/")
	f.Add("http://[::ffff:127.0.0.1]:80/")
	f.Add("http://%31%32%37.0.0.1/")
	f.Fuzz(func(t *testing.T, raw string) {
		// Every name resolves to a public address: only the URL's form and
		// its host's own class can refuse it.
		p := Default()
		p.Resolver = func(context.Context, string, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		err := p.CheckURL(context.Background(), "f", raw, "http", "https", "ws", "wss")
		if err != nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("%q passed but does not parse: %v", raw, perr)
		}
		if u.User != nil {
			t.Fatalf("%q passed with credentials", raw)
		}
		if port := u.Port(); port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				t.Fatalf("%q passed with port %q", raw, port)
			}
		}
		host := u.Hostname()
		c, a := ClassifyHost(host)
		if !p.Allowed(c) {
			t.Fatalf("%q passed with host %q of class %v", raw, host, c)
		}
		if a.IsValid() && p.CheckAddr(a) != nil {
			t.Fatalf("%q passed with address %v", raw, a)
		}
		if v4, ok := atonLike(host); ok && !a.IsValid() {
			t.Fatalf("%q passed with host %q that inet_aton reads as %v", raw, host, v4)
		}
		if c == Name && (host == "" || strings.ContainsAny(host, "%:[] ")) {
			t.Fatalf("%q passed with odd host %q", raw, host)
		}
	})
}

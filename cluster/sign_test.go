package cluster_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/secret"
)

func signingKeys(t *testing.T) [][]byte {
	t.Helper()
	ring, err := secret.ParseKeyring(secret.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return ring.Derive(cluster.SigningPurpose)
}

// A request signed by one replica is accepted by another once, for its
// organization; changed in any part, signed with another key, too old or
// too new, or replayed, it is refused.
func TestReplicaSignature(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	keys := signingKeys(t)
	a, b := cluster.NewSigner(keys, "a", clock.Now), cluster.NewSigner(keys, "b", clock.Now)
	path, body := "/internal/v1/calls/c1/transfer", []byte(`{"to":"+14165550199"}`)
	h := a.Sign("POST", path, 7, "b", body)
	sig, err := b.Verify("POST", path, body, h)
	if err != nil || sig.Org != 7 || sig.By != "a" {
		t.Fatalf("a's request at b: %+v %v", sig, err)
	}
	if _, err := b.Verify("POST", path, body, h); !errors.Is(err, cluster.ErrReplayedSignature) {
		t.Errorf("the same request again: %v, want replayed", err)
	}
	if h2 := a.Sign("POST", path, 7, "b", body); h2 == h {
		t.Error("two requests alike signed alike")
	} else if _, err := b.Verify("POST", path, body, h2); err != nil {
		t.Errorf("a second request alike: %v", err)
	}

	other := cluster.NewSigner(signingKeys(t), "a", clock.Now)
	for name, c := range map[string]struct {
		method, path, header string
		body                 []byte
		want                 error
	}{
		"another body":   {"POST", path, a.Sign("POST", path, 7, "b", body), []byte(`{"to":"sip:x@evil.example"}`), cluster.ErrBadSignature},
		"another path":   {"POST", "/internal/v1/calls/c2/transfer", a.Sign("POST", path, 7, "b", body), body, cluster.ErrBadSignature},
		"another method": {"PUT", path, a.Sign("POST", path, 7, "b", body), body, cluster.ErrBadSignature},
		"another org":    {"POST", path, strings.Replace(a.Sign("POST", path, 7, "b", body), "org=7", "org=8", 1), body, cluster.ErrBadSignature},
		"another key":    {"POST", path, other.Sign("POST", path, 7, "b", body), body, cluster.ErrBadSignature},
		"for replica c":  {"POST", path, a.Sign("POST", path, 7, "c", body), body, cluster.ErrBadSignature},
		"another time":   {"POST", path, tamper(t, a.Sign("POST", path, 7, "b", body), "t", "1777636801"), body, cluster.ErrBadSignature},
		"another nonce":  {"POST", path, tamper(t, a.Sign("POST", path, 7, "b", body), "n", strings.Repeat("ab", 12)), body, cluster.ErrBadSignature},
		"another sender": {"POST", path, tamper(t, a.Sign("POST", path, 7, "b", body), "by", "c"), body, cluster.ErrBadSignature},
		"moved to b":     {"POST", path, tamper(t, a.Sign("POST", path, 7, "c", body), "to", "b"), body, cluster.ErrBadSignature},
		"none":           {"POST", path, "", body, cluster.ErrUnsigned},
		"not the form":   {"POST", path, "Bearer abc", body, cluster.ErrUnsigned},
		"a field twice":  {"POST", path, a.Sign("POST", path, 7, "b", body) + "&org=7", body, cluster.ErrUnsigned},
	} {
		if _, err := b.Verify(c.method, c.path, c.body, c.header); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}

	old := a.Sign("POST", path, 7, "b", body)
	clock.Advance(cluster.SignatureTolerance + time.Second)
	if _, err := b.Verify("POST", path, body, old); !errors.Is(err, cluster.ErrStaleSignature) {
		t.Errorf("signed %v ago: %v, want stale", cluster.SignatureTolerance+time.Second, err)
	}
	ahead := cluster.NewSigner(keys, "a", testkit.NewClock(clock.Now().Add(cluster.SignatureTolerance+time.Second)).Now)
	if _, err := b.Verify("POST", path, body, ahead.Sign("POST", path, 7, "b", body)); !errors.Is(err, cluster.ErrStaleSignature) {
		t.Errorf("signed ahead of b's clock: %v, want stale", err)
	}
}

// tamper sets one field of a signature header to v.
func tamper(t *testing.T, h, k, v string) string {
	t.Helper()
	q, err := url.ParseQuery(h)
	if err != nil || q.Get(k) == "" || q.Get(k) == v {
		t.Fatalf("tamper %s=%s in %q", k, v, h)
	}
	q.Set(k, v)
	return q.Encode()
}

// ParseSignature takes any header without panicking, and what it accepts
// is a signature's six fields.
func FuzzParseSignature(f *testing.F) {
	keys := [][]byte{make([]byte, 32)}
	f.Add(cluster.NewSigner(keys, "replica-a", nil).Sign("POST", "/internal/v1/calls/x/hangup", 1, "b", nil))
	f.Add("t=1&n=000000000000000000000000&org=1&by=a&to=b&v1=" + strings.Repeat("00", 32))
	f.Add("t=-1&org=0&by=%00&v1=zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		sig, err := cluster.ParseSignature(h)
		if err != nil {
			if !errors.Is(err, cluster.ErrUnsigned) {
				t.Fatalf("%q: %v", h, err)
			}
			return
		}
		if sig.Org <= 0 || sig.By == "" || sig.To == "" || len(sig.MAC) != 32 || len(sig.Nonce) != 24 || sig.At.Unix() <= 0 {
			t.Fatalf("%q accepted as %+v", h, sig)
		}
	})
}

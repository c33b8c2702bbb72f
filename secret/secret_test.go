package secret

import (
	"errors"
	"strings"
	"testing"
)

func TestKeyringSealOpenRotate(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	old, err := ParseKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal("sip_trunks.password:a", "s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "s3cret") {
		t.Fatal("ciphertext contains the plaintext")
	}
	ring, _ := ParseKeyring(k2 + "," + k1)
	if got, err := ring.Open("sip_trunks.password:a", sealed); err != nil || got != "s3cret-pass" {
		t.Fatalf("open with old key in ring: %q %v", got, err)
	}
	if !ring.NeedsRotation(sealed) {
		t.Fatal("value sealed by a non-current key should need rotation")
	}
	if _, err := ring.Open("sip_trunks.password:b", sealed); !errors.Is(err, ErrCorruptSecret) {
		t.Fatalf("value moved to another row must not open, got %v", err)
	}
	onlyNew, _ := ParseKeyring(k2)
	if _, err := onlyNew.Open("sip_trunks.password:a", sealed); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("want ErrUnknownKey, got %v", err)
	}
	for _, bad := range []string{"", "abc", "c2hvcnQ=", k1 + ",notbase64!"} {
		if _, err := ParseKeyring(bad); !errors.Is(err, ErrNoKey) {
			t.Errorf("ParseKeyring(%q) = %v, want ErrNoKey", bad, err)
		}
	}
}

// Every process with the same SECRET_KEY derives the same key for a
// purpose, another for another purpose, and a ring derives one per key,
// the current one's first (a key added to the ring still checks what the
// old one signed).
func TestDeriveIsPerKeyAndPurpose(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	a, _ := ParseKeyring(k1)
	b, _ := ParseKeyring(k1)
	if x, y := a.Derive("replica requests"), b.Derive("replica requests"); len(x) != 1 || string(x[0]) != string(y[0]) || len(x[0]) != 32 {
		t.Fatalf("one key, one purpose: %x and %x", x, y)
	}
	if x, y := a.Derive("replica requests"), a.Derive("other"); string(x[0]) == string(y[0]) {
		t.Fatal("two purposes derive the same key")
	}
	ring, _ := ParseKeyring(k2 + "," + k1)
	d := ring.Derive("replica requests")
	if len(d) != 2 || string(d[1]) != string(a.Derive("replica requests")[0]) || string(d[0]) == string(d[1]) {
		t.Fatalf("a ring of two: %x", d)
	}
}

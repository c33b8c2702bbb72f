package call

import "testing"

func TestToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if len(a) != 48 || a == b {
		t.Fatalf("tokens %q %q", a, b)
	}
	if !TokenEqual(a, a) || TokenEqual(a, b) || TokenEqual("", "") || TokenEqual(a, "") {
		t.Fatal("TokenEqual")
	}
}

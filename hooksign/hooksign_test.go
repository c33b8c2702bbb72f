package hooksign

import "testing"

// The signature an assistant computes with any HMAC-SHA256 library (the
// expected value is RFC 4231's test case 2: key "Jefe").
func TestSignMatchesHMACSHA256(t *testing.T) {
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

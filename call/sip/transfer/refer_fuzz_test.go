package transfer

import (
	"strings"
	"testing"
)

// FuzzSipfragStatus: a NOTIFY body from the far end never panics and yields
// a status only when it starts like a status line.
func FuzzSipfragStatus(f *testing.F) {
	for _, s := range []string{"SIP/2.0 200 OK\r\n", "SIP/2.0 100 Trying", "SIP/2.0 603 Decline", "", "SIP/2.0 ", "SIP/2.0 2x0", "HTTP/1.1 200 OK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code := SipfragStatus(in)
		if code != 0 && (!strings.HasPrefix(in, "SIP/2.0 ") || code < 0 || code > 999) {
			t.Fatalf("status %d from %q", code, in)
		}
	})
}

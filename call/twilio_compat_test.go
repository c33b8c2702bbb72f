package call

import (
	"regexp"
	"testing"
)

// The account SID has Twilio's shape, is the same every time for an
// organization and differs between organizations.
func TestTwilioAccountSID(t *testing.T) {
	shape := regexp.MustCompile(`^AC[0-9a-f]{32}$`)
	seen := map[string]int64{}
	for org := int64(1); org <= 1000; org++ {
		sid := TwilioAccountSID(org)
		if !shape.MatchString(sid) || sid != TwilioAccountSID(org) {
			t.Fatalf("org %d: %q", org, sid)
		}
		if other, dup := seen[sid]; dup {
			t.Fatalf("orgs %d and %d share %s", other, org, sid)
		}
		seen[sid] = org
	}
}

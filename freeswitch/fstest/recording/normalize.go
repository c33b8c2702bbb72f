package recording

import "regexp"

var (
	normUUID   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	normDigits = regexp.MustCompile(`[0-9]+`)
	normPlural = regexp.MustCompile(`\b0 (year|day|hour|minute|second|millisecond|microsecond)s?\b`)
)

// Normalize hides what legitimately differs between two runs of one ESL
// session, on the simulator and on a real switch or twice on either: UUIDs
// become "UUID", every run of digits "0" (lengths, dates, sequence
// numbers, uptimes, ports, line numbers), and "0 seconds" reads "0 second".
// The fixture tests compare the simulator's replies with the recordings
// through it; the e2e conformance test compares them with a live switch.
func Normalize(s string) string {
	s = normDigits.ReplaceAllString(normUUID.ReplaceAllString(s, "UUID"), "0")
	return normPlural.ReplaceAllString(s, "0 $1")
}

// NormalizeUUIDs replaces only the UUIDs of s with "UUID" (for values whose
// numbers matter: SIP status codes, hangup causes).
func NormalizeUUIDs(s string) string { return normUUID.ReplaceAllString(s, "UUID") }

package recording

import (
	"strings"
	"testing"
)

// Two runs of one session differ in UUIDs, numbers and "0 seconds" versus
// "0 second"; Normalize makes them equal, NormalizeUUIDs keeps the numbers.
func TestNormalize(t *testing.T) {
	a := "Job-UUID: 0f6b1a52-2d2e-4b8c-9a55-3b1f7c1e2d44\nUP 0 years, 0 days, 0 seconds, 12 milliseconds\nSIP/2.0 486 Busy"
	b := "Job-UUID: 7c1e2d44-3b1f-4b8c-9a55-0f6b1a522d2e\nUP 0 years, 0 days, 0 second, 907 milliseconds\nSIP/2.0 486 Busy"
	if Normalize(a) != Normalize(b) {
		t.Errorf("%q != %q", Normalize(a), Normalize(b))
	}
	if got := NormalizeUUIDs(a); !strings.HasPrefix(got, "Job-UUID: UUID\n") || !strings.Contains(got, "486 Busy") {
		t.Errorf("NormalizeUUIDs: %q", got)
	}
}

// The recordings are found from a package directory, and every ESL
// recording reads as frames in both directions.
func TestLoadRecordings(t *testing.T) {
	names, err := ListRecordings()
	if err != nil {
		t.Skip(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "audio-stream-ws-") {
			t.Errorf("%s is a websocket log, not an ESL recording", n)
		}
		frames, err := LoadRecording(n)
		if err != nil {
			t.Fatal(err)
		}
		dirs := map[string]bool{}
		for _, f := range frames {
			dirs[f.Dir] = true
		}
		if !dirs["c2s"] || !dirs["s2c"] {
			t.Errorf("%s: frames %v", n, dirs)
		}
	}
}

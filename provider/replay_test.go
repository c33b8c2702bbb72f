package provider

import (
	"testing"
	"time"
)

func TestReplayCache(t *testing.T) {
	var r ReplayCache
	now := time.Unix(1_700_000_000, 0)
	if r.Seen("a", now) {
		t.Fatal("first use seen")
	}
	if !r.Seen("a", now.Add(time.Minute)) {
		t.Fatal("replay within the window not seen")
	}
	if r.Seen("", now) || r.Seen("", now) {
		t.Fatal("empty id seen")
	}
	if r.Seen("a", now.Add(3*ReplayTolerance)) {
		t.Fatal("an id long past the window still blocks")
	}
}

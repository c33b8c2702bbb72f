package testkit

import (
	"testing"
	"time"
)

// Poll intervals: the first check is immediate, then the wait doubles from
// minPoll up to maxPoll, so a condition that holds soon is seen soon and one
// that reads a database or a switch is not asked more than 20 times a second.
const (
	minPoll = 5 * time.Millisecond
	maxPoll = 50 * time.Millisecond
)

// Until polls cond until it holds (true) or within has passed (false); cond
// is asked once more at the deadline.
func Until(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	wait := minPoll
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, maxPoll)
	}
}

// Eventually polls cond until it holds; when within passes first the test
// fails naming what was awaited and, with detail, the last state seen.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	if Until(within, cond) {
		return
	}
	msg := ""
	for _, d := range detail {
		if d != nil {
			msg += "; " + d()
		}
	}
	t.Fatalf("timed out after %v waiting for %s%s", within, what, msg)
}

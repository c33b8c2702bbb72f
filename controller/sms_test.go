package controller

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 9: 512 * time.Second, 10: 10 * time.Minute, 40: 10 * time.Minute} {
		if got := backoff(2*time.Second, 10*time.Minute, attempt); got != want {
			t.Errorf("attempt %d: %v, want %v", attempt, got, want)
		}
	}
}

func TestConsentKeyword(t *testing.T) {
	for body, want := range map[string]string{
		"STOP": "opt_out", " stop\n": "opt_out", "Unsubscribe": "opt_out", "cancel": "opt_out", "END": "opt_out", "quit": "opt_out",
		"START": "opt_in", "unstop": "opt_in", "stop please": "", "STOPP": "", "": "", "yes": "",
	} {
		if got, _ := ConsentKeyword(body); got != want {
			t.Errorf("%q: %q, want %q", body, got, want)
		}
	}
}

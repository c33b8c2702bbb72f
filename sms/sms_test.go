package sms

import "testing"

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

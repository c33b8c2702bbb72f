package smsapi

import (
	"testing"

	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// The send route words the error table's answer with its own inputs;
// status and code do not change.
func TestErrorTableRouteWording(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		status       int
		field, msg   string
		checkMessage bool
	}{
		{"sms voice only", smsError(numbers.ErrVoiceOnly), 400, "from_phone_number", "", false},
		{"sms assistant", smsError(numbers.ErrAssistantNotFound), 404, "", "assistant not found", true},
		{"sms sender", smsError(&sms.NoAssistantError{Number: "+15550001"}), 404, "from_phone_number", "", false},
	} {
		ae := httpapi.ToAPIError(tc.err)
		if ae.Status != tc.status || ae.Field != tc.field || (tc.checkMessage && ae.Message != tc.msg) {
			t.Errorf("%s: %d field %q %q, want %d field %q %q", tc.name, ae.Status, ae.Field, ae.Message, tc.status, tc.field, tc.msg)
		}
	}
}

package callapi

import (
	"testing"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// The hangup, transfer and initiate routes word the error table's answer
// with their own inputs; status and code do not change.
func TestErrorTableRouteWording(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		status       int
		field, msg   string
		checkMessage bool
	}{
		{"transfer destination", liveCallError(call.ErrCountryNotAllowed), 403, "to", "", false},
		{"transfer without trunk", liveCallError(call.ErrNoEnabledTrunk), 422, "to", "", false},
		{"initiate from", httpapi.ErrorIn(numbers.ErrNumberNotFound, initiateWording("+15550001")), 404, "from_phone_number", "phone number +15550001 not found", true},
		{"initiate no assistant", httpapi.ErrorIn(call.ErrNoAssistant, initiateWording("+15550001")), 404, "assistant_id",
			"No assistant found for phone number +15550001: assistant not found", true},
		{"initiate not SIP", httpapi.ErrorIn(call.ErrNotSIPNumber, initiateWording("+15550001")), 501, "from_phone_number", "", false},
	} {
		ae := httpapi.ToAPIError(tc.err)
		if ae.Status != tc.status || ae.Field != tc.field || (tc.checkMessage && ae.Message != tc.msg) {
			t.Errorf("%s: %d field %q %q, want %d field %q %q", tc.name, ae.Status, ae.Field, ae.Message, tc.status, tc.field, tc.msg)
		}
	}
}

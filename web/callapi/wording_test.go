package callapi

import (
	"testing"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/web/httpapi"
	"github.com/sipbridge/sipbridge/web/httpapi/httpapitest"
)

// The hangup, transfer and initiate routes word the error table's answer
// with their own inputs; status and code do not change.
func TestErrorTableRouteWording(t *testing.T) {
	httpapitest.CheckWording(t,
		httpapitest.Row("transfer destination", liveCallError(call.ErrCountryNotAllowed), 403, "to", ""),
		httpapitest.Row("transfer without trunk", liveCallError(call.ErrNoEnabledTrunk), 422, "to", ""),
		httpapitest.Row("initiate from", httpapi.ErrorIn(numbers.ErrNumberNotFound, initiateWording("+15550001")), 404, "from_phone_number", "phone number +15550001 not found"),
		httpapitest.Row("initiate no assistant", httpapi.ErrorIn(call.ErrNoAssistant, initiateWording("+15550001")), 404, "assistant_id",
			"No assistant found for phone number +15550001: assistant not found"),
		httpapitest.Row("initiate not SIP", httpapi.ErrorIn(call.ErrNotSIPNumber, initiateWording("+15550001")), 501, "from_phone_number", ""),
	)
}

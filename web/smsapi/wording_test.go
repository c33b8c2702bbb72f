package smsapi

import (
	"testing"

	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/web/httpapi/httpapitest"
)

// The send route words the error table's answer with its own inputs;
// status and code do not change.
func TestErrorTableRouteWording(t *testing.T) {
	httpapitest.CheckWording(t,
		httpapitest.Row("sms voice only", smsError(numbers.ErrVoiceOnly), 400, "from_phone_number", ""),
		httpapitest.Row("sms assistant", smsError(numbers.ErrAssistantNotFound), 404, "", "assistant not found"),
		httpapitest.Row("sms sender", smsError(&sms.NoAssistantError{Number: "+15550001"}), 404, "from_phone_number", ""),
	)
}

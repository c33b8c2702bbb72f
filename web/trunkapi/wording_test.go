package trunkapi

import (
	"testing"

	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/web/httpapi/httpapitest"
)

// The BYOC routes word the error table's answer with their own inputs;
// status and code do not change.
func TestErrorTableRouteWording(t *testing.T) {
	httpapitest.CheckWording(t,
		httpapitest.Row("byoc owned", byocError(numbers.ErrNumberOwned), 409, "phoneNumber", "this number is already registered"),
		httpapitest.Row("byoc number", byocError(numbers.ErrNumberNotFound), 404, "", "phone number not found"),
		httpapitest.Row("byoc assistant", byocError(numbers.ErrAssistantNotFound), 404, "", "assistant not found"),
	)
}

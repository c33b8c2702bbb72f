package trunkapi

import (
	"testing"

	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// The BYOC routes word the error table's answer with their own inputs;
// status and code do not change.
func TestErrorTableRouteWording(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		status       int
		field, msg   string
		checkMessage bool
	}{
		{"byoc owned", byocError(numbers.ErrNumberOwned), 409, "phoneNumber", "this number is already registered", true},
		{"byoc number", byocError(numbers.ErrNumberNotFound), 404, "", "phone number not found", true},
		{"byoc assistant", byocError(numbers.ErrAssistantNotFound), 404, "", "assistant not found", true},
	} {
		ae := httpapi.ToAPIError(tc.err)
		if ae.Status != tc.status || ae.Field != tc.field || (tc.checkMessage && ae.Message != tc.msg) {
			t.Errorf("%s: %d field %q %q, want %d field %q %q", tc.name, ae.Status, ae.Field, ae.Message, tc.status, tc.field, tc.msg)
		}
	}
}

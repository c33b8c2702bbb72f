package telnyx

import (
	"errors"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
)

func TestTelnyxErrorMapping(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   error
		code   string
	}{
		{401, `{"errors":[{"code":"10009","title":"Authentication failed","detail":"The required authentication headers were either invalid or not included in the request."}]}`, provider.ErrInvalidCredentials, "10009"},
		{403, `{"errors":[{"code":"10010","title":"Authorization failed"}]}`, provider.ErrInvalidCredentials, "10010"},
		{403, `{"errors":[]}`, provider.ErrInvalidCredentials, ""},
		{402, `{"errors":[{"code":"20100","title":"Payment Required"}]}`, provider.ErrInsufficientBalance, "20100"},
		{400, `{"errors":[{"code":"10038","title":"Insufficient balance","detail":"Your account has insufficient funds"}]}`, provider.ErrInsufficientBalance, "10038"},
		{422, `{"errors":[{"code":"85001","title":"Number not available","detail":"+13125550100 is no longer available"}]}`, provider.ErrNumberUnavailable, "85001"},
		{409, `{"errors":[{"code":"10012","title":"Duplicate resource"}]}`, provider.ErrNumberUnavailable, "10012"},
		{404, `{"errors":[{"code":"10005","title":"Resource not found"}]}`, provider.ErrNotFound, "10005"},
		{429, `{"errors":[{"code":"10011","title":"Too many requests"}]}`, provider.ErrRateLimited, "10011"},
		// The status decides: 10011 is also a 422 validation error in the
		// spec's examples, and a 400 is a bad request whatever its code.
		{422, `{"errors":[{"code":"10011","title":"Invalid value for field","detail":"The 'to' field is invalid","source":{"pointer":"/to"}}]}`, provider.ErrBadRequest, "10011"},
		{400, `{"errors":[{"code":"10011","title":"Too many requests"}]}`, provider.ErrBadRequest, "10011"},
		{400, `{"errors":[{"code":"10009","title":"Authentication failed"}]}`, provider.ErrBadRequest, "10009"},
		{422, `{"errors":[{"code":10016,"title":"Phone number must be in +E.164 format"}]}`, provider.ErrBadRequest, "10016"},
		{400, `{"errors":[{"code":"10015","title":"Bad Request"}]}`, provider.ErrBadRequest, "10015"},
		{500, `{"errors":[{"code":"10007","title":"Unexpected error"}]}`, provider.ErrProviderDown, "10007"},
		{503, `upstream connect error`, provider.ErrProviderDown, ""},
	}
	for _, tc := range cases {
		e := classifyTelnyx(tc.status, []byte(tc.body))
		if !errors.Is(e, tc.want) || e.Code != tc.code || e.Status != tc.status || e.Message == "" {
			t.Errorf("classifyTelnyx(%d, %s) = %v (code %q), want %v code %q", tc.status, tc.body, e, e.Code, tc.want, tc.code)
		}
	}
	e := classifyTelnyx(422, []byte(`{"errors":[{"code":"1","title":"A","detail":"first"},{"code":"2","title":"B"}]}`))
	if e.Message != "A: first; B" {
		t.Errorf("message = %q, want both errors", e.Message)
	}
}

package twilio

import (
	"errors"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
)

func TestTwilioErrorMapping(t *testing.T) {
	cases := []struct {
		status, code int
		msg          string
		want         error
	}{
		{400, 21422, "PhoneNumber is not available", provider.ErrNumberUnavailable},
		{400, 21452, "No phone numbers found in area code", provider.ErrNumberUnavailable},
		{401, 20003, "Authenticate", provider.ErrInvalidCredentials},
		{403, 20003, "Permission Denied", provider.ErrInvalidCredentials},
		{401, 20005, "Account not active", provider.ErrInvalidCredentials},
		{400, 21222, "Invalid Username. Illegal chars", provider.ErrInvalidCredentials},
		{429, 20429, "Too Many Requests", provider.ErrRateLimited},
		{404, 20404, "The requested resource was not found", provider.ErrNotFound},
		{402, 0, "Payment required", provider.ErrInsufficientBalance},
		{400, 21000, "Insufficient funds to complete the purchase", provider.ErrInsufficientBalance},
		{409, 0, "conflict", provider.ErrNumberUnavailable},
		{400, 21211, "Invalid 'To' Phone Number", provider.ErrBadRequest},
		{422, 0, "unprocessable", provider.ErrBadRequest},
		{500, 0, "Internal Server Error", provider.ErrProviderDown},
		{503, 20500, "Service Unavailable", provider.ErrProviderDown},
	}
	for _, tc := range cases {
		e := classifyTwilio(tc.status, tc.code, tc.msg)
		if !errors.Is(e, tc.want) || e.Message != tc.msg || e.Status != tc.status {
			t.Errorf("classifyTwilio(%d, %d, %q) = %v, want %v", tc.status, tc.code, tc.msg, e, tc.want)
		}
	}
}

func TestParseTwilioError(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   twilioAPIError
	}{
		{400, `{"code":21422,"message":"PhoneNumber is not available","more_info":"https://www.twilio.com/docs/errors/21422","status":400}`,
			twilioAPIError{Code: 21422, Message: "PhoneNumber is not available", MoreInfo: "https://www.twilio.com/docs/errors/21422", Status: 400}},
		{400, `{"code":"21422","message":"x"}`, twilioAPIError{Code: 21422, Message: "x", Status: 400}},
		{502, `<html>Bad Gateway</html>`, twilioAPIError{Message: "<html>Bad Gateway</html>", Status: 502}},
		{503, ``, twilioAPIError{Message: "service unavailable", Status: 503}},
	}
	for _, tc := range cases {
		if got := parseTwilioError(tc.status, []byte(tc.body)); got != tc.want {
			t.Errorf("parseTwilioError(%s) = %+v, want %+v", tc.body, got, tc.want)
		}
	}
}

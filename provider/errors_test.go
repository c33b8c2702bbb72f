package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{ErrNumberUnavailable, 409},
		{ErrInsufficientBalance, 402},
		{ErrInvalidCredentials, 424},
		{ErrRateLimited, 429},
		{ErrProviderDown, 502},
		{ErrNotFound, 404},
		{ErrNotSupported, 501},
		{ErrBadRequest, 400},
		{ErrInvalidSignature, 403},
		{context.DeadlineExceeded, 504},
		{errors.New("boom"), 500},
		// Wrapped, as clients return them.
		{fmt.Errorf("buying: %w", &Error{Provider: NameTwilio, Kind: ErrNumberUnavailable}), 409},
		{&Error{Provider: NameTelnyx, Kind: ErrInvalidCredentials, Message: "Authentication failed"}, 424},
	}
	for _, tc := range cases {
		if got := HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestErrorMessageCarriesProviderDetails(t *testing.T) {
	e := &Error{Provider: NameTwilio, Kind: ErrInvalidCredentials, Status: 401, Code: "20003", Message: "Authenticate"}
	want := "twilio: invalid provider credentials: Authenticate (code 20003, http 401)"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

func TestTwilioErrorMapping(t *testing.T) {
	cases := []struct {
		status, code int
		msg          string
		want         error
	}{
		{400, 21422, "PhoneNumber is not available", ErrNumberUnavailable},
		{400, 21452, "No phone numbers found in area code", ErrNumberUnavailable},
		{401, 20003, "Authenticate", ErrInvalidCredentials},
		{403, 20003, "Permission Denied", ErrInvalidCredentials},
		{401, 20005, "Account not active", ErrInvalidCredentials},
		{400, 21222, "Invalid Username. Illegal chars", ErrInvalidCredentials},
		{429, 20429, "Too Many Requests", ErrRateLimited},
		{404, 20404, "The requested resource was not found", ErrNotFound},
		{402, 0, "Payment required", ErrInsufficientBalance},
		{400, 21000, "Insufficient funds to complete the purchase", ErrInsufficientBalance},
		{409, 0, "conflict", ErrNumberUnavailable},
		{400, 21211, "Invalid 'To' Phone Number", ErrBadRequest},
		{422, 0, "unprocessable", ErrBadRequest},
		{500, 0, "Internal Server Error", ErrProviderDown},
		{503, 20500, "Service Unavailable", ErrProviderDown},
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

func TestTelnyxErrorMapping(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   error
		code   string
	}{
		{401, `{"errors":[{"code":"10009","title":"Authentication failed","detail":"The required authentication headers were either invalid or not included in the request."}]}`, ErrInvalidCredentials, "10009"},
		{403, `{"errors":[{"code":"10010","title":"Authorization failed"}]}`, ErrInvalidCredentials, "10010"},
		{403, `{"errors":[]}`, ErrInvalidCredentials, ""},
		{402, `{"errors":[{"code":"20100","title":"Payment Required"}]}`, ErrInsufficientBalance, "20100"},
		{400, `{"errors":[{"code":"10038","title":"Insufficient balance","detail":"Your account has insufficient funds"}]}`, ErrInsufficientBalance, "10038"},
		{422, `{"errors":[{"code":"85001","title":"Number not available","detail":"+13125550100 is no longer available"}]}`, ErrNumberUnavailable, "85001"},
		{409, `{"errors":[{"code":"10012","title":"Duplicate resource"}]}`, ErrNumberUnavailable, "10012"},
		{404, `{"errors":[{"code":"10005","title":"Resource not found"}]}`, ErrNotFound, "10005"},
		{429, `{"errors":[{"code":"10011","title":"Too many requests"}]}`, ErrRateLimited, "10011"},
		// The status decides: 10011 is also a 422 validation error in the
		// spec's examples, and a 400 is a bad request whatever its code.
		{422, `{"errors":[{"code":"10011","title":"Invalid value for field","detail":"The 'to' field is invalid","source":{"pointer":"/to"}}]}`, ErrBadRequest, "10011"},
		{400, `{"errors":[{"code":"10011","title":"Too many requests"}]}`, ErrBadRequest, "10011"},
		{400, `{"errors":[{"code":"10009","title":"Authentication failed"}]}`, ErrBadRequest, "10009"},
		{422, `{"errors":[{"code":10016,"title":"Phone number must be in +E.164 format"}]}`, ErrBadRequest, "10016"},
		{400, `{"errors":[{"code":"10015","title":"Bad Request"}]}`, ErrBadRequest, "10015"},
		{500, `{"errors":[{"code":"10007","title":"Unexpected error"}]}`, ErrProviderDown, "10007"},
		{503, `upstream connect error`, ErrProviderDown, ""},
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

func TestVonageNumbersErrorMapping(t *testing.T) {
	cases := []struct {
		op     string
		status int
		body   string
		want   error // nil: success
	}{
		{"buy", 200, `{"error-code":"200","error-code-label":"success"}`, nil},
		{"search", 200, `{"count":1,"numbers":[]}`, nil},
		{"buy", 420, `{"error-code":"420","error-code-label":"method failed"}`, ErrNumberUnavailable},
		{"buy", 200, `{"error-code":"420","error-code-label":"Numbers from this country can be requested from the Dashboard"}`, ErrNumberUnavailable},
		{"update", 420, `{"error-code":"420","error-code-label":"method failed"}`, ErrBadRequest},
		{"cancel", 420, `{"error-code":"420","error-code-label":"method failed"}`, ErrBadRequest},
		{"list", 401, `{"error-code":"401","error-code-label":"authentication failed"}`, ErrInvalidCredentials},
		{"buy", 200, `{"error-code":"401","error-code-label":"authentication failed"}`, ErrInvalidCredentials},
		{"buy", 420, `{"error-code":"420","error-code-label":"Insufficient balance"}`, ErrInsufficientBalance},
		{"search", 429, `{"error-code":"429","error-code-label":"too many requests"}`, ErrRateLimited},
		{"search", 500, `oops`, ErrProviderDown},
		{"search", 404, ``, ErrNotFound},
		{"search", 400, `{"error-code":"200"}`, ErrBadRequest},
	}
	for _, tc := range cases {
		e := vonageNumbersError(tc.op, tc.status, []byte(tc.body))
		if tc.want == nil {
			if e != nil {
				t.Errorf("%s %d %s: err = %v, want success", tc.op, tc.status, tc.body, e)
			}
			continue
		}
		if e == nil || !errors.Is(e, tc.want) || e.Message == "" {
			t.Errorf("%s %d %s: err = %v, want %v", tc.op, tc.status, tc.body, e, tc.want)
		}
	}
}

func TestVonageSMSStatusMapping(t *testing.T) {
	want := map[string]error{
		"1": ErrRateLimited, "2": ErrBadRequest, "3": ErrBadRequest, "4": ErrInvalidCredentials,
		"5": ErrProviderDown, "6": ErrBadRequest, "7": ErrBadRequest, "8": ErrInvalidCredentials,
		"9": ErrInsufficientBalance, "10": ErrRateLimited, "11": ErrInvalidCredentials, "12": ErrBadRequest,
		"14": ErrInvalidCredentials, "15": ErrBadRequest, "22": ErrBadRequest, "23": ErrBadRequest,
		"29": ErrBadRequest, "32": ErrInvalidCredentials, "33": ErrBadRequest,
	}
	for status, kind := range want {
		body := fmt.Sprintf(`{"message-count":"1","messages":[{"status":%q,"error-text":"text %s"}]}`, status, status)
		e := classifyVonageSMS(200, []byte(body))
		if e == nil || !errors.Is(e, kind) || e.Code != status || e.Message != "text "+status {
			t.Errorf("status %s: %v, want %v", status, e, kind)
		}
	}
	if e := classifyVonageSMS(200, []byte(`{"message-count":"2","messages":[{"status":"0","message-id":"a"},{"status":0,"message-id":"b"}]}`)); e != nil {
		t.Errorf("all parts accepted: %v", e)
	}
	// A part went out: the message is sent (resending would repeat that part).
	if e := classifyVonageSMS(200, []byte(`{"message-count":"2","messages":[{"status":"0"},{"status":"9","error-text":"Quota"}]}`)); e != nil {
		t.Errorf("second part refused after the first was accepted: %v, want sent", e)
	}
	if e := classifyVonageSMS(200, []byte(`{"message-count":"2","messages":[{"status":"9","error-text":"Quota"},{"status":"9","error-text":"Quota"}]}`)); e == nil || !errors.Is(e, ErrInsufficientBalance) {
		t.Errorf("no part accepted: %v", e)
	}
	// A 2xx we cannot read may have been sent: never retried.
	if e := classifyVonageSMS(200, []byte(`garbage`)); e == nil || !errors.Is(e, ErrBadRequest) || errors.Is(e, ErrProviderDown) {
		t.Errorf("unreadable 200: %v", e)
	}
	if e := classifyVonageSMS(401, []byte(`{}`)); !errors.Is(e, ErrInvalidCredentials) {
		t.Errorf("401: %v", e)
	}
}

func TestVonageProblemMapping(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   error
	}{
		{401, `{"type":"https://developer.nexmo.com/api-errors#unauthorized","title":"Unauthorized"}`, ErrInvalidCredentials},
		{403, `{"type":"https://developer.vonage.com/api-errors#account-suspended","title":"Account suspended"}`, ErrInvalidCredentials},
		{401, `{"type":"https://developer.vonage.com/api-errors#jwt-expired","title":"JWT expired"}`, ErrInvalidCredentials},
		{402, `{"type":"https://developer.vonage.com/api-errors#low-balance","title":"Low balance"}`, ErrInsufficientBalance},
		{403, `{"type":"https://example.com/Error#out-of-credit","title":"You do not have enough credit","detail":"Your current balance is 30, but that costs 50."}`, ErrInsufficientBalance},
		{429, `{"type":"https://developer.vonage.com/api-errors#throttled","title":"Throttled"}`, ErrRateLimited},
		{404, `{"type":"https://developer.vonage.com/api-errors#not-found","title":"Not found"}`, ErrNotFound},
		{422, `{"type":"https://developer.vonage.com/api-errors#invalid-params","title":"Invalid params"}`, ErrBadRequest},
		{400, `{"title":"Bad Request","detail":"Invalid JSON"}`, ErrBadRequest},
		{500, `{"type":"https://developer.vonage.com/api-errors#internal-error","title":"Internal Error"}`, ErrProviderDown},
		{502, `<html>`, ErrProviderDown},
	}
	for _, tc := range cases {
		e := classifyVonageProblem(tc.status, []byte(tc.body))
		if !errors.Is(e, tc.want) || e.Message == "" {
			t.Errorf("classifyVonageProblem(%d, %s) = %v, want %v", tc.status, tc.body, e, tc.want)
		}
	}
	if e := classifyVonageProblem(403, []byte(`{"type":"https://x#out-of-credit","title":"T","detail":"D"}`)); e.Code != "out-of-credit" || !strings.Contains(e.Error(), "T: D") {
		t.Errorf("problem details lost: %v (code %q)", e, e.Code)
	}
}

package vonage

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
)

func TestVonageNumbersErrorMapping(t *testing.T) {
	cases := []struct {
		op     string
		status int
		body   string
		want   error // nil: success
	}{
		{"buy", 200, `{"error-code":"200","error-code-label":"success"}`, nil},
		{"search", 200, `{"count":1,"numbers":[]}`, nil},
		{"buy", 420, `{"error-code":"420","error-code-label":"method failed"}`, provider.ErrNumberUnavailable},
		{"buy", 200, `{"error-code":"420","error-code-label":"Numbers from this country can be requested from the Dashboard"}`, provider.ErrNumberUnavailable},
		{"update", 420, `{"error-code":"420","error-code-label":"method failed"}`, provider.ErrBadRequest},
		{"cancel", 420, `{"error-code":"420","error-code-label":"method failed"}`, provider.ErrBadRequest},
		{"list", 401, `{"error-code":"401","error-code-label":"authentication failed"}`, provider.ErrInvalidCredentials},
		{"buy", 200, `{"error-code":"401","error-code-label":"authentication failed"}`, provider.ErrInvalidCredentials},
		{"buy", 420, `{"error-code":"420","error-code-label":"Insufficient balance"}`, provider.ErrInsufficientBalance},
		{"search", 429, `{"error-code":"429","error-code-label":"too many requests"}`, provider.ErrRateLimited},
		{"search", 500, `oops`, provider.ErrProviderDown},
		{"search", 404, ``, provider.ErrNotFound},
		{"search", 400, `{"error-code":"200"}`, provider.ErrBadRequest},
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
		"1": provider.ErrRateLimited, "2": provider.ErrBadRequest, "3": provider.ErrBadRequest, "4": provider.ErrInvalidCredentials,
		"5": provider.ErrProviderDown, "6": provider.ErrBadRequest, "7": provider.ErrBadRequest, "8": provider.ErrInvalidCredentials,
		"9": provider.ErrInsufficientBalance, "10": provider.ErrRateLimited, "11": provider.ErrInvalidCredentials, "12": provider.ErrBadRequest,
		"14": provider.ErrInvalidCredentials, "15": provider.ErrBadRequest, "22": provider.ErrBadRequest, "23": provider.ErrBadRequest,
		"29": provider.ErrBadRequest, "32": provider.ErrInvalidCredentials, "33": provider.ErrBadRequest,
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
	if e := classifyVonageSMS(200, []byte(`{"message-count":"2","messages":[{"status":"9","error-text":"Quota"},{"status":"9","error-text":"Quota"}]}`)); e == nil || !errors.Is(e, provider.ErrInsufficientBalance) {
		t.Errorf("no part accepted: %v", e)
	}
	// A 2xx we cannot read may have been sent: never retried.
	if e := classifyVonageSMS(200, []byte(`garbage`)); e == nil || !errors.Is(e, provider.ErrBadRequest) || errors.Is(e, provider.ErrProviderDown) {
		t.Errorf("unreadable 200: %v", e)
	}
	if e := classifyVonageSMS(401, []byte(`{}`)); !errors.Is(e, provider.ErrInvalidCredentials) {
		t.Errorf("401: %v", e)
	}
}

func TestVonageProblemMapping(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   error
	}{
		{401, `{"type":"https://developer.nexmo.com/api-errors#unauthorized","title":"Unauthorized"}`, provider.ErrInvalidCredentials},
		{403, `{"type":"https://developer.vonage.com/api-errors#account-suspended","title":"Account suspended"}`, provider.ErrInvalidCredentials},
		{401, `{"type":"https://developer.vonage.com/api-errors#jwt-expired","title":"JWT expired"}`, provider.ErrInvalidCredentials},
		{402, `{"type":"https://developer.vonage.com/api-errors#low-balance","title":"Low balance"}`, provider.ErrInsufficientBalance},
		{403, `{"type":"https://example.com/Error#out-of-credit","title":"You do not have enough credit","detail":"Your current balance is 30, but that costs 50."}`, provider.ErrInsufficientBalance},
		{429, `{"type":"https://developer.vonage.com/api-errors#throttled","title":"Throttled"}`, provider.ErrRateLimited},
		{404, `{"type":"https://developer.vonage.com/api-errors#not-found","title":"Not found"}`, provider.ErrNotFound},
		{422, `{"type":"https://developer.vonage.com/api-errors#invalid-params","title":"Invalid params"}`, provider.ErrBadRequest},
		{400, `{"title":"Bad Request","detail":"Invalid JSON"}`, provider.ErrBadRequest},
		{500, `{"type":"https://developer.vonage.com/api-errors#internal-error","title":"Internal Error"}`, provider.ErrProviderDown},
		{502, `<html>`, provider.ErrProviderDown},
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

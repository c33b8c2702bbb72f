package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/trunk"
)

// TestErrorTablePinned pins every row of the error table: the domain error,
// its status, its code and the field it names. A row added, removed or
// changed fails here until this list says so.
func TestErrorTablePinned(t *testing.T) {
	want := []struct {
		err    error
		status int
		code   string
		field  string
	}{
		{numbers.ErrNumberOwned, 409, "conflict", "phone_number"},
		{numbers.ErrAssistantNotFound, 404, "not_found", "assistant_id"},
		{numbers.ErrTrunkNotFound, 404, "not_found", "sip_trunk_id"},
		{numbers.ErrNumberNotFound, 404, "not_found", "phone_number"},
		{trunk.ErrNoTrunk, 400, "validation_failed", "sip_trunk_id"},
		{numbers.ErrProviderMismatch, 400, "validation_failed", "provider"},
		{numbers.ErrVoiceOnly, 400, "validation_failed", "provider"},
		{trunk.ErrBadTerminationURI, 400, "validation_failed", "terminationUri"},
		{numbers.ErrNoPublicURL, 503, "not_configured", ""},
		{trunk.ErrGatewayRequired, 400, "validation_failed", "sip_gateway"},
		{call.ErrNoAssistant, 404, "not_found", "assistant_id"},
		{call.ErrTooManyCalls, 429, "limit_exceeded", ""},
		{call.ErrCallRateExceeded, 429, "limit_exceeded", ""},
		{call.ErrNotSIPNumber, 501, "not_implemented", "phone_number"},
		{call.ErrAMDHosted, 501, "not_implemented", "amd"},
		{call.ErrSwitchUnavailable, 503, "switch_unavailable", ""},
		{call.ErrCallCancelled, 409, "cancelled", ""},
		{call.ErrDraining, 503, "draining", ""},
		{call.ErrNoCallbackSecret, 422, "no_webhook_secret", "status_callback"},
		{call.ErrBadNumber, 400, "validation_failed", "to_phone_number"},
		{call.ErrNoEnabledTrunk, 422, "no_trunk", "to_phone_number"},
		{hosted.ErrProviderCall, 502, "provider_failed", ""},
		{call.ErrCountryNotAllowed, 403, "country_not_allowed", "to_phone_number"},
		{call.ErrNumberTypeNotAllowed, 403, "number_type_not_allowed", "to_phone_number"},
		{call.ErrTransferAddressRefused, 403, "address_not_allowed", "to_phone_number"},
		{call.ErrCallNotFound, 409, "call_not_live", ""},
		{call.ErrBadTransferTarget, 400, "validation_failed", "to_phone_number"},
		{call.ErrNoReferTemplate, 400, "validation_failed", "mode"},
		{call.ErrBadTransferMode, 400, "validation_failed", "mode"},
		{call.ErrUnknownTransferMode, 400, "validation_failed", "mode"},
		{call.ErrWarmNeedsNumber, 400, "validation_failed", "mode"},
		{call.ErrWarmUnsupported, 501, "not_implemented", "mode"},
		{call.ErrNotAnswered, 409, "not_answered", ""},
		{call.ErrTransferInProgress, 409, "transfer_in_progress", ""},
		{call.ErrBadStreamToken, 403, "forbidden", ""},
		{hosted.ErrWebhookSignature, 403, "invalid_signature", ""},
		{hosted.ErrBadWebhook, 400, "bad_webhook", ""},
		{sms.ErrNoAssistantForNumber, 404, "not_found", "phone_number"},
		{sms.ErrMediaLimit, 400, "validation_failed", "media_urls"},
		{sms.ErrOptedOut, 409, "opted_out", "to_phone_number"},
		{provider.ErrNumberUnavailable, 409, "number_unavailable", ""},
		{provider.ErrInsufficientBalance, 402, "insufficient_balance", ""},
		{provider.ErrInvalidCredentials, 424, "provider_credentials", ""},
		{provider.ErrRateLimited, 429, "provider_rate_limited", ""},
		{provider.ErrProviderDown, 502, "provider_unavailable", ""},
		{provider.ErrNotFound, 404, "provider_not_found", ""},
		{provider.ErrNotSupported, 501, "not_supported", ""},
		{provider.ErrBadRequest, 400, "provider_rejected", ""},
		{db.ErrNotFound, 404, "not_found", ""},
		{db.ErrConflict, 409, "conflict", ""},
		{db.ErrLastAPIKey, 409, "conflict", ""},
	}
	if len(errorTable) != len(want) {
		t.Fatalf("the table has %d rows, this test pins %d", len(errorTable), len(want))
	}
	for i, w := range want {
		if r := errorTable[i]; r.err != w.err {
			t.Errorf("row %d is %v, want %v", i, r.err, w.err)
		}
		// Each error answers its row, as is and wrapped with context.
		for _, err := range []error{w.err, fmt.Errorf("doing something: %w", w.err)} {
			ae := ToAPIError(err)
			if ae.Status != w.status || ae.Code != w.code || ae.Field != w.field || ae.Message == "" {
				t.Errorf("%v: %d %s field %q message %q, want %d %s field %q", err, ae.Status, ae.Code, ae.Field, ae.Message, w.status, w.code, w.field)
			}
		}
	}
	// Every call error has its row, which answers the status and code the
	// error carries.
	for _, e := range call.Errors {
		if r, ok := rowFor(e); !ok || r.err != error(e) || r.status != e.Status || r.code != e.Code || r.field != e.Field {
			t.Errorf("call error %q: row %+v", e, r)
		}
	}
	// An error the table does not know stays a 500 that says nothing.
	if ae := ToAPIError(errors.New("secret detail")); ae.Status != 500 || ae.Code != "internal" || ae.Message != "internal error" {
		t.Errorf("unknown error: %+v", ae)
	}
}

// The database unreachable (refused, a connection cut mid-query) is 503 at
// once, its cause logged, not answered; a bare deadline stays a 500.
func TestErrorTableDatabaseUnavailable(t *testing.T) {
	refused := fmt.Errorf("failed to connect to `user=postgres`: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	for _, err := range []error{refused, fmt.Errorf("query: %w", io.ErrUnexpectedEOF)} {
		ae := ToAPIError(err)
		if ae.Status != 503 || ae.Code != "unavailable" || strings.Contains(ae.Message, "postgres") || ae.Cause == nil {
			t.Errorf("%v: %+v, want 503 unavailable without the cause", err, ae)
		}
	}
	if ae := ToAPIError(context.DeadlineExceeded); ae.Status != 500 {
		t.Errorf("a bare deadline: %+v, want 500", ae)
	}
}

// A provider's error answers with the provider's own message; a failed call
// request wrapping it is the call request's failure (the row order).
func TestErrorTableProviderErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{&provider.Error{Provider: "twilio", Kind: provider.ErrNumberUnavailable, Status: 400, Code: "21422", Message: "not available"}, 409, "number_unavailable", "twilio: not available"},
		{&provider.Error{Provider: "vonage", Kind: provider.ErrInvalidCredentials, Message: "bad key"}, 424, "provider_credentials", "vonage: bad key"},
		{&provider.Error{Provider: "telnyx", Kind: context.DeadlineExceeded, Message: "no answer"}, 504, "provider_timeout", "telnyx: no answer"},
		{&provider.Error{Provider: "telnyx", Kind: provider.ErrInvalidSignature, Message: "x"}, 502, "provider_error", "telnyx: x"},
		{fmt.Errorf("%w: %w", hosted.ErrProviderCall, &provider.Error{Provider: "twilio", Kind: provider.ErrBadRequest, Message: "bad To"}), 502, "provider_failed",
			"provider call request failed: twilio: rejected by provider: bad To"},
		// A bare deadline is not a provider's answer.
		{context.DeadlineExceeded, 500, "internal", "internal error"},
	} {
		ae := ToAPIError(tc.err)
		if ae.Status != tc.status || ae.Code != tc.code || ae.Message != tc.msg {
			t.Errorf("%v: %d %s %q, want %d %s %q", tc.err, ae.Status, ae.Code, ae.Message, tc.status, tc.code, tc.msg)
		}
	}
	// A malformed webhook's parse error is logged, never answered.
	ae := ToAPIError(fmt.Errorf("%w: json: cannot unmarshal number into Go struct field", hosted.ErrBadWebhook))
	if ae.Message != "malformed provider webhook" || ae.Cause == nil {
		t.Errorf("bad webhook: %+v", ae)
	}
}

// Routes word the table's answer with their own inputs; status and code do
// not change.
func TestErrorTableRouteWording(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		status       int
		field, msg   string
		checkMessage bool
	}{
		// The hosted routes answered "PUBLIC_BASE_URL is not configured"; every
		// route now answers the error's whole sentence.
		{"no public URL", numbers.ErrNoPublicURL, 503, "", numbers.ErrNoPublicURL.Error(), true},
	} {
		ae := ToAPIError(tc.err)
		if ae.Status != tc.status || ae.Field != tc.field || (tc.checkMessage && ae.Message != tc.msg) {
			t.Errorf("%s: %d field %q %q, want %d field %q %q", tc.name, ae.Status, ae.Field, ae.Message, tc.status, tc.field, tc.msg)
		}
	}
}

// The OpenAPI document lists the table's codes by status, so a client sees
// what each status can mean.
func TestErrorCodesDoc(t *testing.T) {
	doc := errorCodesDoc()
	for _, want := range []string{"422 no_trunk, no_webhook_secret", "409 call_not_live, cancelled, conflict,", "502 provider_error, provider_failed, provider_unavailable", "504 provider_timeout"} {
		if !strings.Contains(doc, want) {
			t.Errorf("%q missing from %q", want, doc)
		}
	}
}

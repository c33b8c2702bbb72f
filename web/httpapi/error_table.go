package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/trunk"
)

// errorRow is the API's answer to one domain error: its status, its machine
// code and the request input it names. The domain packages know nothing of
// HTTP; this table is the one place their errors become statuses.
type errorRow struct {
	err    error // matched with errors.Is
	status int
	code   string
	// field is the input the error is about, under the name the calls and
	// numbers APIs give it (to_phone_number: the destination, phone_number:
	// the organization's own number); a route whose input has another name
	// renames it (Wording).
	field string
	// msg is a fixed public message; "" answers the error's own text (a
	// provider's error: "provider: its message").
	msg string
	// hidden: the error's text is an internal reason (a parse error) that is
	// logged with the refusal and never answered.
	hidden bool
	// provider: a provider.Error answers with the provider's own message.
	provider bool
}

const (
	codeInvalid  = "validation_failed"
	codeNotFound = "not_found"
	codeConflict = "conflict"
)

// errorTable is every domain error the API answers with something else than
// 500. Order matters where an error wraps another: controller errors first
// (ErrProviderCall wraps the provider's error), then the provider's kinds,
// then the store's.
var errorTable = []errorRow{
	// Phone numbers.
	{err: numbers.ErrNumberOwned, status: http.StatusConflict, code: codeConflict, field: "phone_number", msg: "this number is already registered"},
	{err: numbers.ErrAssistantNotFound, status: http.StatusNotFound, code: codeNotFound, field: "assistant_id", msg: "assistant not found"},
	{err: numbers.ErrTrunkNotFound, status: http.StatusNotFound, code: codeNotFound, field: "sip_trunk_id", msg: "SIP trunk not found"},
	{err: numbers.ErrNumberNotFound, status: http.StatusNotFound, code: codeNotFound, field: "phone_number", msg: "phone number not found"},
	{err: trunk.ErrNoTrunk, status: http.StatusBadRequest, code: codeInvalid, field: "sip_trunk_id"},
	{err: numbers.ErrProviderMismatch, status: http.StatusBadRequest, code: codeInvalid, field: "provider"},
	{err: numbers.ErrVoiceOnly, status: http.StatusBadRequest, code: codeInvalid, field: "provider"},
	{err: trunk.ErrBadTerminationURI, status: http.StatusBadRequest, code: codeInvalid, field: "terminationUri"},
	{err: numbers.ErrNoPublicURL, status: http.StatusServiceUnavailable, code: "not_configured"},
	{err: trunk.ErrGatewayRequired, status: http.StatusBadRequest, code: codeInvalid, field: "sip_gateway"},

	// Placing a call.
	callRow(call.ErrNoAssistant),
	callRow(call.ErrTooManyCalls),
	callRow(call.ErrCallRateExceeded),
	callRow(call.ErrNotSIPNumber),
	callRow(call.ErrAMDHosted),
	callRow(call.ErrSwitchUnavailable),
	callRow(call.ErrCallCancelled),
	callRow(call.ErrDraining),
	callRow(call.ErrNoCallbackSecret),
	callRow(call.ErrBadNumber),
	callRow(call.ErrNoEnabledTrunk).saying("the organization has no enabled SIP trunk to dial the call through"),
	{err: hosted.ErrProviderCall, status: http.StatusBadGateway, code: "provider_failed"},

	// Destinations: the same rules for calls, transfers and messages.
	callRow(call.ErrCountryNotAllowed),
	callRow(call.ErrNumberTypeNotAllowed),
	callRow(call.ErrTransferAddressRefused),

	// A live call.
	callRow(call.ErrCallNotFound).saying("the call is not live on this sipbridge"),
	callRow(call.ErrBadTransferTarget),
	callRow(call.ErrNoReferTemplate),
	callRow(call.ErrBadTransferMode),
	callRow(call.ErrUnknownTransferMode),
	callRow(call.ErrWarmNeedsNumber),
	callRow(call.ErrWarmUnsupported),
	callRow(call.ErrNotAnswered),
	callRow(call.ErrTransferInProgress),
	callRow(call.ErrBadStreamToken).saying("unknown call or bad stream token"),

	// Hosted providers' webhooks.
	{err: hosted.ErrWebhookSignature, status: http.StatusForbidden, code: "invalid_signature", msg: "webhook signature invalid"},
	{err: hosted.ErrBadWebhook, status: http.StatusBadRequest, code: "bad_webhook", msg: "malformed provider webhook", hidden: true},

	// Messages.
	{err: sms.ErrNoAssistantForNumber, status: http.StatusNotFound, code: codeNotFound, field: "phone_number"},
	{err: sms.ErrMediaLimit, status: http.StatusBadRequest, code: codeInvalid, field: "media_urls"},
	{err: sms.ErrOptedOut, status: http.StatusConflict, code: "opted_out", field: "to_phone_number"},

	// A provider's answer, by kind (provider.Error's message is answered).
	{err: provider.ErrNumberUnavailable, status: http.StatusConflict, code: "number_unavailable", provider: true},
	{err: provider.ErrInsufficientBalance, status: http.StatusPaymentRequired, code: "insufficient_balance", provider: true},
	{err: provider.ErrInvalidCredentials, status: http.StatusFailedDependency, code: "provider_credentials", provider: true},
	{err: provider.ErrRateLimited, status: http.StatusTooManyRequests, code: "provider_rate_limited", provider: true},
	{err: provider.ErrProviderDown, status: http.StatusBadGateway, code: "provider_unavailable", provider: true},
	{err: provider.ErrNotFound, status: http.StatusNotFound, code: "provider_not_found", provider: true},
	{err: provider.ErrNotSupported, status: http.StatusNotImplemented, code: "not_supported", provider: true},
	{err: provider.ErrBadRequest, status: http.StatusBadRequest, code: "provider_rejected", provider: true},

	// The store.
	{err: db.ErrNotFound, status: http.StatusNotFound, code: codeNotFound, msg: "resource not found"},
	{err: db.ErrConflict, status: http.StatusConflict, code: codeConflict, msg: "a record with the same unique value already exists"},
	{err: db.ErrLastAPIKey, status: http.StatusConflict, code: codeConflict,
		msg: "this is the organization's last active API key: create another key before revoking it"},
}

// callRow is a call error's row: the status, code and field are the
// error's own (call.Error), decided in package call.
func callRow(e *call.Error) errorRow {
	return errorRow{err: e, status: e.Status, code: e.Code, field: e.Field}
}

// saying gives a row a fixed public message.
func (r errorRow) saying(msg string) errorRow {
	r.msg = msg
	return r
}

// providerTimeout and providerOther answer a provider.Error whose kind has no row of its own
// (a signature failure, an unknown kind): the provider failed.
var (
	providerTimeout = errorRow{err: context.DeadlineExceeded, status: http.StatusGatewayTimeout, code: "provider_timeout", provider: true}
	providerOther   = errorRow{status: http.StatusBadGateway, code: "provider_error", provider: true}
)

// Wording adapts the table's answer to one route's inputs: Fields
// renames the table's field to the route's input ("" when the route has no
// such input), Field sets one error's field, Messages words one error's message
// with the request's values. Statuses and codes are the table's alone.
type Wording struct {
	Fields   map[string]string
	Field    map[error]string
	Messages map[error]string
}

// dbUnavailable answers a request that needed the database while it
// cannot be reached: 503 at once (its cause logged, not answered).
var dbUnavailable = errorRow{status: http.StatusServiceUnavailable, code: "unavailable",
	msg: "the database is unavailable; try again shortly", hidden: true}

// rowFor finds err's row; ok is false for an error the table does not know.
func rowFor(err error) (errorRow, bool) {
	for _, r := range errorTable {
		if errors.Is(err, r.err) {
			return r, true
		}
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		if errors.Is(err, context.DeadlineExceeded) {
			return providerTimeout, true
		}
		return providerOther, true
	}
	if db.Unavailable(err) {
		return dbUnavailable, true
	}
	return errorRow{}, false
}

// ErrorIn is the one function errors become API errors through (the
// error handler calls it with no wording, a route with its own). An error
// the table does not know is returned as is (500 internal).
func ErrorIn(err error, w Wording) error {
	var ae *APIError
	if err == nil || errors.As(err, &ae) {
		return err
	}
	row, ok := rowFor(err)
	if !ok {
		return err
	}
	out := &APIError{Status: row.status, Code: row.code, Field: row.field, Message: row.msg}
	if f, ok := w.Fields[out.Field]; ok && out.Field != "" {
		out.Field = f
	}
	if f, ok := w.Field[row.err]; ok && row.err != nil {
		out.Field = f
	}
	if m, ok := w.Messages[row.err]; ok && row.err != nil {
		out.Message = m
	}
	var pe *provider.Error
	switch {
	case out.Message != "":
	case row.provider && errors.As(err, &pe):
		out.Message = pe.Provider + ": " + pe.Message
	default:
		out.Message = err.Error()
	}
	if row.hidden {
		out.Cause = err
	}
	return out
}

// errorCodesDoc lists the table's codes by status for the OpenAPI document
// ("403 address_not_allowed, country_not_allowed, …; 409 …").
func errorCodesDoc() string {
	byStatus := map[int][]string{}
	for _, r := range append(slices.Clone(errorTable), providerTimeout, providerOther) {
		if !slices.Contains(byStatus[r.status], r.code) {
			byStatus[r.status] = append(byStatus[r.status], r.code)
		}
	}
	statuses := make([]int, 0, len(byStatus))
	for st := range byStatus {
		statuses = append(statuses, st)
	}
	slices.Sort(statuses)
	parts := make([]string, 0, len(statuses))
	for _, st := range statuses {
		codes := byStatus[st]
		slices.Sort(codes)
		parts = append(parts, strconv.Itoa(st)+" "+strings.Join(codes, ", "))
	}
	return "Error codes by status (besides validation_failed 400, unauthorized 401, not_found 404 and internal 500): " + strings.Join(parts, "; ")
}

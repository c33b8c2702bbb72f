package call

import "net/http"

// Error is a call error that carries its HTTP answer: the status, the
// machine code and the request input it is about ("" for none). web's
// error table builds its call rows from these (callRow), so the status of
// a call error is decided here, once.
type Error struct {
	msg    string
	Status int
	Code   string
	// Field is the input the error is about, under the name the calls API
	// gives it (to_phone_number: the destination, phone_number: the
	// organization's own number).
	Field string
}

func (e *Error) Error() string { return e.msg }

func newError(status int, code, field, msg string) *Error {
	return &Error{msg: msg, Status: status, Code: code, Field: field}
}

const codeInvalid = "validation_failed"

// Placing a call.
var (
	// ErrBadNumber means to or from is not an E.164 number.
	ErrBadNumber = newError(http.StatusBadRequest, codeInvalid, "to_phone_number", "not an E.164 phone number")
	// ErrNoAssistant means neither the request nor the number names an
	// assistant.
	ErrNoAssistant = newError(http.StatusNotFound, "not_found", "assistant_id", "no assistant for the call")
	// ErrSwitchUnavailable means FreeSWITCH's Event Socket is not connected.
	ErrSwitchUnavailable = newError(http.StatusServiceUnavailable, "switch_unavailable", "", "FreeSWITCH is not connected")
	// ErrCallCancelled means the call was hung up (API) while it rang.
	ErrCallCancelled = newError(http.StatusConflict, "cancelled", "", "the call was cancelled while it rang")
	// ErrNotSIPNumber means the from-number is not on a SIP trunk and its
	// provider has no voice path configured here.
	ErrNotSIPNumber = newError(http.StatusNotImplemented, "not_implemented", "phone_number", "the number's provider cannot place calls here")
	// ErrAMDHosted: answering machine detection listens to the call's
	// audio on the switch, which a provider-hosted number's call does not
	// pass through; Twilio and Telnyx detect for their numbers, Vonage is
	// not asked.
	ErrAMDHosted = newError(http.StatusNotImplemented, "not_implemented", "amd", "answering machine detection runs on calls from numbers on a SIP trunk, at Twilio or at Telnyx only")
	// ErrDraining means the process is shutting down and takes no new call.
	ErrDraining = newError(http.StatusServiceUnavailable, "draining", "", "sipbridge is draining: no new calls")
	// ErrNoCallbackSecret: a status_callback needs the assistant's webhook
	// secret to sign its POSTs.
	ErrNoCallbackSecret = newError(http.StatusUnprocessableEntity, "no_webhook_secret", "status_callback",
		"status_callback is signed with the assistant's webhook secret, and the assistant has none: create one with POST /api/v1/assistants/{id}/sms-webhook-secret")
	// ErrNoEnabledTrunk: the request is well formed but the organization has
	// nothing to dial it through; like a missing webhook secret, a 422 the
	// caller fixes by enabling a trunk. No upstream was asked, so not 502.
	ErrNoEnabledTrunk = newError(http.StatusUnprocessableEntity, "no_trunk", "to_phone_number", "no enabled SIP trunk to dial through")
)

// Safety limits (limits.go): 429 for the first two, 403 for the country and
// the number type.
var (
	ErrTooManyCalls      = newError(http.StatusTooManyRequests, "limit_exceeded", "", "the organization's concurrent call limit is reached")
	ErrCallRateExceeded  = newError(http.StatusTooManyRequests, "limit_exceeded", "", "the organization's calls-per-second limit is exceeded")
	ErrCountryNotAllowed = newError(http.StatusForbidden, "country_not_allowed", "to_phone_number",
		"the destination country is not in the organization's outbound allow-list")
	// ErrNumberTypeNotAllowed: a premium-rate, shared-cost or satellite
	// number the organization has not allowed (call_limits.allow_number_types).
	ErrNumberTypeNotAllowed = newError(http.StatusForbidden, "number_type_not_allowed", "to_phone_number",
		"the destination is a costly number type the organization does not allow")
	// ErrTransferAddressRefused: a sip: transfer target whose host the
	// address policy refuses.
	ErrTransferAddressRefused = newError(http.StatusForbidden, "address_not_allowed", "to_phone_number",
		"transfer target host not allowed by the address policy")
)

// A live call.
var (
	// ErrCallNotFound means no live call has that id (or it belongs to
	// another organization).
	ErrCallNotFound = newError(http.StatusConflict, "call_not_live", "", "call not found or not live")
	// ErrBadTransferTarget: a transfer target that is neither a sip: URI nor
	// an E.164 number.
	ErrBadTransferTarget = newError(http.StatusBadRequest, codeInvalid, "to_phone_number", "transfer target must be a sip: URI or an E.164 number")
	// ErrNoReferTemplate: mode refer to a number, and the call's trunk says
	// nothing of how to write a REFER to it.
	ErrNoReferTemplate = newError(http.StatusBadRequest, codeInvalid, "mode", "mode refer to a phone number needs the call's trunk to have a refer_to_template")
	// ErrBadTransferMode: mode bridge to a sip: URI without a number.
	ErrBadTransferMode = newError(http.StatusBadRequest, codeInvalid, "mode", "mode bridge needs an E.164 number (or a sip: URI whose user is one)")
	// ErrUnknownTransferMode: a mode that is none of refer, bridge, warm.
	ErrUnknownTransferMode = newError(http.StatusBadRequest, codeInvalid, "mode", "mode must be refer, bridge or warm")
	// ErrWarmNeedsNumber: mode warm to a sip: URI without a number (the
	// target is dialled through the trunks).
	ErrWarmNeedsNumber = newError(http.StatusBadRequest, codeInvalid, "mode", "mode warm needs an E.164 number (or a sip: URI whose user is one)")
	// ErrWarmUnsupported: mode warm on a provider-hosted call.
	ErrWarmUnsupported = newError(http.StatusNotImplemented, "not_implemented", "mode", "mode warm is supported on SIP trunk calls only, not on provider-hosted calls")
	// ErrNotAnswered means the call is still ringing: it cannot be
	// transferred yet.
	ErrNotAnswered = newError(http.StatusConflict, "not_answered", "", "the call has not been answered yet")
	// ErrTransferInProgress: the call is already being transferred.
	ErrTransferInProgress = newError(http.StatusConflict, "transfer_in_progress", "", "a transfer of this call is already under way")
	// ErrBadStreamToken means a media websocket presented a token that is
	// not the live call's.
	ErrBadStreamToken = newError(http.StatusForbidden, "forbidden", "", "unknown call or bad stream token")
)

// Errors lists every call error, for web's error table and its test.
var Errors = []*Error{
	ErrBadNumber, ErrNoAssistant, ErrSwitchUnavailable, ErrCallCancelled, ErrNotSIPNumber, ErrDraining,
	ErrNoCallbackSecret, ErrNoEnabledTrunk, ErrTooManyCalls, ErrCallRateExceeded, ErrCountryNotAllowed,
	ErrNumberTypeNotAllowed, ErrTransferAddressRefused, ErrCallNotFound, ErrBadTransferTarget,
	ErrNoReferTemplate, ErrBadTransferMode, ErrUnknownTransferMode, ErrWarmNeedsNumber, ErrWarmUnsupported, ErrNotAnswered, ErrTransferInProgress, ErrBadStreamToken,
}

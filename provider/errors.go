package provider

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error a client returns wraps one of them (use
// errors.Is); provider failures are a [*Error] carrying the provider's own
// code and message.
var (
	// ErrNumberUnavailable: the number is no longer available (bought by
	// someone else, already owned, not orderable).
	ErrNumberUnavailable = errors.New("number unavailable")
	// ErrInsufficientBalance: the account lacks funds for the operation.
	ErrInsufficientBalance = errors.New("insufficient balance")
	// ErrInvalidCredentials: the provider refused our credentials (or the
	// account is suspended or not allowed to do this).
	ErrInvalidCredentials = errors.New("invalid provider credentials")
	// ErrRateLimited: the provider throttled us.
	ErrRateLimited = errors.New("rate limited by provider")
	// ErrProviderDown: the provider failed (5xx), timed out or could not be
	// reached.
	ErrProviderDown = errors.New("provider unavailable")
	// ErrNotFound: the number, call or message does not exist at the provider.
	ErrNotFound = errors.New("not found at provider")
	// ErrNotSupported: the provider cannot do this (a SIP trunk cannot search
	// numbers).
	ErrNotSupported = errors.New("not supported by provider")
	// ErrBadRequest: the provider rejected the request's content, or the
	// request is invalid before it is sent.
	ErrBadRequest = errors.New("rejected by provider")
	// ErrInvalidSignature: a webhook's signature is missing, malformed, does
	// not match, or is too old.
	ErrInvalidSignature = errors.New("invalid webhook signature")
)

// Error is a failure reported by a provider. It matches its Kind with
// errors.Is.
type Error struct {
	// Provider is NameTwilio, NameTelnyx or NameVonage.
	Provider string
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Status is the HTTP status of the provider's response (0 when the
	// failure came inside a 200 answer, as Vonage does).
	Status int
	// Code is the provider's own error code ("21422", "10009", "9").
	Code string
	// Message is the provider's human-readable explanation.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	var extra []string
	if e.Code != "" {
		extra = append(extra, "code "+e.Code)
	}
	if e.Status != 0 {
		extra = append(extra, fmt.Sprintf("http %d", e.Status))
	}
	if len(extra) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(extra, ", "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

// BadRequest is an error raised before anything is sent.
func BadRequest(provider, format string, args ...any) error {
	return &Error{Provider: provider, Kind: ErrBadRequest, Message: fmt.Sprintf(format, args...)}
}

// NotSupported is an ErrNotSupported for provider.
func NotSupported(provider, what string) error {
	return &Error{Provider: provider, Kind: ErrNotSupported, Message: what}
}

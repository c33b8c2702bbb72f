package provider

import (
	"context"
	"errors"
	"net/http"
)

// HTTPStatus is the tests' one-number summary of an error's kind (the
// API's status for each kind is web's error table):
// ErrNumberUnavailable 409, ErrInsufficientBalance 402,
// ErrInvalidCredentials 424, ErrRateLimited 429, ErrProviderDown 502,
// ErrNotFound 404, ErrNotSupported 501, ErrBadRequest 400,
// ErrInvalidSignature 403, a context deadline 504; nil is 200 and anything
// else 500.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrNumberUnavailable):
		return http.StatusConflict
	case errors.Is(err, ErrInsufficientBalance):
		return http.StatusPaymentRequired
	case errors.Is(err, ErrInvalidCredentials):
		return http.StatusFailedDependency
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrProviderDown):
		return http.StatusBadGateway
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrNotSupported):
		return http.StatusNotImplemented
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrInvalidSignature):
		return http.StatusForbidden
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

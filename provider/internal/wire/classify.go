package wire

import (
	"net/http"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
)

// KindForStatus is the default classification of an HTTP status when the
// provider's body says nothing more specific.
func KindForStatus(status int) error {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return provider.ErrInvalidCredentials
	case status == http.StatusPaymentRequired:
		return provider.ErrInsufficientBalance
	case status == http.StatusNotFound:
		return provider.ErrNotFound
	case status == http.StatusConflict:
		return provider.ErrNumberUnavailable
	case status == http.StatusTooManyRequests:
		return provider.ErrRateLimited
	case status >= 500:
		return provider.ErrProviderDown
	default:
		return provider.ErrBadRequest
	}
}

// MentionsBalance reports whether a provider message is about missing funds.
func MentionsBalance(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "insufficient funds") ||
		strings.Contains(m, "insufficient balance") ||
		strings.Contains(m, "low balance") ||
		strings.Contains(m, "not enough credit") ||
		strings.Contains(m, "out of credit") ||
		strings.Contains(m, "out-of-credit")
}

// MentionsUnavailable reports whether a provider message says a number can
// no longer be had.
func MentionsUnavailable(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "not available") ||
		strings.Contains(m, "unavailable") ||
		strings.Contains(m, "no longer available") ||
		strings.Contains(m, "already reserved") ||
		strings.Contains(m, "already owned") ||
		strings.Contains(m, "already own")
}

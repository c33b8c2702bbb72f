package controller

import "github.com/sipbridge/sipbridge/numbers"

// Errors of the numbers service that call control and BYOC also return
// (the same values: errors.Is matches either name).
var (
	ErrNumberOwned       = numbers.ErrNumberOwned
	ErrAssistantNotFound = numbers.ErrAssistantNotFound
	ErrNumberNotFound    = numbers.ErrNumberNotFound
	ErrNoPublicURL       = numbers.ErrNoPublicURL
)

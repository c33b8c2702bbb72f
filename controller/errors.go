package controller

import (
	"errors"

	"github.com/sipbridge/sipbridge/numbers"
)

// Errors of the numbers service that call control and BYOC also return
// (the same values: errors.Is matches either name).
var (
	ErrNumberOwned       = numbers.ErrNumberOwned
	ErrAssistantNotFound = numbers.ErrAssistantNotFound
	ErrNumberNotFound    = numbers.ErrNumberNotFound
	ErrNoPublicURL       = numbers.ErrNoPublicURL
)

// ErrNoTrunk: a byo-sip-trunk number needs a trunk and the organization has
// none (Trunks.DefaultFor).
var ErrNoTrunk = errors.New("the organization has no SIP trunk to put the number on")

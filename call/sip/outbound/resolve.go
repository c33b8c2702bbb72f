// Package outbound reads what an outbound SIP call is placed from, before
// call control admits and dials it: its numbers checked, the
// organization's number it is placed from, the assistant that talks and
// the organization.
package outbound

import (
	"context"
	"errors"
	"fmt"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/route/did"
)

// CheckNumbers refuses a to or from number not in E.164, naming the field.
func CheckNumbers(req call.InitiateRequest) error {
	if !did.IsE164(req.To) {
		return fmt.Errorf("%w: to_phone_number %q", call.ErrBadNumber, req.To)
	}
	if !did.IsE164(req.From) {
		return fmt.Errorf("%w: from_phone_number %q", call.ErrBadNumber, req.From)
	}
	return nil
}

// Sources are what Resolve reads: the organization's active numbers
// (route.Router) and the store.
type Sources struct {
	Numbers interface {
		ActiveNumber(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, error)
	}
	Store interface {
		GetAssistant(ctx context.Context, orgID int64, id string) (*db.Assistant, error)
		GetOrg(ctx context.Context, id int64) (*db.Organization, error)
	}
}

// Resolve finds the call's number (req.From, active, the organization's),
// its assistant (the one asked for, else the number's outbound assistant,
// else its inbound one) and the organization. A number that is not on a
// SIP trunk is refused unless hosted calls can be placed (hosted).
func Resolve(ctx context.Context, src Sources, req call.InitiateRequest, hosted bool) (*call.Resolved, error) {
	number, err := src.Numbers.ActiveNumber(ctx, req.OrgID, req.From)
	if err != nil {
		return nil, numbers.ErrNumberNotFound
	}
	asstID := req.AssistantID
	switch {
	case asstID != "":
	case number.OutboundAssistantID != nil:
		asstID = *number.OutboundAssistantID
	case number.AssistantID != nil:
		asstID = *number.AssistantID
	default:
		return nil, call.ErrNoAssistant
	}
	a, err := src.Store.GetAssistant(ctx, req.OrgID, asstID)
	if err != nil {
		return nil, numbers.ErrAssistantNotFound
	}
	org, err := src.Store.GetOrg(ctx, req.OrgID)
	if err != nil {
		return nil, err
	}
	if number.Provider != db.ProviderBYOSIP && !hosted {
		return nil, fmt.Errorf("%w: %s", call.ErrNotSIPNumber, number.Provider)
	}
	return &call.Resolved{Org: org, Number: number, Assistant: a}, nil
}

// CheckCallbackSecret refuses a status callback (req.StatusCallback) when
// the assistant has no webhook secret to sign it with.
func CheckCallbackSecret(ctx context.Context, st interface {
	SMSWebhookSecret(ctx context.Context, assistantID string) (string, error)
}, req call.InitiateRequest, assistantID string) error {
	if req.StatusCallback == "" {
		return nil
	}
	if _, err := st.SMSWebhookSecret(ctx, assistantID); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return call.ErrNoCallbackSecret
		}
		return err
	}
	return nil
}

package numberapi

import (
	"context"
	"errors"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Assignment is a number's assistant and trunk as PATCH
// /phone-numbers/{id} takes them: nil leaves one as it is, "" unassigns it.
type Assignment struct {
	AssistantID, OutboundAssistantID, SIPTrunkID *string
}

// Editor assigns numbers exactly as the PATCH route does (each assistant and
// trunk the number's own organization's, 404 naming the field otherwise);
// other front ends (the operator console) use it so that an assignment is
// refused for the same reasons, in the same words. Errors are
// *httpapi.APIError.
type Editor struct{ s *Server }

// Assign sets the references a of the organization's number id.
func (e *Editor) Assign(ctx context.Context, orgID int64, id string, a Assignment) (*db.PhoneNumber, error) {
	n, err := e.s.store.GetNumber(ctx, orgID, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, httpapi.NotFound("phone number")
	}
	if err != nil {
		return nil, err
	}
	in := &numberInput{AssistantID: opt(a.AssistantID), OutboundAssistantID: opt(a.OutboundAssistantID), SIPTrunkID: opt(a.SIPTrunkID)}
	if err := e.s.applyNumberRefs(ctx, n, in); err != nil {
		return nil, err
	}
	if err := e.s.saveNumber(ctx, n); err != nil {
		return nil, err
	}
	return n, nil
}

func opt(v *string) httpapi.Opt[string] {
	if v == nil {
		return httpapi.Opt[string]{}
	}
	return httpapi.Opt[string]{Set: true, Value: *v}
}

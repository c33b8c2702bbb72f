package trunkapi

import (
	"context"
	"errors"
	"slices"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Input is a trunk's fields as the API takes them (nil: not sent).
type Input = trunkInput

// Editor writes trunks exactly as the trunk routes do (trunk.Apply, the
// address policy, the ACL bounds, the name and address checks, the
// reconciler told); other front ends (the operator console) use it so that
// a trunk is refused for the same reasons, naming the same fields. Errors
// are *httpapi.APIError.
type Editor struct{ s *Server }

// Create writes a new trunk of the organization.
func (e *Editor) Create(ctx context.Context, orgID int64, in *Input) (*db.SIPTrunk, error) {
	s := e.s
	t := &db.SIPTrunk{ID: db.NewID(), OrgID: orgID, Priority: 1, Enabled: true, Register: true, Transport: "udp"}
	pw, err := applyTrunk(t, in, false, s.acl)
	if err != nil {
		return nil, err
	}
	if err := s.checkTrunkAddresses(ctx, t); err != nil {
		return nil, err
	}
	if err := s.saveTrunk(ctx, t, pw, true, nil); err != nil {
		return nil, err
	}
	return s.store.GetTrunk(ctx, orgID, t.ID)
}

// Update changes the fields sent of the organization's trunk id.
func (e *Editor) Update(ctx context.Context, orgID int64, id string, in *Input) (*db.SIPTrunk, error) {
	s := e.s
	t, err := e.load(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	if err := s.refuseBYOCTrunk(ctx, t, false); err != nil {
		return nil, err
	}
	if err := refuseEnvironmentTrunk(t); err != nil {
		return nil, err
	}
	before := slices.Clone(t.AllowedAddresses)
	pw, err := applyTrunk(t, in, t.PasswordEnc != "", s.acl)
	if err != nil {
		return nil, err
	}
	if err := s.checkTrunkAddresses(ctx, t); err != nil {
		return nil, err
	}
	return e.finish(ctx, t, pw, before)
}

// SetEnabled enables or disables the organization's trunk id.
func (e *Editor) SetEnabled(ctx context.Context, orgID int64, id string, enabled bool) (*db.SIPTrunk, error) {
	t, err := e.load(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	t.Enabled = enabled
	return e.finish(ctx, t, nil, t.AllowedAddresses)
}

func (e *Editor) load(ctx context.Context, orgID int64, id string) (*db.SIPTrunk, error) {
	t, err := e.s.store.GetTrunk(ctx, orgID, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, httpapi.NotFound("SIP trunk")
	}
	return t, err
}

func (e *Editor) finish(ctx context.Context, t *db.SIPTrunk, pw *string, before []string) (*db.SIPTrunk, error) {
	t.Status = nil
	if err := e.s.saveTrunk(ctx, t, pw, false, before); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, httpapi.NotFound("SIP trunk")
		}
		return nil, err
	}
	return e.s.store.GetTrunk(ctx, t.OrgID, t.ID)
}

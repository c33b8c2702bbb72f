package numbers

import (
	"context"
	"errors"
	"fmt"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/trunk"
)

// BYOC numbers: a customer's own carrier number with a trunk of its own
// (termination URI plus optional digest credentials for outbound calls).

// BYOC manages BYOC numbers: a byo-sip-trunk number with a trunk of its
// own, created, changed and deleted together with it; the trunk service
// names, reconciles and refreshes their trunks with the trunk rules.
type BYOC struct {
	store  *db.Store
	trunks *trunk.Service
}

// NewBYOC returns the BYOC number service.
func NewBYOC(store *db.Store, trunks *trunk.Service) *BYOC {
	return &BYOC{store: store, trunks: trunks}
}

// BYOCInput creates or updates a BYOC number.
type BYOCInput struct {
	PhoneNumber     string
	CountryCode     string
	TerminationURI  *string
	InboundAgentID  *string // "" unassigns
	OutboundAgentID *string // "" unassigns
	SIPUsername     *string
	SIPPassword     *string
	FriendlyName    *string
}

func (n *BYOC) checkAssistant(ctx context.Context, orgID int64, id *string) (*string, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	if _, err := n.store.GetAssistant(ctx, orgID, *id); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrAssistantNotFound, *id)
		}
		return nil, err
	}
	v := *id
	return &v, nil
}

// CreateBYOC records the number and creates its trunk (credentials sealed).
func (n *BYOC) CreateBYOC(ctx context.Context, orgID int64, in BYOCInput) (*db.PhoneNumber, *db.SIPTrunk, error) {
	if _, owned, err := n.store.NumberOwner(ctx, in.PhoneNumber); err != nil {
		return nil, nil, err
	} else if owned {
		return nil, nil, ErrNumberOwned
	}
	if in.TerminationURI == nil {
		return nil, nil, trunk.ErrBadTerminationURI
	}
	inbound, err := n.checkAssistant(ctx, orgID, in.InboundAgentID)
	if err != nil {
		return nil, nil, err
	}
	outbound, err := n.checkAssistant(ctx, orgID, in.OutboundAgentID)
	if err != nil {
		return nil, nil, err
	}
	t, err := n.trunks.CreateBYOC(ctx, orgID, in.PhoneNumber, in.trunkSettings())
	if err != nil {
		return nil, nil, err
	}
	friendly := ""
	if in.FriendlyName != nil {
		friendly = *in.FriendlyName
	}
	tid := t.ID
	rec := &db.PhoneNumber{OrgID: orgID, PhoneNumber: in.PhoneNumber, Provider: db.ProviderBYOSIP, CountryCode: in.CountryCode,
		FriendlyName: friendly, AssistantID: inbound, OutboundAssistantID: outbound, SIPTrunkID: &tid, IsActive: true, CapVoice: true}
	if err := n.store.SaveNumber(ctx, rec); err != nil {
		_ = n.store.DeleteTrunk(ctx, orgID, t.ID) // leave nothing behind
		if errors.Is(err, db.ErrConflict) {
			return nil, nil, ErrNumberOwned
		}
		return nil, nil, err
	}
	n.trunks.Changed(orgID)
	return rec, t, nil
}

func (in BYOCInput) trunkSettings() trunk.BYOCSettings {
	return trunk.BYOCSettings{TerminationURI: in.TerminationURI, Username: in.SIPUsername, Password: in.SIPPassword}
}

// byocOf returns the BYOC number and its trunk.
func (n *BYOC) byocOf(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, *db.SIPTrunk, error) {
	rec, err := Lookup(ctx, n.store, orgID, e164)
	if err != nil {
		return nil, nil, err
	}
	if rec.Provider != db.ProviderBYOSIP || rec.SIPTrunkID == nil {
		return nil, nil, ErrNumberNotFound
	}
	t, err := n.store.GetTrunk(ctx, orgID, *rec.SIPTrunkID)
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, nil, ErrNumberNotFound
		}
		return nil, nil, err
	}
	return rec, t, nil
}

// GetBYOC returns the organization's BYOC number and its trunk.
func (n *BYOC) GetBYOC(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, *db.SIPTrunk, error) {
	return n.byocOf(ctx, orgID, e164)
}

// UpdateBYOC changes the fields sent.
func (n *BYOC) UpdateBYOC(ctx context.Context, orgID int64, in BYOCInput) (*db.PhoneNumber, *db.SIPTrunk, error) {
	rec, t, err := n.byocOf(ctx, orgID, in.PhoneNumber)
	if err != nil {
		return nil, nil, err
	}
	if in.InboundAgentID != nil {
		if rec.AssistantID, err = n.checkAssistant(ctx, orgID, in.InboundAgentID); err != nil {
			return nil, nil, err
		}
	}
	if in.OutboundAgentID != nil {
		if rec.OutboundAssistantID, err = n.checkAssistant(ctx, orgID, in.OutboundAgentID); err != nil {
			return nil, nil, err
		}
	}
	if in.FriendlyName != nil {
		rec.FriendlyName = *in.FriendlyName
	}
	if err := n.trunks.UpdateBYOC(ctx, t, in.trunkSettings()); err != nil {
		return nil, nil, err
	}
	if err := n.store.SaveNumber(ctx, rec); err != nil {
		return nil, nil, err
	}
	return rec, t, nil
}

// DeleteBYOC removes the number and its trunk.
func (n *BYOC) DeleteBYOC(ctx context.Context, orgID int64, e164 string) error {
	rec, t, err := n.byocOf(ctx, orgID, e164)
	if err != nil {
		return err
	}
	if err := n.store.DeleteNumber(ctx, orgID, rec.ID); err != nil {
		return err
	}
	if err := n.store.DeleteTrunk(ctx, orgID, t.ID); err != nil {
		return err
	}
	n.trunks.Changed(orgID)
	return nil
}

// RefreshBYOC re-applies the gateways of the organization's BYOC trunks
// (one number, or all when e164 is empty): killgw and rescan of those
// gateways only, never a profile restart. It returns the gateways refreshed.
func (n *BYOC) RefreshBYOC(ctx context.Context, orgID int64, e164 string) ([]string, error) {
	var names []string
	if e164 != "" {
		_, t, err := n.byocOf(ctx, orgID, e164)
		if err != nil {
			return nil, err
		}
		names = append(names, t.GatewayName)
	} else {
		recs, _, err := n.store.ListNumbers(ctx, orgID, db.NumberFilter{Provider: db.ProviderBYOSIP}, db.Page{Limit: 100000})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.SIPTrunkID == nil {
				continue
			}
			if t, err := n.store.GetTrunk(ctx, orgID, *r.SIPTrunkID); err == nil && t.Provider == "byoc" {
				names = append(names, t.GatewayName)
			}
		}
	}
	n.trunks.Refresh(names...)
	return names, nil
}

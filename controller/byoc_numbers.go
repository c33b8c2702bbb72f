package controller

import (
	"context"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/trunk"
)

// Numbers manages BYOC numbers (byoc.go): a byo-sip-trunk number with a
// trunk of its own, created, changed and deleted together with it. Buying,
// registering and releasing other numbers is the numbers package's.
type Numbers struct {
	store  *db.Store
	trunks *trunk.Service
}

// NewBYOC returns the BYOC number service; trunks names, reconciles and
// refreshes the numbers' trunks.
func NewBYOC(store *db.Store, trunks *trunk.Service) *Numbers {
	return &Numbers{store: store, trunks: trunks}
}

// numberOf returns the organization's record of an E.164 number.
func (n *Numbers) numberOf(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, error) {
	return numbers.Lookup(ctx, n.store, orgID, e164)
}

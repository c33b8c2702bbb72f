package trunkapi

import (
	"context"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// byocNumber is the BYOC number whose own trunk t is ("" if t is an
// ordinary trunk): a trunk CreateBYOC made (provider "byoc") that a
// byo-sip-trunk number points at.
func (s *Server) byocNumber(ctx context.Context, t *db.SIPTrunk) (string, error) {
	if t.Provider != "byoc" {
		return "", nil
	}
	nums, _, err := s.store.ListNumbers(ctx, t.OrgID, db.NumberFilter{Provider: db.ProviderBYOSIP, SIPTrunkID: t.ID}, db.Page{Limit: 1})
	if err != nil || len(nums) == 0 {
		return "", err
	}
	return nums[0].PhoneNumber, nil
}

// refuseBYOCTrunk is the 409 for changing or deleting a BYOC number's trunk
// through /api/v1/sip-trunks: deleting it would leave the number without a
// route, and editing it would bypass the BYOC checks; the BYOC routes own it.
func (s *Server) refuseBYOCTrunk(ctx context.Context, t *db.SIPTrunk, deleting bool) error {
	num, err := s.byocNumber(ctx, t)
	if err != nil || num == "" {
		return err
	}
	if deleting {
		return httpapi.Conflict("", "this trunk belongs to the BYOC number %s: delete it with DELETE /api/v1/byoc/phone-numbers/%s (the number and its trunk go together)", num, num)
	}
	return httpapi.Conflict("", "this trunk belongs to the BYOC number %s: change it with PUT /api/v1/byoc/phone-numbers/%s", num, num)
}

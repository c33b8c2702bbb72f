package db

import (
	"context"
	"database/sql"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AllTrunks returns every trunk of every organization (the reconciler's
// desired state), ordered by gateway name.
func (s *Store) AllTrunks(ctx context.Context) ([]SIPTrunk, error) {
	var out []SIPTrunk
	err := s.db(ctx).Preload("Status").Order("gateway_name").Find(&out).Error
	return out, err
}

// SyncResult is one trunk's outcome of a reconcile pass.
type SyncResult struct {
	TrunkID string
	State   string // applied | error | pending
	Message string
}

// SetSyncResults records reconcile outcomes, leaving the live gateway fields alone.
// Trunks whose status already says the same are not rewritten.
func (s *Store) SetSyncResults(ctx context.Context, results []SyncResult) error {
	if len(results) == 0 {
		return nil
	}
	now := s.Now()
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, r := range results {
			upd := map[string]any{"sync_state": r.State, "sync_message": r.Message, "updated_at": now}
			if r.State == "applied" {
				upd["applied_at"] = now
			}
			if err := tx.Model(&TrunkStatus{}).Where("trunk_id = ? AND (sync_state <> ? OR sync_message <> ?)", r.TrunkID, r.State, r.Message).
				Updates(upd).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// GatewayLive is what FreeSWITCH reports about one gateway.
type GatewayLive struct {
	GatewayName    string
	State          string // REGED, FAILED, NOREG, DOWN, TRYING, …
	PingStatus     string // UP, DOWN, …
	LastStatusCode int    // last SIP status of a REGISTER/OPTIONS, 0 when unknown
}

// SetGatewayLive records live gateway state by gateway name.
func (s *Store) SetGatewayLive(ctx context.Context, g GatewayLive) error {
	var t SIPTrunk
	if err := s.db(ctx).Select("id", "org_id").First(&t, "gateway_name = ?", g.GatewayName).Error; err != nil {
		return Translate(err)
	}
	upd := map[string]any{"gateway_state": g.State, "updated_at": s.Now()}
	if g.PingStatus != "" {
		upd["ping_status"] = g.PingStatus
	}
	if g.LastStatusCode != 0 {
		upd["last_status_code"] = g.LastStatusCode
	}
	return s.db(ctx).Model(&TrunkStatus{}).Where("trunk_id = ?", t.ID).Updates(upd).Error
}

// EnsureTrunkStatus creates missing status rows (trunks written before the row existed).
func (s *Store) EnsureTrunkStatus(ctx context.Context, trunks []SIPTrunk) error {
	if len(trunks) == 0 {
		return nil
	}
	now := s.Now()
	rows := make([]TrunkStatus, 0, len(trunks))
	for _, t := range trunks {
		rows = append(rows, TrunkStatus{TrunkID: t.ID, OrgID: t.OrgID, SyncState: "pending", UpdatedAt: now})
	}
	return s.db(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 500).Error
}

// TrunksFingerprint changes whenever any trunk is created, updated or deleted:
// the number of trunks and the latest update time. max(updated_at) is read
// as text: PostgreSQL gives a timestamptz (converted to RFC 3339), SQLite the
// text the driver stored, which has no column type once aggregated and so
// cannot be scanned into a time.Time. The value is only ever compared with
// an earlier fingerprint, so either form does.
func (s *Store) TrunksFingerprint(ctx context.Context) (string, error) {
	var (
		n    int64
		last sql.NullString
	)
	if err := s.db(ctx).Model(&SIPTrunk{}).Select("count(*), max(updated_at)").Row().Scan(&n, &last); err != nil {
		return "", fmt.Errorf("db: trunks fingerprint: %w", err)
	}
	return fmt.Sprintf("%d/%s", n, last.String), nil
}

// TrunkByGatewayName returns the trunk (any organization) with this gateway/ACL name.
func (s *Store) TrunkByGatewayName(ctx context.Context, name string) (*SIPTrunk, error) {
	var t SIPTrunk
	if err := s.db(ctx).First(&t, "gateway_name = ?", name).Error; err != nil {
		return nil, Translate(err)
	}
	return &t, nil
}

// TrunkByID returns a trunk of any organization (system-level lookups only).
func (s *Store) TrunkByID(ctx context.Context, id string) (*SIPTrunk, error) {
	var t SIPTrunk
	if err := s.db(ctx).First(&t, "id = ?", id).Error; err != nil {
		return nil, Translate(err)
	}
	return &t, nil
}

// EnabledTrunks returns every enabled trunk (system-level: inbound routing by source address).
func (s *Store) EnabledTrunks(ctx context.Context) ([]SIPTrunk, error) {
	var out []SIPTrunk
	err := s.db(ctx).Where("enabled = ?", true).Order("gateway_name").Find(&out).Error
	return out, err
}

// EnabledTrunksOfOrg returns the organization's enabled trunks by priority
// (1 first), then name.
func (s *Store) EnabledTrunksOfOrg(ctx context.Context, orgID int64) ([]SIPTrunk, error) {
	var out []SIPTrunk
	err := s.scoped(ctx, orgID).Where("enabled = ?", true).Order("priority, lower(name), id").Find(&out).Error
	return out, err
}

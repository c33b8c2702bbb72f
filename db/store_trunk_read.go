package db

import (
	"context"
	"database/sql"
)

// The trunk reads the API serves most (the list and one trunk) in one
// query each, the status joined, scanned without reflection: gorm's
// Preload took a second query and its reflective scan of 100 trunks cost
// more than the queries (BENCHMARKS.md, "API throughput").

// trunkSelect reads a trunk and its status (NULL when it has none yet);
// count(*) OVER () is the organization's number of trunks, before LIMIT.
const trunkSelect = `SELECT t.id, t.org_id, t.name, t.gateway_name, t.gateway, t.username, t.password_enc,
 t.priority, t.enabled, t.register, t.realm, t.proxy, t.transport, t.from_user, t.from_domain,
 t.caller_id_in_from, t.expire_seconds, t.retry_seconds, t.ping_seconds, t.allowed_addresses, t.codecs,
 t.provider, t.transfer_mode, t.refer_to_template, t.source, t.inbound_disabled, t.ring_timeout_seconds, t.srtp,
 t.created_at, t.updated_at,
 s.trunk_id, s.sync_state, s.sync_message, s.applied_at, s.gateway_state, s.ping_status, s.last_status_code, s.updated_at,
 count(*) OVER ()
FROM sip_trunks t LEFT JOIN sip_trunk_status s ON s.trunk_id = t.id AND s.org_id = t.org_id
WHERE t.org_id = ?`

// ListTrunks lists the organization's trunks by priority, then name, with
// the total number of its trunks.
func (s *Store) ListTrunks(ctx context.Context, orgID int64, p Page) ([]SIPTrunk, int64, error) {
	q := trunkSelect + ` ORDER BY t.priority, lower(t.name), t.id`
	args := []any{orgID}
	if p.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, p.Limit)
	} else if p.Skip > 0 {
		q += ` LIMIT -1`
		if s.DB.Dialector.Name() == "postgres" {
			q = q[:len(q)-2] + "ALL"
		}
	}
	if p.Skip > 0 {
		q += ` OFFSET ?`
		args = append(args, p.Skip)
	}
	out, total, err := s.queryTrunks(ctx, q, args...)
	if err != nil || len(out) > 0 || p.Skip == 0 {
		return out, total, err
	}
	// A page past the end: no row carries the count.
	err = s.scoped(ctx, orgID).Model(&SIPTrunk{}).Count(&total).Error
	return out, total, err
}

// GetTrunk returns one of the organization's trunks.
func (s *Store) GetTrunk(ctx context.Context, orgID int64, id string) (*SIPTrunk, error) {
	out, _, err := s.queryTrunks(ctx, trunkSelect+` AND t.id = ?`, orgID, id)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return &out[0], nil
}

func (s *Store) queryTrunks(ctx context.Context, q string, args ...any) ([]SIPTrunk, int64, error) {
	rows, err := s.db(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []SIPTrunk
	var total int64
	for rows.Next() {
		out = append(out, SIPTrunk{})
		if err := scanTrunk(rows, &out[len(out)-1], &total); err != nil {
			return nil, 0, err
		}
	}
	return out, total, rows.Err()
}

func scanTrunk(rows *sql.Rows, t *SIPTrunk, total *int64) error {
	var st TrunkStatus
	var stID, syncState, syncMsg, gwState, ping sql.NullString
	var code sql.NullInt64
	var applied, stUpdated sql.NullTime
	err := rows.Scan(&t.ID, &t.OrgID, &t.Name, &t.GatewayName, &t.Gateway, &t.Username, &t.PasswordEnc,
		&t.Priority, &t.Enabled, &t.Register, &t.Realm, &t.Proxy, &t.Transport, &t.FromUser, &t.FromDomain,
		&t.CallerIDInFrom, &t.ExpireSeconds, &t.RetrySeconds, &t.PingSeconds, &t.AllowedAddresses, &t.Codecs,
		&t.Provider, &t.TransferMode, &t.ReferToTemplate, &t.Source, &t.InboundDisabled, &t.RingTimeoutSeconds, &t.SRTP,
		&t.CreatedAt, &t.UpdatedAt,
		&stID, &syncState, &syncMsg, &applied, &gwState, &ping, &code, &stUpdated, total)
	if err != nil || !stID.Valid {
		return err
	}
	st = TrunkStatus{TrunkID: stID.String, OrgID: t.OrgID, SyncState: syncState.String, SyncMessage: syncMsg.String,
		GatewayState: gwState.String, PingStatus: ping.String, LastStatusCode: int(code.Int64), UpdatedAt: stUpdated.Time}
	if applied.Valid {
		at := applied.Time
		st.AppliedAt = &at
	}
	t.Status = &st
	return nil
}

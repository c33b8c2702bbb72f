package db

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"gorm.io/gorm"
)

// Page selects a window of a list.
type Page struct {
	Skip  int
	Limit int
	// NoTotal skips counting the matches (the total returned is -1): for
	// lookups on the call path, where the count is a second query.
	NoTotal bool
}

// --- assistants ---

// ListAssistants lists the organization's assistants by name.
func (s *Store) ListAssistants(ctx context.Context, orgID int64, p Page) ([]Assistant, int64, error) {
	var total int64
	q := s.scoped(ctx, orgID).Model(&Assistant{})
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []Assistant
	err := s.scoped(ctx, orgID).Order("name, id").Offset(p.Skip).Limit(p.Limit).Find(&out).Error
	return out, total, err
}

// GetAssistant returns one of the organization's assistants.
func (s *Store) GetAssistant(ctx context.Context, orgID int64, id string) (*Assistant, error) {
	var a Assistant
	if err := s.scoped(ctx, orgID).First(&a, "id = ?", id).Error; err != nil {
		return nil, Translate(err)
	}
	return &a, nil
}

func assistantSecretsContext(id string) string { return "assistants.secrets:" + id }

// AssistantSecrets opens the assistant's sealed secrets.
func (s *Store) AssistantSecrets(a *Assistant) (AssistantSecrets, error) {
	var sec AssistantSecrets
	pt, err := s.Keys.Open(assistantSecretsContext(a.ID), a.SecretsEnc)
	if err != nil || pt == "" {
		return sec, err
	}
	return sec, json.Unmarshal([]byte(pt), &sec)
}

// SaveAssistant creates (empty ID) or updates the assistant with its secrets.
func (s *Store) SaveAssistant(ctx context.Context, a *Assistant, sec AssistantSecrets) error {
	create := a.ID == ""
	if create {
		a.ID = NewID()
		a.CreatedAt = s.Now()
	}
	a.UpdatedAt = s.Now()
	if a.Metadata == nil {
		a.Metadata = JSONMap{}
	}
	if a.AnswerMode == "" {
		a.AnswerMode = AnswerAssistantReady
	}
	enc, err := s.sealJSON(assistantSecretsContext(a.ID), sec)
	if err != nil {
		return err
	}
	a.SecretsEnc = enc
	if create {
		return Translate(s.db(ctx).Create(a).Error)
	}
	res := s.db(ctx).Model(&Assistant{}).Where("id = ? AND org_id = ?", a.ID, a.OrgID).Select("*").Omit("created_at").Updates(a)
	if res.Error != nil {
		return Translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteAssistant deletes one of the organization's assistants; numbers
// assigned to it become unassigned.
func (s *Store) DeleteAssistant(ctx context.Context, orgID int64, id string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("org_id = ? AND id = ?", orgID, id).Delete(&Assistant{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		// ON DELETE SET NULL does this too; explicit for databases opened without FK enforcement.
		if err := tx.Model(&PhoneNumber{}).Where("org_id = ? AND assistant_id = ?", orgID, id).Update("assistant_id", nil).Error; err != nil {
			return err
		}
		return tx.Model(&PhoneNumber{}).Where("org_id = ? AND outbound_assistant_id = ?", orgID, id).Update("outbound_assistant_id", nil).Error
	})
}

// SetAssistantNumbers makes numberIDs the numbers answered by the
// assistant (inbound): they are assigned to it, and its other numbers
// become unassigned, in one transaction. The ids must be the
// organization's numbers (ErrNotFound otherwise, and nothing changes).
func (s *Store) SetAssistantNumbers(ctx context.Context, orgID int64, assistantID string, numberIDs []string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&PhoneNumber{}).Where("org_id = ? AND assistant_id = ?", orgID, assistantID)
		if len(numberIDs) > 0 {
			q = q.Where("id NOT IN ?", numberIDs)
		}
		if err := q.Updates(map[string]any{"assistant_id": nil, "updated_at": s.Now()}).Error; err != nil {
			return err
		}
		if len(numberIDs) == 0 {
			return nil
		}
		res := tx.Model(&PhoneNumber{}).Where("org_id = ? AND id IN ?", orgID, numberIDs).
			Updates(map[string]any{"assistant_id": assistantID, "updated_at": s.Now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != int64(len(numberIDs)) {
			return ErrNotFound
		}
		return nil
	})
}

// AssistantNumbers returns the numbers answered by each of the given
// assistants (inbound), by assistant id, in number order: one query for a
// page of assistants.
func (s *Store) AssistantNumbers(ctx context.Context, orgID int64, assistantIDs []string) (map[string][]PhoneNumber, error) {
	out := make(map[string][]PhoneNumber, len(assistantIDs))
	if len(assistantIDs) == 0 {
		return out, nil
	}
	var rows []PhoneNumber
	if err := s.scoped(ctx, orgID).Where("assistant_id IN ?", assistantIDs).Order("phone_number").Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, n := range rows {
		out[*n.AssistantID] = append(out[*n.AssistantID], n)
	}
	return out, nil
}

// --- SIP trunks ---

func trunkPasswordContext(id string) string { return "sip_trunks.password:" + id }

// TrunkPassword opens the trunk's sealed password.
func (s *Store) TrunkPassword(t *SIPTrunk) (string, error) {
	return s.Keys.Open(trunkPasswordContext(t.ID), t.PasswordEnc)
}

// SetTrunkPassword seals password into t (t.ID must be set).
func (s *Store) SetTrunkPassword(t *SIPTrunk, password string) error {
	enc, err := s.Keys.Seal(trunkPasswordContext(t.ID), password)
	if err != nil {
		return err
	}
	t.PasswordEnc = enc
	return nil
}

// TrunkNameTaken reports whether the organization has another trunk with
// this name (case-insensitive). The database's lower() folds both sides, as
// in the unique index sip_trunks_org_name_key: Go's strings.ToLower folds
// letters (Ü) that SQLite's lower() and PostgreSQL's in the C locale keep.
func (s *Store) TrunkNameTaken(ctx context.Context, orgID int64, name, exceptID string) (bool, error) {
	var n int64
	err := s.scoped(ctx, orgID).Model(&SIPTrunk{}).Where("lower(name) = lower(?) AND id <> ?", name, exceptID).Count(&n).Error
	return n > 0, err
}

// GatewayNameTaken reports whether any trunk (of any organization) uses this gateway name.
func (s *Store) GatewayNameTaken(ctx context.Context, gw, exceptID string) (bool, error) {
	var n int64
	err := s.db(ctx).Model(&SIPTrunk{}).Where("gateway_name = ? AND id <> ?", gw, exceptID).Count(&n).Error
	return n > 0, err
}

// CreateTrunk inserts a trunk and its pending status.
func (s *Store) CreateTrunk(ctx context.Context, t *SIPTrunk) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.createTrunk(tx, t) })
}

func (s *Store) createTrunk(tx *gorm.DB, t *SIPTrunk) error {
	now := s.Now()
	t.CreatedAt, t.UpdatedAt = now, now
	if t.AllowedAddresses == nil {
		t.AllowedAddresses = StringList{}
	}
	if t.Codecs == nil {
		t.Codecs = StringList{}
	}
	st := t.Status
	t.Status = nil
	if err := tx.Create(t).Error; err != nil {
		return Translate(err)
	}
	status := &TrunkStatus{TrunkID: t.ID, OrgID: t.OrgID, SyncState: "pending", UpdatedAt: now}
	if st != nil {
		*status = *st
	}
	if err := tx.Create(status).Error; err != nil {
		return Translate(err)
	}
	t.Status = status
	return nil
}

// UpdateTrunk saves every column of the trunk and marks it pending.
func (s *Store) UpdateTrunk(ctx context.Context, t *SIPTrunk) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.updateTrunk(tx, t) })
}

func (s *Store) updateTrunk(tx *gorm.DB, t *SIPTrunk) error {
	t.UpdatedAt = s.Now()
	res := tx.Model(&SIPTrunk{}).Where("id = ? AND org_id = ?", t.ID, t.OrgID).Select("*").Omit("created_at", "Status").Updates(t)
	if res.Error != nil {
		return Translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return tx.Model(&TrunkStatus{}).Where("trunk_id = ?", t.ID).
		Updates(map[string]any{"sync_state": "pending", "sync_message": "", "updated_at": t.UpdatedAt}).Error
}

// trunkAddressLock is the PostgreSQL advisory lock (transaction scope) that
// serializes SaveTrunkChecked across replicas.
const trunkAddressLock = 7261002

// SaveTrunkChecked creates (create) or updates the trunk once check has
// approved it against every OTHER organization's trunks (ID, OrgID and
// AllowedAddresses are loaded), in one transaction. On PostgreSQL an
// advisory lock makes the check and the write atomic across replicas, so
// two organizations cannot claim the same address at the same moment; the
// embedded SQLite has a single writer. check's error is returned as is.
func (s *Store) SaveTrunkChecked(ctx context.Context, t *SIPTrunk, create bool, check func(others []SIPTrunk) error) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", trunkAddressLock).Error; err != nil {
				return err
			}
		}
		var others []SIPTrunk
		if err := tx.Select("id", "org_id", "allowed_addresses").Where("org_id <> ?", t.OrgID).Order("id").Find(&others).Error; err != nil {
			return err
		}
		if err := check(others); err != nil {
			return err
		}
		if create {
			return s.createTrunk(tx, t)
		}
		return s.updateTrunk(tx, t)
	})
}

// DeleteTrunk deletes one of the organization's trunks; numbers on it lose their trunk.
func (s *Store) DeleteTrunk(ctx context.Context, orgID int64, id string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("trunk_id = ? AND org_id = ?", id, orgID).Delete(&TrunkStatus{}).Error; err != nil {
			return err
		}
		if err := tx.Model(&PhoneNumber{}).Where("org_id = ? AND sip_trunk_id = ?", orgID, id).Update("sip_trunk_id", nil).Error; err != nil {
			return err
		}
		res := tx.Where("org_id = ? AND id = ?", orgID, id).Delete(&SIPTrunk{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// --- phone numbers ---

// NumberFilter narrows ListNumbers.
type NumberFilter struct {
	Provider    string
	AssistantID string
	SIPTrunkID  string
	Active      *bool
	Search      string // substring of the number or friendly name, in any case
	Exact       string // this E.164 number only
}

// likeEscaper makes a LIKE pattern's characters match themselves (ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// ListNumbers lists the organization's numbers.
func (s *Store) ListNumbers(ctx context.Context, orgID int64, f NumberFilter, p Page) ([]PhoneNumber, int64, error) {
	q := func() *gorm.DB {
		q := s.scoped(ctx, orgID).Model(&PhoneNumber{})
		if f.Provider != "" {
			q = q.Where("provider = ?", f.Provider)
		}
		if f.AssistantID != "" {
			q = q.Where("assistant_id = ? OR outbound_assistant_id = ?", f.AssistantID, f.AssistantID)
		}
		if f.SIPTrunkID != "" {
			q = q.Where("sip_trunk_id = ?", f.SIPTrunkID)
		}
		if f.Exact != "" {
			q = q.Where("phone_number = ?", f.Exact)
		}
		if f.Active != nil {
			q = q.Where("is_active = ?", *f.Active)
		}
		if f.Search != "" {
			// Any case on both databases (PostgreSQL's LIKE minds case,
			// SQLite's does not), with % _ and \ matching themselves (the
			// escape character is named: PostgreSQL's default is \, SQLite has none).
			like := "%" + likeEscaper.Replace(f.Search) + "%"
			q = q.Where(`(phone_number LIKE ? ESCAPE '\' OR lower(friendly_name) LIKE lower(?) ESCAPE '\')`, like, like)
		}
		return q
	}
	total := int64(-1)
	if !p.NoTotal {
		if err := q().Count(&total).Error; err != nil {
			return nil, 0, err
		}
	}
	var out []PhoneNumber
	err := q().Order("phone_number").Offset(p.Skip).Limit(p.Limit).Find(&out).Error
	return out, total, err
}

// GetNumber returns one of the organization's numbers by id.
func (s *Store) GetNumber(ctx context.Context, orgID int64, id string) (*PhoneNumber, error) {
	var n PhoneNumber
	if err := s.scoped(ctx, orgID).First(&n, "id = ?", id).Error; err != nil {
		return nil, Translate(err)
	}
	return &n, nil
}

// NumberOwner returns the organization owning an E.164 number, if any.
func (s *Store) NumberOwner(ctx context.Context, e164 string) (int64, bool, error) {
	var n PhoneNumber
	err := s.db(ctx).Select("org_id").First(&n, "phone_number = ?", e164).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, false, nil
	}
	return n.OrgID, err == nil, err
}

// SaveNumber creates (empty ID) or updates a number.
func (s *Store) SaveNumber(ctx context.Context, n *PhoneNumber) error {
	now := s.Now()
	n.UpdatedAt = now
	if n.AllowedCountryCodes == nil {
		n.AllowedCountryCodes = StringList{}
	}
	if n.ID == "" {
		n.ID = NewID()
		n.CreatedAt = now
		return Translate(s.db(ctx).Create(n).Error)
	}
	res := s.db(ctx).Model(&PhoneNumber{}).Where("id = ? AND org_id = ?", n.ID, n.OrgID).Select("*").Omit("created_at").Updates(n)
	if res.Error != nil {
		return Translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteNumber deletes one of the organization's numbers.
func (s *Store) DeleteNumber(ctx context.Context, orgID int64, id string) error {
	res := s.db(ctx).Where("org_id = ? AND id = ?", orgID, id).Delete(&PhoneNumber{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DefaultTrunk returns the organization's default trunk: the one its
// organization-level SIP settings (or, without them, the environment's)
// made. ErrNotFound when it has none.
func (s *Store) DefaultTrunk(ctx context.Context, orgID int64) (*SIPTrunk, error) {
	out, _, err := s.queryTrunks(ctx, trunkSelect+` AND t.source <> ? ORDER BY t.id LIMIT 1`, orgID, TrunkSourceAPI)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return &out[0], nil
}

// EnvironmentTrunks returns every trunk built from the environment-level
// SIP settings (one per organization that fell back to them).
func (s *Store) EnvironmentTrunks(ctx context.Context) ([]SIPTrunk, error) {
	var out []SIPTrunk
	err := s.db(ctx).Where("source = ?", TrunkSourceEnvironment).Order("id").Find(&out).Error
	return out, err
}

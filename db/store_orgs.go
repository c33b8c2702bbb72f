package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sipbridge/sipbridge/db/changes"
	"gorm.io/gorm"
)

// ErrInvalidKey is returned by Authenticate for an unknown or revoked key.
var ErrInvalidKey = errors.New("invalid API key")

// ErrLastAPIKey is returned by RevokeAPIKey for the organization's last
// active key: revoking it would lock the organization out of the API.
var ErrLastAPIKey = errors.New("the organization's last active API key cannot be revoked")

// EnsureOrg returns the organization with this name, creating it if missing.
func (s *Store) EnsureOrg(ctx context.Context, name string) (*Organization, bool, error) {
	var org Organization
	err := s.db(ctx).Where("name = ?", name).First(&org).Error
	if err == nil {
		return &org, false, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, false, err
	}
	now := s.Now()
	org = Organization{Name: name, DefaultCountry: "US", Settings: OrgSettings{SIPTrunkConfig: SIPTrunkConfig{InboundEnabled: true, OutboundLeadingPlusEnabled: true}}, CreatedAt: now, UpdatedAt: now}
	if err := s.db(ctx).Create(&org).Error; err != nil {
		if errors.Is(Translate(err), ErrConflict) { // created concurrently
			return s.EnsureOrg(ctx, name)
		}
		return nil, false, err
	}
	return &org, true, nil
}

// GetOrg returns an organization by id.
// (Every authenticated organization route reads it: scanned without
// reflection.)
func (s *Store) GetOrg(ctx context.Context, id int64) (*Organization, error) {
	var org Organization
	err := s.db(ctx).Raw(`SELECT id, name, default_country, settings, secrets_enc, created_at, updated_at FROM organizations WHERE id = ?`, id).
		Row().Scan(&org.ID, &org.Name, &org.DefaultCountry, &org.Settings, &org.SecretsEnc, &org.CreatedAt, &org.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &org, nil
}

// OrgsByID returns the organizations with these ids, in id order
// (system-level lookups only: inbound routing across organizations).
func (s *Store) OrgsByID(ctx context.Context, ids []int64) ([]Organization, error) {
	var out []Organization
	if len(ids) == 0 {
		return out, nil
	}
	err := s.db(ctx).Where("id IN ?", ids).Order("id").Find(&out).Error
	return out, err
}

// OrgSecrets opens the organization's sealed secrets.
func (s *Store) OrgSecrets(org *Organization) (OrgSecrets, error) {
	var sec OrgSecrets
	pt, err := s.Keys.Open(orgSecretsContext(org.ID), org.SecretsEnc)
	if err != nil || pt == "" {
		return sec, err
	}
	return sec, json.Unmarshal([]byte(pt), &sec)
}

func orgSecretsContext(id int64) string { return "organizations.secrets:" + strconv.FormatInt(id, 10) }

// UpdateOrg saves the organization's name, country, settings and secrets.
func (s *Store) UpdateOrg(ctx context.Context, org *Organization, sec OrgSecrets) error {
	enc, err := s.sealJSON(orgSecretsContext(org.ID), sec)
	if err != nil {
		return err
	}
	org.SecretsEnc = enc
	org.UpdatedAt = s.Now()
	return Translate(s.db(ctx).Model(org).Select("name", "default_country", "settings", "secrets_enc", "updated_at").Updates(org).Error)
}

func (s *Store) sealJSON(context string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "{}" {
		return "", nil
	}
	return s.Keys.Seal(context, string(b))
}

// API keys: "sb_" followed by 32 characters of [A-Za-z0-9].
const (
	apiKeyPrefix = "sb_"
	apiKeyChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	apiKeyLen    = 32
)

// HashAPIKey is the stored form of an API key.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func newAPIKey() (string, error) {
	b := make([]byte, apiKeyLen)
	out := make([]byte, apiKeyLen)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		// Bytes below 248 (= 4×62) map uniformly onto the 62 characters; redraw the rest.
		for b[i] >= 248 {
			var one [1]byte
			if _, err := rand.Read(one[:]); err != nil {
				return "", err
			}
			b[i] = one[0]
		}
		out[i] = apiKeyChars[int(b[i])%len(apiKeyChars)]
	}
	return apiKeyPrefix + string(out), nil
}

// CreateAPIKey makes a new key for the organization and returns it in clear
// text: this is the only time it is available.
func (s *Store) CreateAPIKey(ctx context.Context, orgID int64, name string) (string, *APIKey, error) {
	key, err := newAPIKey()
	if err != nil {
		return "", nil, fmt.Errorf("db: api key: %w", err)
	}
	rec := &APIKey{ID: NewID(), OrgID: orgID, Name: name, Prefix: key[:len(apiKeyPrefix)+6], Hash: HashAPIKey(key), CreatedAt: s.Now()}
	if err := s.db(ctx).Create(rec).Error; err != nil {
		return "", nil, Translate(err)
	}
	return key, rec, nil
}

// Authenticate finds the live key matching the presented one and records its use
// (at most once a minute per key, to keep reads cheap). It reads the
// database every time: the API's key cache is web/httpapi's.
func (s *Store) Authenticate(ctx context.Context, presented string) (*APIKey, error) {
	if len(presented) != len(apiKeyPrefix)+apiKeyLen || presented[:len(apiKeyPrefix)] != apiKeyPrefix {
		return nil, ErrInvalidKey
	}
	hash := HashAPIKey(presented)
	now := s.Now()
	var k APIKey
	err := s.db(ctx).Where("hash = ? AND revoked_at IS NULL", hash).First(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrInvalidKey
	}
	if err != nil {
		return nil, err
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		k.LastUsedAt = &now
		// Quiet: the key caches of every replica keep their keys (changes.UpdateOf).
		if err := changes.Quiet(s.db(ctx)).Model(&APIKey{}).Where("id = ?", k.ID).Update("last_used_at", now).Error; err != nil {
			s.Log.Warn("api key last-used update failed", "err", err)
		}
	}
	return &k, nil
}

// ListAPIKeys lists the organization's keys, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, orgID int64) ([]APIKey, error) {
	var keys []APIKey
	err := s.scoped(ctx, orgID).Order("created_at DESC, id").Find(&keys).Error
	return keys, err
}

// RevokeAPIKey revokes one of the organization's keys.
func (s *Store) RevokeAPIKey(ctx context.Context, orgID int64, id string) (*APIKey, error) {
	var k APIKey
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The organization's row is the lock: two revocations of its last
		// two keys run one after the other, and the second sees one left.
		lock := "SELECT id FROM organizations WHERE id = ?"
		if s.DB.Dialector.Name() == "postgres" {
			lock += " FOR UPDATE"
		}
		if err := tx.Exec(lock, orgID).Error; err != nil {
			return err
		}
		if err := tx.Where("org_id = ?", orgID).First(&k, "id = ?", id).Error; err != nil {
			return Translate(err)
		}
		if k.RevokedAt != nil {
			return nil
		}
		var active int64
		if err := tx.Model(&APIKey{}).Where("org_id = ? AND revoked_at IS NULL", orgID).Count(&active).Error; err != nil {
			return err
		}
		if active <= 1 {
			return ErrLastAPIKey
		}
		now := s.Now()
		k.RevokedAt = &now
		return tx.Model(&APIKey{}).Where("id = ? AND org_id = ?", id, orgID).Update("revoked_at", now).Error
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// OrgByName returns the organization with this name.
func (s *Store) OrgByName(ctx context.Context, name string) (*Organization, error) {
	var org Organization
	if err := s.db(ctx).Where("name = ?", name).First(&org).Error; err != nil {
		return nil, Translate(err)
	}
	return &org, nil
}

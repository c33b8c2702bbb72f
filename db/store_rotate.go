package db

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// RotateSecrets re-seals with the current key every secret that another key
// of the ring sealed. It returns how many values were re-sealed. A value that
// no key of the ring opens stops the rotation with an error naming its row.
func (s *Store) RotateSecrets(ctx context.Context) (int, error) {
	n := 0
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var orgs []Organization
		if err := tx.Find(&orgs).Error; err != nil {
			return err
		}
		for _, o := range orgs {
			v, changed, err := s.reseal(orgSecretsContext(o.ID), o.SecretsEnc)
			if err != nil {
				return fmt.Errorf("organization %d: %w", o.ID, err)
			}
			if changed {
				if err := tx.Model(&Organization{}).Where("id = ?", o.ID).Update("secrets_enc", v).Error; err != nil {
					return err
				}
				n++
			}
		}
		var as []Assistant
		if err := tx.Find(&as).Error; err != nil {
			return err
		}
		for _, a := range as {
			v, changed, err := s.reseal(assistantSecretsContext(a.ID), a.SecretsEnc)
			if err != nil {
				return fmt.Errorf("assistant %s: %w", a.ID, err)
			}
			if changed {
				if err := tx.Model(&Assistant{}).Where("id = ?", a.ID).Update("secrets_enc", v).Error; err != nil {
					return err
				}
				n++
			}
		}
		m, err := s.rotateSMSSecrets(tx)
		if err != nil {
			return err
		}
		n += m
		var ts []SIPTrunk
		if err := tx.Find(&ts).Error; err != nil {
			return err
		}
		for _, t := range ts {
			v, changed, err := s.reseal(trunkPasswordContext(t.ID), t.PasswordEnc)
			if err != nil {
				return fmt.Errorf("sip trunk %s: %w", t.ID, err)
			}
			if changed {
				if err := tx.Model(&SIPTrunk{}).Where("id = ?", t.ID).Update("password_enc", v).Error; err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (s *Store) reseal(context, stored string) (string, bool, error) {
	if !s.Keys.NeedsRotation(stored) {
		return stored, false, nil
	}
	pt, err := s.Keys.Open(context, stored)
	if err != nil {
		return "", false, err
	}
	v, err := s.Keys.Seal(context, pt)
	return v, true, err
}

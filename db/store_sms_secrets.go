package db

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// --- webhook secrets ---

func smsWebhookSecretContext(assistantID string) string {
	return "sms_webhook_secrets.secret:" + assistantID
}

// SetSMSWebhookSecret stores (replacing any) the assistant's forwarding
// secret, sealed.
func (s *Store) SetSMSWebhookSecret(ctx context.Context, orgID int64, assistantID, secret string) error {
	enc, err := s.Keys.Seal(smsWebhookSecretContext(assistantID), secret)
	if err != nil {
		return err
	}
	return s.db(ctx).Exec(`INSERT INTO sms_webhook_secrets (assistant_id, org_id, secret_enc, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (assistant_id) DO UPDATE SET secret_enc = excluded.secret_enc, created_at = excluded.created_at`,
		assistantID, orgID, enc, s.Now()).Error
}

// SMSWebhookSecret opens the assistant's forwarding secret; ErrNotFound when
// none was created.
func (s *Store) SMSWebhookSecret(ctx context.Context, assistantID string) (string, error) {
	var rec SMSWebhookSecret
	if err := s.db(ctx).First(&rec, "assistant_id = ?", assistantID).Error; err != nil {
		return "", Translate(err)
	}
	return s.Keys.Open(smsWebhookSecretContext(assistantID), rec.SecretEnc)
}

func (s *Store) rotateSMSSecrets(tx *gorm.DB) (int, error) {
	var recs []SMSWebhookSecret
	if err := tx.Find(&recs).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		v, changed, err := s.reseal(smsWebhookSecretContext(r.AssistantID), r.SecretEnc)
		if err != nil {
			return 0, fmt.Errorf("sms webhook secret of assistant %s: %w", r.AssistantID, err)
		}
		if changed {
			if err := tx.Model(&SMSWebhookSecret{}).Where("assistant_id = ?", r.AssistantID).Update("secret_enc", v).Error; err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

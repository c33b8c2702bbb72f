package smsdb

import (
	"context"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// FailedForward is an inbound message whose forwarding to its assistant's
// sms_webhook_url was given up, with why and after how many attempts.
type FailedForward struct {
	ID            string // the forward's
	MessageID     string
	AssistantID   string
	AssistantName string // "" when the assistant is gone
	URL           string `gorm:"column:url"`
	Attempts      int
	LastError     string
	FromNumber    string
	ToNumber      string
	Body          string
	ReceivedAt    time.Time // the message's
	FailedAt      time.Time // the forward's last update
}

// FailedForwards lists the organization's failed forwards, the most
// recently failed first, and how many there are.
func (s *Store) FailedForwards(ctx context.Context, orgID int64, p db.Page) ([]FailedForward, int64, error) {
	var total int64
	if err := s.scoped(ctx, orgID).Model(&db.SMSForward{}).Where("status = ?", db.ForwardFailed).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []FailedForward
	err := s.db(ctx).Raw(`SELECT f.id, f.message_id, f.assistant_id, COALESCE(a.name, '') AS assistant_name, f.url, f.attempts,
  f.last_error, m.from_number, m.to_number, m.body, m.created_at AS received_at, f.updated_at AS failed_at
FROM sms_forwards f JOIN sms_messages m ON m.id = f.message_id AND m.org_id = f.org_id
LEFT JOIN assistants a ON a.id = f.assistant_id AND a.org_id = f.org_id
WHERE f.org_id = ? AND f.status = ? ORDER BY f.updated_at DESC, f.id LIMIT ? OFFSET ?`, orgID, db.ForwardFailed, p.Limit, p.Skip).Scan(&out).Error
	return out, total, err
}

package smsdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"gorm.io/gorm"
)

// ErrNotQueued: the message left the queue (sending, sent, …) and cannot be
// cancelled.
var ErrNotQueued = errors.New("message is not queued")

// upsertConversation returns the id of the (org, assistant number, customer
// number) conversation, creating it, and counts one more message in it.
func upsertConversation(tx *gorm.DB, orgID int64, assistantNumber, customerNumber string, assistantID *string, at time.Time) (string, error) {
	var ids []string
	err := tx.Raw(`INSERT INTO sms_conversations (id, org_id, assistant_number, customer_number, assistant_id, message_count, last_message_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
ON CONFLICT (org_id, assistant_number, customer_number) DO UPDATE SET
  message_count = sms_conversations.message_count + 1,
  last_message_at = excluded.last_message_at,
  updated_at = excluded.updated_at,
  assistant_id = COALESCE(excluded.assistant_id, sms_conversations.assistant_id)
RETURNING id`, db.NewID(), orgID, assistantNumber, customerNumber, assistantID, at, at, at).Scan(&ids).Error
	if err != nil {
		return "", err
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("db: conversation upsert returned %d rows", len(ids))
	}
	return ids[0], nil
}

// SMSByIdempotencyKey returns the organization's message sent with this key.
func (s *Store) SMSByIdempotencyKey(ctx context.Context, orgID int64, key string) (*db.SMSMessage, error) {
	var m db.SMSMessage
	if err := s.scoped(ctx, orgID).First(&m, "idempotency_key = ?", key).Error; err != nil {
		return nil, db.Translate(err)
	}
	return &m, nil
}

// EnqueueSMS stores an outbound message (m.ID set by the caller, status
// queued or sending) in its conversation. When another message of the
// organization already holds m.IdempotencyKey, nothing is written and that
// message is returned with created=false.
func (s *Store) EnqueueSMS(ctx context.Context, m *db.SMSMessage) (got *db.SMSMessage, created bool, err error) {
	if m.IdempotencyKey != nil {
		if old, err := s.SMSByIdempotencyKey(ctx, m.OrgID, *m.IdempotencyKey); err == nil {
			return old, false, nil
		} else if !errors.Is(err, db.ErrNotFound) {
			return nil, false, err
		}
	}
	now := s.Now()
	m.CreatedAt, m.UpdatedAt = now, now
	if m.MediaURLs == nil {
		m.MediaURLs = db.StringList{}
	}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		conv, err := upsertConversation(tx, m.OrgID, m.FromNumber, m.ToNumber, m.AssistantID, now)
		if err != nil {
			return err
		}
		m.ConversationID = conv
		return tx.Create(m).Error
	})
	if err != nil {
		if m.IdempotencyKey != nil && errors.Is(db.Translate(err), db.ErrConflict) { // the same key, concurrently
			old, err2 := s.SMSByIdempotencyKey(ctx, m.OrgID, *m.IdempotencyKey)
			if err2 == nil {
				return old, false, nil
			}
		}
		return nil, false, db.Translate(err)
	}
	return m, true, nil
}

// StoreInboundSMS stores a received message (m.ID set by the caller) and,
// when fwd is not nil, its forwarding in the same transaction. A message the
// provider already delivered to the organization (same provider and provider
// message id) is not stored again: the first one is returned with dup=true.
// InboundSMSStored reports whether the organization already stored the
// inbound message the provider identifies so (a redelivery).
func (s *Store) InboundSMSStored(ctx context.Context, orgID int64, provider, providerMessageID string) (bool, error) {
	if providerMessageID == "" {
		return false, nil
	}
	var n int64
	err := s.scoped(ctx, orgID).Model(&db.SMSMessage{}).
		Where("direction = ? AND provider = ? AND provider_message_id = ?", db.SMSInbound, provider, providerMessageID).Count(&n).Error
	return n > 0, err
}

func (s *Store) StoreInboundSMS(ctx context.Context, m *db.SMSMessage, fwd *db.SMSForward) (got *db.SMSMessage, dup bool, err error) {
	find := func() (*db.SMSMessage, error) {
		var old db.SMSMessage
		err := s.scoped(ctx, m.OrgID).First(&old, "direction = ? AND provider = ? AND provider_message_id = ?", db.SMSInbound, m.Provider, m.ProviderMessageID).Error
		return &old, db.Translate(err)
	}
	if old, err := find(); err == nil {
		return old, true, nil
	} else if !errors.Is(err, db.ErrNotFound) {
		return nil, false, err
	}
	now := s.Now()
	m.CreatedAt, m.UpdatedAt = now, now
	m.Direction, m.Status = db.SMSInbound, db.SMSReceived
	if m.MediaURLs == nil {
		m.MediaURLs = db.StringList{}
	}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		conv, err := upsertConversation(tx, m.OrgID, m.ToNumber, m.FromNumber, m.AssistantID, now)
		if err != nil {
			return err
		}
		m.ConversationID = conv
		if err := tx.Create(m).Error; err != nil {
			return err
		}
		if fwd != nil {
			fwd.MessageID, fwd.OrgID, fwd.Status = m.ID, m.OrgID, db.ForwardPending
			fwd.CreatedAt, fwd.UpdatedAt, fwd.NextAttemptAt = now, now, now
			return tx.Create(fwd).Error
		}
		return nil
	})
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrConflict) {
			if old, err2 := find(); err2 == nil {
				return old, true, nil
			}
		}
		return nil, false, db.Translate(err)
	}
	return m, false, nil
}

// GetSMS returns one of the organization's messages.
func (s *Store) GetSMS(ctx context.Context, orgID int64, id string) (*db.SMSMessage, error) {
	var m db.SMSMessage
	if err := s.scoped(ctx, orgID).First(&m, "id = ?", id).Error; err != nil {
		return nil, db.Translate(err)
	}
	return &m, nil
}

// CancelSMS cancels a queued message. A message that is no longer queued is
// ErrNotQueued (returned with it).
func (s *Store) CancelSMS(ctx context.Context, orgID int64, id string) (*db.SMSMessage, error) {
	res := s.scoped(ctx, orgID).Model(&db.SMSMessage{}).Where("id = ? AND status = ?", id, db.SMSQueued).
		Updates(map[string]any{"status": db.SMSCancelled, "updated_at": s.Now(), "next_attempt_at": nil})
	if res.Error != nil {
		return nil, res.Error
	}
	m, err := s.GetSMS(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected == 0 {
		return m, ErrNotQueued
	}
	return m, nil
}

func (s *Store) skipLocked() string {
	if s.DB.Dialector.Name() == "postgres" {
		return " FOR UPDATE SKIP LOCKED"
	}
	// SQLite: one writer at a time; the UPDATE below runs as one write
	// transaction, so two claimers never get the same row.
	return ""
}

// ClaimSMS leases up to limit due outbound messages to owner: queued ones
// whose next attempt is due, and sending ones whose lease ran out (their
// worker stopped). They become status sending with lease_until now+lease.
func (s *Store) ClaimSMS(ctx context.Context, owner string, lease time.Duration, limit int) ([]db.SMSMessage, error) {
	return s.ClaimSMSOf(ctx, "", owner, lease, limit)
}

// ClaimSMSOf is ClaimSMS for the messages of one provider ("" = any), so
// that a provider answering slowly holds up only the workers sending to it.
func (s *Store) ClaimSMSOf(ctx context.Context, provider, owner string, lease time.Duration, limit int) ([]db.SMSMessage, error) {
	now := s.Now()
	args := []any{db.SMSSending, owner, now.Add(lease), now, db.SMSOutbound}
	only := ""
	if provider != "" {
		only, args = "provider = ? AND ", append(args, provider)
	}
	args = append(args, db.SMSQueued, now, db.SMSSending, now, limit)
	var out []db.SMSMessage
	err := s.db(ctx).Raw(`UPDATE sms_messages SET status = ?, lease_owner = ?, lease_until = ?, updated_at = ?
WHERE id IN (SELECT id FROM sms_messages WHERE direction = ? AND `+only+`
  ((status = ? AND next_attempt_at <= ?) OR (status = ? AND lease_until < ?))
  ORDER BY next_attempt_at, created_at LIMIT ?`+s.skipLocked()+`)
RETURNING *`, args...).Scan(&out).Error
	return out, err
}

// RenewSMSLease extends owner's lease on a message just before it is sent;
// false means the lease was lost (it expired and another worker took the
// message), and then the message must not be sent.
func (s *Store) RenewSMSLease(ctx context.Context, id, owner string, lease time.Duration) (bool, error) {
	now := s.Now()
	res := s.db(ctx).Model(&db.SMSMessage{}).Where("id = ? AND status = ? AND lease_owner = ?", id, db.SMSSending, owner).
		Updates(map[string]any{"lease_until": now.Add(lease), "updated_at": now})
	return res.RowsAffected == 1, res.Error
}

// leased updates a message only while owner still holds its lease.
func (s *Store) leased(ctx context.Context, id, owner string, set map[string]any) (bool, error) {
	set["lease_owner"] = ""
	set["lease_until"] = nil
	set["updated_at"] = s.Now()
	res := s.db(ctx).Model(&db.SMSMessage{}).Where("id = ? AND status = ? AND lease_owner = ?", id, db.SMSSending, owner).Updates(set)
	return res.RowsAffected == 1, res.Error
}

// MarkSMSSent records the provider's id and status sent, ending the lease in
// the same statement, then applies a delivery report that came first. ok is
// false when the lease was lost.
func (s *Store) MarkSMSSent(ctx context.Context, id, owner, providerMessageID string) (bool, error) {
	now := s.Now()
	ok, err := s.leased(ctx, id, owner, map[string]any{"status": db.SMSSent, "provider_message_id": providerMessageID,
		"sent_at": now, "error": "", "attempts": gorm.Expr("attempts + 1"), "next_attempt_at": nil})
	if !ok || err != nil || providerMessageID == "" {
		return ok, err
	}
	if err := s.applyHeldReport(ctx, id, providerMessageID); err != nil {
		s.Log.Warn("held delivery report not applied", "sms_id", id, "err", err)
	}
	return true, nil
}

// RetrySMS puts a message back in the queue for another attempt at next.
func (s *Store) RetrySMS(ctx context.Context, id, owner string, next time.Time, errMsg string) (bool, error) {
	return s.leased(ctx, id, owner, map[string]any{"status": db.SMSQueued, "next_attempt_at": next, "error": errMsg,
		"attempts": gorm.Expr("attempts + 1")})
}

// ReleaseSMS puts a claimed message back, unattempted (the worker stops).
func (s *Store) ReleaseSMS(ctx context.Context, id, owner string) (bool, error) {
	return s.leased(ctx, id, owner, map[string]any{"status": db.SMSQueued})
}

// FailSMS records a permanent failure.
func (s *Store) FailSMS(ctx context.Context, id, owner, errMsg string) (bool, error) {
	return s.leased(ctx, id, owner, map[string]any{"status": db.SMSFailed, "error": errMsg, "next_attempt_at": nil,
		"attempts": gorm.Expr("attempts + 1")})
}

// ErrReportHeld: a delivery report for a message not yet marked sent was
// kept; it is applied when the send is recorded.
var ErrReportHeld = errors.New("delivery report held until the message is recorded as sent")

// ApplySMSStatus applies a provider's delivery report to the organization's
// outbound message with that provider id: sent → delivered, or sent →
// failed with errMsg. Reports that would move a message backwards (or out
// of a final state) change nothing. It returns the message as it now is.
// A report for a provider id no message carries yet (it raced the end of
// the send) is kept and ErrReportHeld returned; MarkSMSSent applies it.
func (s *Store) ApplySMSStatus(ctx context.Context, orgID int64, provider, providerMessageID, status, errMsg string) (*db.SMSMessage, error) {
	m, err := s.applySMSStatus(s.db(ctx), orgID, provider, providerMessageID, status, errMsg)
	if !errors.Is(err, db.ErrNotFound) || providerMessageID == "" || (status != db.SMSDelivered && status != db.SMSFailed) {
		return m, err
	}
	// A later final report replaces an earlier one (delivered after failed,
	// say). Reports never matched within a day are dropped.
	now := s.Now()
	err = s.db(ctx).Exec(`INSERT INTO sms_status_reports (provider, provider_message_id, org_id, status, error, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (org_id, provider, provider_message_id) DO UPDATE SET status = excluded.status, error = excluded.error, created_at = excluded.created_at`,
		provider, providerMessageID, orgID, status, errMsg, now).Error
	if err != nil {
		return nil, err
	}
	if err := s.db(ctx).Exec(`DELETE FROM sms_status_reports WHERE created_at < ?`, now.Add(-24*time.Hour)).Error; err != nil {
		return nil, err
	}
	// The send may have been recorded since the first look, after
	// MarkSMSSent looked for held reports: look once more now that this one
	// is written, so that one of the two always sees the other.
	m, err = s.applySMSStatus(s.db(ctx), orgID, provider, providerMessageID, status, errMsg)
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrReportHeld
	}
	if err != nil {
		return nil, err
	}
	return m, s.db(ctx).Exec(`DELETE FROM sms_status_reports WHERE org_id = ? AND provider = ? AND provider_message_id = ?`, orgID, provider, providerMessageID).Error
}

func (s *Store) applySMSStatus(g *gorm.DB, orgID int64, provider, providerMessageID, status, errMsg string) (*db.SMSMessage, error) {
	q := func() *gorm.DB {
		return g.Model(&db.SMSMessage{}).Where("org_id = ? AND direction = ? AND provider = ? AND provider_message_id = ? AND provider_message_id <> ''",
			orgID, db.SMSOutbound, provider, providerMessageID)
	}
	now := s.Now()
	update := func() (int64, error) {
		var set map[string]any
		switch status {
		case db.SMSDelivered:
			set = map[string]any{"status": db.SMSDelivered, "delivered_at": now, "updated_at": now}
		case db.SMSFailed:
			set = map[string]any{"status": db.SMSFailed, "error": errMsg, "updated_at": now}
		default:
			return 0, nil
		}
		res := q().Where("status = ?", db.SMSSent).Updates(set)
		return res.RowsAffected, res.Error
	}
	n, err := update()
	if err != nil {
		return nil, err
	}
	var m db.SMSMessage
	if err := q().First(&m).Error; err != nil {
		return nil, db.Translate(err)
	}
	if n == 0 && m.Status == db.SMSSent && (status == db.SMSDelivered || status == db.SMSFailed) {
		// Recorded as sent between the update and the read: apply it now.
		if _, err := update(); err != nil {
			return nil, err
		}
		if err := q().First(&m).Error; err != nil {
			return nil, db.Translate(err)
		}
	}
	return &m, nil
}

// applyHeldReport applies (and removes) a report that arrived before the
// message was marked sent.
func (s *Store) applyHeldReport(ctx context.Context, id, providerMessageID string) error {
	var m db.SMSMessage
	if err := s.db(ctx).Select("org_id", "provider").First(&m, "id = ?", id).Error; err != nil {
		return db.Translate(err)
	}
	var reps []struct {
		Status string
		Error  string
	}
	if err := s.db(ctx).Raw(`SELECT status, error FROM sms_status_reports WHERE provider = ? AND provider_message_id = ? AND org_id = ?`,
		m.Provider, providerMessageID, m.OrgID).Scan(&reps).Error; err != nil || len(reps) == 0 {
		return err
	}
	if _, err := s.applySMSStatus(s.db(ctx), m.OrgID, m.Provider, providerMessageID, reps[0].Status, reps[0].Error); err != nil {
		return err
	}
	return s.db(ctx).Exec(`DELETE FROM sms_status_reports WHERE org_id = ? AND provider = ? AND provider_message_id = ?`, m.OrgID, m.Provider, providerMessageID).Error
}

// OutboundSMSOrg finds the organization of an outbound message by its
// provider id (a delivery report whose sender is not a number we know).
func (s *Store) OutboundSMSOrg(ctx context.Context, provider, providerMessageID string) (int64, error) {
	var m db.SMSMessage
	err := s.db(ctx).Select("org_id").First(&m, "direction = ? AND provider = ? AND provider_message_id = ? AND provider_message_id <> ''",
		db.SMSOutbound, provider, providerMessageID).Error
	return m.OrgID, db.Translate(err)
}

// --- forwarding outbox ---

// ClaimForwards leases up to limit due forwards to owner.
func (s *Store) ClaimForwards(ctx context.Context, owner string, lease time.Duration, limit int) ([]db.SMSForward, error) {
	now := s.Now()
	var out []db.SMSForward
	err := s.db(ctx).Raw(`UPDATE sms_forwards SET status = ?, lease_owner = ?, lease_until = ?, updated_at = ?
WHERE id IN (SELECT id FROM sms_forwards WHERE
  (status = ? AND next_attempt_at <= ?) OR (status = ? AND lease_until < ?)
  ORDER BY next_attempt_at LIMIT ?`+s.skipLocked()+`)
RETURNING *`, db.ForwardSending, owner, now.Add(lease), now, db.ForwardPending, now, db.ForwardSending, now, limit).Scan(&out).Error
	return out, err
}

// RenewForwardLease extends owner's lease on a forward before its POST.
func (s *Store) RenewForwardLease(ctx context.Context, id, owner string, lease time.Duration) (bool, error) {
	now := s.Now()
	res := s.db(ctx).Model(&db.SMSForward{}).Where("id = ? AND status = ? AND lease_owner = ?", id, db.ForwardSending, owner).
		Updates(map[string]any{"lease_until": now.Add(lease), "updated_at": now})
	return res.RowsAffected == 1, res.Error
}

func (s *Store) forwardLeased(ctx context.Context, id, owner string, set map[string]any) error {
	set["lease_owner"] = ""
	set["lease_until"] = nil
	set["updated_at"] = s.Now()
	set["attempts"] = gorm.Expr("attempts + 1")
	return s.db(ctx).Model(&db.SMSForward{}).Where("id = ? AND status = ? AND lease_owner = ?", id, db.ForwardSending, owner).Updates(set).Error
}

// ReleaseForward puts a claimed forward back, unattempted (the worker stops).
func (s *Store) ReleaseForward(ctx context.Context, id, owner string) error {
	return s.db(ctx).Model(&db.SMSForward{}).Where("id = ? AND status = ? AND lease_owner = ?", id, db.ForwardSending, owner).
		Updates(map[string]any{"status": db.ForwardPending, "lease_owner": "", "lease_until": nil, "updated_at": s.Now()}).Error
}

// ForwardDelivered records a 2xx from the assistant.
func (s *Store) ForwardDelivered(ctx context.Context, id, owner string) error {
	return s.forwardLeased(ctx, id, owner, map[string]any{"status": db.ForwardDelivered, "delivered_at": s.Now(), "last_error": ""})
}

// RetryForward schedules another attempt at next.
func (s *Store) RetryForward(ctx context.Context, id, owner string, next time.Time, errMsg string) error {
	return s.forwardLeased(ctx, id, owner, map[string]any{"status": db.ForwardPending, "next_attempt_at": next, "last_error": errMsg})
}

// FailForward gives up on a forward.
func (s *Store) FailForward(ctx context.Context, id, owner, errMsg string) error {
	return s.forwardLeased(ctx, id, owner, map[string]any{"status": db.ForwardFailed, "last_error": errMsg})
}

// ForwardOf returns the forwarding of a message, if any.
func (s *Store) ForwardOf(ctx context.Context, orgID int64, messageID string) (*db.SMSForward, error) {
	var f db.SMSForward
	if err := s.scoped(ctx, orgID).First(&f, "message_id = ?", messageID).Error; err != nil {
		return nil, db.Translate(err)
	}
	return &f, nil
}

// --- consent ---

// SetOptOut records that customer opted out of sender (idempotent).
func (s *Store) SetOptOut(ctx context.Context, orgID int64, sender, customer, keyword string) error {
	return s.db(ctx).Exec(`INSERT INTO sms_opt_outs (org_id, sender_number, customer_number, keyword, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (org_id, sender_number, customer_number) DO NOTHING`, orgID, sender, customer, strings.ToUpper(keyword), s.Now()).Error
}

// ClearOptOut records that customer opted back in to sender.
func (s *Store) ClearOptOut(ctx context.Context, orgID int64, sender, customer string) error {
	return s.scoped(ctx, orgID).Where("sender_number = ? AND customer_number = ?", sender, customer).Delete(&db.SMSOptOut{}).Error
}

// OptedOut reports whether customer opted out of sender.
func (s *Store) OptedOut(ctx context.Context, orgID int64, sender, customer string) (bool, error) {
	var n int64
	err := s.scoped(ctx, orgID).Model(&db.SMSOptOut{}).Where("sender_number = ? AND customer_number = ?", sender, customer).Count(&n).Error
	return n > 0, err
}

// --- conversations and stats ---

// ConversationRow is a conversation with its customer's consent.
type ConversationRow struct {
	db.SMSConversation
	// OptedOut: the customer opted out of the assistant number.
	OptedOut bool
}

// ListConversations lists the organization's conversations, most recent first.
func (s *Store) ListConversations(ctx context.Context, orgID int64, p db.Page) ([]ConversationRow, int64, error) {
	var total int64
	if err := s.scoped(ctx, orgID).Model(&db.SMSConversation{}).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []ConversationRow
	err := s.db(ctx).Raw(`SELECT c.*, EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.org_id = c.org_id
  AND o.sender_number = c.assistant_number AND o.customer_number = c.customer_number) AS opted_out
FROM sms_conversations c WHERE c.org_id = ? ORDER BY c.last_message_at DESC, c.id LIMIT ? OFFSET ?`, orgID, p.Limit, p.Skip).Scan(&out).Error
	return out, total, err
}

// ConversationMessages lists a conversation's messages, oldest first.
func (s *Store) ConversationMessages(ctx context.Context, orgID int64, convID string, p db.Page) ([]db.SMSMessage, int64, error) {
	var c db.SMSConversation
	if err := s.scoped(ctx, orgID).First(&c, "id = ?", convID).Error; err != nil {
		return nil, 0, db.Translate(err)
	}
	var total int64
	if err := s.scoped(ctx, orgID).Model(&db.SMSMessage{}).Where("conversation_id = ?", convID).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []db.SMSMessage
	err := s.scoped(ctx, orgID).Where("conversation_id = ?", convID).Order("created_at, id").Offset(p.Skip).Limit(p.Limit).Find(&out).Error
	return out, total, err
}

// SMSCount is the number of messages with one provider, direction and status.
type SMSCount struct {
	Provider  string
	Direction string
	Status    string
	N         int64
}

// SMSCounts counts the organization's messages by provider, direction and status.
func (s *Store) SMSCounts(ctx context.Context, orgID int64) ([]SMSCount, error) {
	var out []SMSCount
	err := s.scoped(ctx, orgID).Model(&db.SMSMessage{}).Select("provider, direction, status, count(*) AS n").
		Group("provider, direction, status").Order("provider, direction, status").Scan(&out).Error
	return out, err
}

// AllSMSCounts counts every organization's messages by provider, direction
// and status, and the forwards by status (provider "", direction "forward").
func (s *Store) AllSMSCounts(ctx context.Context) ([]SMSCount, error) {
	var out []SMSCount
	if err := s.db(ctx).Model(&db.SMSMessage{}).Select("provider, direction, status, count(*) AS n").
		Group("provider, direction, status").Scan(&out).Error; err != nil {
		return nil, err
	}
	var fw []SMSCount
	err := s.db(ctx).Model(&db.SMSForward{}).Select("'' AS provider, 'forward' AS direction, status, count(*) AS n").Group("status").Scan(&fw).Error
	return append(out, fw...), err
}

// SMSQueueStats describes the organization's queue.
type SMSQueueStats struct {
	Queued          int64
	Due             int64
	Sending         int64
	OldestQueuedAt  *time.Time
	ForwardsPending int64
	ForwardsFailed  int64
}

// QueueStats reports the organization's queue.
func (s *Store) QueueStats(ctx context.Context, orgID int64) (SMSQueueStats, error) {
	var st SMSQueueStats
	now := s.Now()
	base := func() *gorm.DB {
		return s.scoped(ctx, orgID).Model(&db.SMSMessage{}).Where("direction = ?", db.SMSOutbound)
	}
	if err := base().Where("status = ?", db.SMSQueued).Count(&st.Queued).Error; err != nil {
		return st, err
	}
	if err := base().Where("status = ? AND next_attempt_at <= ?", db.SMSQueued, now).Count(&st.Due).Error; err != nil {
		return st, err
	}
	if err := base().Where("status = ?", db.SMSSending).Count(&st.Sending).Error; err != nil {
		return st, err
	}
	var oldest []db.SMSMessage
	if err := base().Where("status = ?", db.SMSQueued).Order("created_at").Limit(1).Find(&oldest).Error; err != nil {
		return st, err
	}
	if len(oldest) == 1 {
		st.OldestQueuedAt = &oldest[0].CreatedAt
	}
	fw := func() *gorm.DB { return s.scoped(ctx, orgID).Model(&db.SMSForward{}) }
	if err := fw().Where("status IN ?", []string{db.ForwardPending, db.ForwardSending}).Count(&st.ForwardsPending).Error; err != nil {
		return st, err
	}
	err := fw().Where("status = ?", db.ForwardFailed).Count(&st.ForwardsFailed).Error
	return st, err
}

package db

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// CallFilter narrows ListCalls. Zero fields do not filter.
type CallFilter struct {
	Status string
	// Statuses matches a call in any of them (Status, when set too, is one
	// more).
	Statuses    []string
	AssistantID string
	// PhoneNumber matches the call's from, to or resolved number exactly.
	PhoneNumber string
	Direction   string
	From, To    time.Time // started_at in [From, To)
}

// CreateCall inserts a call record (ID set when empty) with its first event.
func (s *Store) CreateCall(ctx context.Context, c *Call) error {
	if c.ID == "" {
		c.ID = NewID()
	}
	now := s.Now()
	if c.StartedAt.IsZero() {
		c.StartedAt = now
	}
	c.CreatedAt, c.UpdatedAt = now, now
	if c.Provider == "" {
		c.Provider = "sip"
	}
	return Translate(s.single(ctx).Create(c).Error)
}

// UpdateCall writes the given columns of the organization's call.
func (s *Store) UpdateCall(ctx context.Context, orgID int64, id string, cols map[string]any) error {
	cols["updated_at"] = s.Now()
	res := s.single(ctx).Where("org_id = ?", orgID).Model(&Call{}).Where("id = ?", id).Updates(cols)
	if res.Error != nil {
		return Translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CloseOpenCall writes cols to one of the organization's calls only while
// it is still ringing or in progress; false when it was not (ended since
// it was read: nothing written).
func (s *Store) CloseOpenCall(ctx context.Context, orgID int64, id string, cols map[string]any) (bool, error) {
	cols["updated_at"] = s.Now()
	res := s.single(ctx).Where("org_id = ?", orgID).Model(&Call{}).
		Where("id = ? AND status IN ?", id, []string{CallRinging, CallInProgress}).Updates(cols)
	return res.RowsAffected > 0, Translate(res.Error)
}

// GetCall returns one of the organization's calls.
func (s *Store) GetCall(ctx context.Context, orgID int64, id string) (*Call, error) {
	var c Call
	if err := s.scoped(ctx, orgID).First(&c, "id = ?", id).Error; err != nil {
		return nil, Translate(err)
	}
	return &c, nil
}

// FindCall returns the organization's most recent call whose id or
// call_sid is one of refs (empty ones are ignored): the Twilio-compatible
// route names a call by what its assistant saw as callSid.
func (s *Store) FindCall(ctx context.Context, orgID int64, refs ...string) (*Call, error) {
	var keep []string
	for _, r := range refs {
		if r != "" {
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 {
		return nil, ErrNotFound
	}
	var c Call
	if err := s.scoped(ctx, orgID).Where("(id IN ? OR call_sid IN ?)", keep, keep).Order("started_at DESC").First(&c).Error; err != nil {
		return nil, Translate(err)
	}
	return &c, nil
}

// ListCalls lists the organization's calls, newest first.
func (s *Store) ListCalls(ctx context.Context, orgID int64, f CallFilter, p Page) ([]Call, int64, error) {
	q := s.scoped(ctx, orgID).Model(&Call{})
	if st := callStatuses(f); len(st) == 1 {
		q = q.Where("status = ?", st[0])
	} else if len(st) > 1 {
		q = q.Where("status IN ?", st)
	}
	if f.AssistantID != "" {
		q = q.Where("assistant_id = ?", f.AssistantID)
	}
	if f.Direction != "" {
		q = q.Where("direction = ?", f.Direction)
	}
	if f.PhoneNumber != "" {
		q = q.Where("(from_number = ? OR to_number = ? OR resolved_did = ?)", f.PhoneNumber, f.PhoneNumber, f.PhoneNumber)
	}
	if !f.From.IsZero() {
		q = q.Where("started_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("started_at < ?", f.To)
	}
	return listCalls(q, p)
}

// callRowCounted is a call with the count of every call its query matched.
type callRowCounted struct {
	Call      `gorm:"embedded"`
	ListTotal int64
}

func (callRowCounted) TableName() string { return "calls" }

// listCalls reads a page of q's calls and their count in one statement
// (the count a scalar subquery beside the page's): a call changing status
// while the list is read is either counted and shown or neither, never
// counted in one read and missing from the other. The count and the page
// each keep their own plan (an index-only count, a page read from the top
// of the index), which a COUNT(*) OVER () over every match would not. A
// page past the end has no row to carry the count, so it is counted on its
// own then.
func listCalls(q *gorm.DB, p Page) ([]Call, int64, error) {
	page := q.Session(&gorm.Session{}).Order("started_at DESC, id").Offset(p.Skip).Limit(p.Limit)
	if p.NoTotal {
		var out []Call
		err := page.Find(&out).Error
		return out, -1, err
	}
	count := q.Session(&gorm.Session{}).Select("count(*)")
	var rows []callRowCounted
	if err := q.Session(&gorm.Session{NewDB: true}).Raw("SELECT p.*, (?) AS list_total FROM (?) AS p ORDER BY p.started_at DESC, p.id",
		count, page).Find(&rows).Error; err != nil {
		return nil, 0, err
	}
	var total int64
	if len(rows) > 0 {
		total = rows[0].ListTotal
	} else if p.Skip > 0 {
		if err := q.Count(&total).Error; err != nil {
			return nil, 0, err
		}
	}
	out := make([]Call, len(rows))
	for i := range rows {
		out[i] = rows[i].Call
	}
	return out, total, nil
}

func callStatuses(f CallFilter) []string {
	if f.Status == "" {
		return f.Statuses
	}
	if len(f.Statuses) == 0 {
		return []string{f.Status}
	}
	return append([]string{f.Status}, f.Statuses...)
}

// AddCallEvent appends an event to a call's timeline.
func (s *Store) AddCallEvent(ctx context.Context, orgID int64, callID, typ string, detail JSONMap) error {
	if detail == nil {
		detail = JSONMap{}
	}
	return Translate(s.single(ctx).Create(&CallEvent{CallID: callID, OrgID: orgID, At: s.Now(), Type: typ, Detail: detail}).Error)
}

// CallEvents returns the timeline of the organization's call, oldest first.
func (s *Store) CallEvents(ctx context.Context, orgID int64, callID string) ([]CallEvent, error) {
	var out []CallEvent
	err := s.scoped(ctx, orgID).Where("call_id = ?", callID).Order("id").Find(&out).Error
	return out, err
}

// CloseOrphanCalls ends every call still ringing or in progress (a previous
// process stopped without closing them): status failed, the given reason.
// With providers, only the calls of those providers (sip, twilio, …). It
// returns how many were closed.
func (s *Store) CloseOrphanCalls(ctx context.Context, reason string, providers ...string) (int64, error) {
	now := s.Now()
	q := s.db(ctx).Model(&Call{}).Where("status IN ?", []string{CallRinging, CallInProgress})
	if len(providers) > 0 {
		q = q.Where("provider IN ?", providers)
	}
	res := q.Updates(map[string]any{"status": CallFailed, "reason": reason, "ended_at": now, "updated_at": now})
	return res.RowsAffected, res.Error
}

// OpenCalls returns the calls of the provider (every organization's) still
// ringing or in progress, oldest first: what a starting sipbridge adopts.
func (s *Store) OpenCalls(ctx context.Context, provider string) ([]Call, error) {
	var out []Call
	err := s.db(ctx).Where("status IN ? AND provider = ?", []string{CallRinging, CallInProgress}, provider).
		Order("started_at").Find(&out).Error
	return out, Translate(err)
}

// CountLiveCalls counts the organization's calls still ringing or in
// progress (every sipbridge instance writes them here).
func (s *Store) CountLiveCalls(ctx context.Context, orgID int64) (int64, error) {
	var n int64
	err := s.scoped(ctx, orgID).Model(&Call{}).Where("status IN ?", []string{CallRinging, CallInProgress}).Count(&n).Error
	return n, err
}

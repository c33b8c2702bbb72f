package console

import (
	"context"
	"net/http"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/smsdb"
)

// queueStats is the organization's outbound queue and forwarding outbox.
type queueStats struct {
	// Outbound messages by status, every provider.
	Queued, Sending, Sent, Delivered, Failed int64
	OldestQueuedAt                           *time.Time
	OldestQueuedAge                          string // "" when nothing is queued
	ForwardsPending, ForwardsFailed          int64
}

type messagesData struct {
	Conversations []smsdb.ConversationRow
	Open          string
	Messages      []db.SMSMessage
	Queue         queueStats
	Failed        []smsdb.FailedForward
	FailedTotal   int64
}

func (c *Console) messagesPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	convs, _, err := smsdb.New(c.d.Store).ListConversations(ctx, s.orgID, db.Page{Limit: 100})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := messagesData{Conversations: convs, Open: r.URL.Query().Get("conversation")}
	if d.Open != "" {
		// Another organization's conversation lists nothing: the query is scoped.
		d.Messages, _, err = smsdb.New(c.d.Store).ConversationMessages(ctx, s.orgID, d.Open, db.Page{Limit: 200})
		if err != nil {
			c.fail(w, r, err)
			return
		}
	}
	if d.Queue, err = c.queueStats(ctx, s.orgID); err != nil {
		c.fail(w, r, err)
		return
	}
	if d.Failed, d.FailedTotal, err = smsdb.New(c.d.Store).FailedForwards(ctx, s.orgID, db.Page{Limit: 50}); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, http.StatusOK, "messages", "", pageView(s, "Messages", "messages", d))
}

// queueStats counts the organization's outbound messages by status (what
// GET /api/v1/sms/stats and /sms/queue/stats report) and ages the oldest
// queued one on the store's clock.
func (c *Console) queueStats(ctx context.Context, orgID int64) (queueStats, error) {
	var q queueStats
	counts, err := smsdb.New(c.d.Store).SMSCounts(ctx, orgID)
	if err != nil {
		return q, err
	}
	by := map[string]*int64{db.SMSQueued: &q.Queued, db.SMSSending: &q.Sending, db.SMSSent: &q.Sent, db.SMSDelivered: &q.Delivered, db.SMSFailed: &q.Failed}
	for _, n := range counts {
		if p := by[n.Status]; p != nil && n.Direction == db.SMSOutbound {
			*p += n.N
		}
	}
	st, err := smsdb.New(c.d.Store).QueueStats(ctx, orgID)
	if err != nil {
		return q, err
	}
	q.ForwardsPending, q.ForwardsFailed, q.OldestQueuedAt = st.ForwardsPending, st.ForwardsFailed, st.OldestQueuedAt
	if st.OldestQueuedAt != nil {
		q.OldestQueuedAge = max(0, c.d.Store.Now().Sub(*st.OldestQueuedAt)).Round(time.Second).String()
	}
	return q, nil
}

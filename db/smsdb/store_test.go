package smsdb_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"gorm.io/gorm"
)

func outbound(org int64, body string, key *string) *db.SMSMessage {
	now := time.Now().UTC()
	return &db.SMSMessage{ID: db.NewID(), OrgID: org, Direction: db.SMSOutbound, FromNumber: "+14155550100", ToNumber: "+14155550111",
		Body: body, Provider: "twilio", Status: db.SMSQueued, Segments: 1, Encoding: "GSM-7", IdempotencyKey: key, NextAttemptAt: &now}
}

func TestSMSQueueLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s := newStore(t, g)
		ctx := context.Background()
		org, _, err := s.EnsureOrg(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		other, _, _ := s.EnsureOrg(ctx, "other")
		key := "k1"
		m1, created, err := s.EnqueueSMS(ctx, outbound(org.ID, "one", &key))
		if err != nil || !created {
			t.Fatal(err, created)
		}
		again, created, err := s.EnqueueSMS(ctx, outbound(org.ID, "one again", &key))
		if err != nil || created || again.ID != m1.ID {
			t.Fatalf("same key made a new message: %v %v", created, err)
		}
		// Another organization may use the same key.
		if _, created, err := s.EnqueueSMS(ctx, outbound(other.ID, "theirs", &key)); err != nil || !created {
			t.Fatal(err, created)
		}
		m2, _, _ := s.EnqueueSMS(ctx, outbound(org.ID, "two", nil))
		m3, _, _ := s.EnqueueSMS(ctx, outbound(org.ID, "three", nil))
		if _, err := s.CancelSMS(ctx, org.ID, m3.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CancelSMS(ctx, other.ID, m2.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("other org cancelling: %v", err)
		}
		claimed, err := s.ClaimSMS(ctx, "w1", time.Minute, 10)
		if err != nil || len(claimed) != 3 {
			t.Fatalf("claimed %d (%v), want 3 (the cancelled one stays)", len(claimed), err)
		}
		if more, _ := s.ClaimSMS(ctx, "w2", time.Minute, 10); len(more) != 0 {
			t.Fatalf("leased messages claimed twice: %d", len(more))
		}
		if _, err := s.CancelSMS(ctx, org.ID, m2.ID); !errors.Is(err, smsdb.ErrNotQueued) {
			t.Fatalf("cancelling a sending message: %v", err)
		}
		if ok, _ := s.MarkSMSSent(ctx, m1.ID, "w2", "SMx"); ok {
			t.Fatal("a worker without the lease marked a message sent")
		}
		if ok, err := s.MarkSMSSent(ctx, m1.ID, "w1", "SM1"); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if ok, _ := s.RetrySMS(ctx, m2.ID, "w1", time.Now().Add(time.Hour), "provider down"); !ok {
			t.Fatal("retry")
		}
		if more, _ := s.ClaimSMS(ctx, "w2", time.Minute, 10); len(more) != 0 {
			t.Fatalf("a message not yet due was claimed")
		}
		got, _ := s.GetSMS(ctx, org.ID, m2.ID)
		if got.Status != db.SMSQueued || got.Attempts != 1 || got.Error != "provider down" {
			t.Fatalf("after retry: %+v", got)
		}
		// Delivery reports.
		if m, err := s.ApplySMSStatus(ctx, org.ID, "twilio", "SM1", db.SMSDelivered, ""); err != nil || m.Status != db.SMSDelivered {
			t.Fatalf("delivered: %+v %v", m, err)
		}
		if m, _ := s.ApplySMSStatus(ctx, org.ID, "twilio", "SM1", db.SMSFailed, "late"); m.Status != db.SMSDelivered {
			t.Fatal("a final state moved")
		}
		if _, err := s.ApplySMSStatus(ctx, other.ID, "twilio", "SM1", db.SMSFailed, "x"); !errors.Is(err, smsdb.ErrReportHeld) {
			t.Fatalf("another org's report: %v", err)
		}
		if m, _ := s.GetSMS(ctx, org.ID, m1.ID); m.Status != db.SMSDelivered {
			t.Fatal("another organization's report changed the message")
		}
		// An expired lease is claimed again (its worker stopped).
		s.Now = func() time.Time { return time.Now().UTC().Add(2 * time.Hour) }
		claimed, _ = s.ClaimSMS(ctx, "w3", time.Minute, 10)
		ids := []string{}
		for _, c := range claimed {
			ids = append(ids, c.Body)
		}
		if strings.Join(ids, ",") != "two,theirs" && strings.Join(ids, ",") != "theirs,two" {
			t.Fatalf("reclaimed %v", ids)
		}
		counts, _ := s.SMSCounts(ctx, org.ID)
		if len(counts) == 0 {
			t.Fatal("no counts")
		}
	})
}

func TestSMSInboundDedupAndOutbox(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s := newStore(t, g)
		ctx := context.Background()
		org, _, _ := s.EnsureOrg(ctx, "acme")
		a := &db.Assistant{OrgID: org.ID, Name: "A", SMSWebhookURL: "https://a.example/sms"}
		if err := s.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		in := func() *db.SMSMessage {
			return &db.SMSMessage{ID: db.NewID(), OrgID: org.ID, AssistantID: &a.ID, FromNumber: "+14155550111", ToNumber: "+14155550100",
				Body: "hi", Provider: "telnyx", ProviderMessageID: "tx-1"}
		}
		m, dup, err := s.StoreInboundSMS(ctx, in(), &db.SMSForward{ID: db.NewID(), AssistantID: a.ID, URL: a.SMSWebhookURL, Payload: "{}"})
		if err != nil || dup {
			t.Fatal(err, dup)
		}
		m2, dup, err := s.StoreInboundSMS(ctx, in(), &db.SMSForward{ID: db.NewID(), AssistantID: a.ID, URL: a.SMSWebhookURL, Payload: "{}"})
		if err != nil || !dup || m2.ID != m.ID {
			t.Fatalf("redelivered webhook stored twice: %v %v", dup, err)
		}
		fw, err := s.ClaimForwards(ctx, "w", time.Minute, 10)
		if err != nil || len(fw) != 1 {
			t.Fatalf("forwards %d %v", len(fw), err)
		}
		if err := s.RetryForward(ctx, fw[0].ID, "w", time.Now().UTC().Add(-time.Second), "503"); err != nil {
			t.Fatal(err)
		}
		fw, _ = s.ClaimForwards(ctx, "w", time.Minute, 10)
		if len(fw) != 1 || fw[0].Attempts != 1 {
			t.Fatalf("retry not due again: %+v", fw)
		}
		if err := s.ForwardDelivered(ctx, fw[0].ID, "w"); err != nil {
			t.Fatal(err)
		}
		if fw, _ := s.ClaimForwards(ctx, "w", time.Minute, 10); len(fw) != 0 {
			t.Fatal("delivered forward claimed again")
		}
		// Conversation: the outbound reply joins the inbound message's conversation.
		now := time.Now().UTC()
		out, _, err := s.EnqueueSMS(ctx, &db.SMSMessage{ID: db.NewID(), OrgID: org.ID, Direction: db.SMSOutbound, FromNumber: "+14155550100",
			ToNumber: "+14155550111", Body: "reply", Provider: "telnyx", Status: db.SMSQueued, NextAttemptAt: &now})
		if err != nil || out.ConversationID != m.ConversationID {
			t.Fatalf("reply in another conversation: %v", err)
		}
		convs, total, _ := s.ListConversations(ctx, org.ID, db.Page{Limit: 10})
		if total != 1 || convs[0].MessageCount != 2 {
			t.Fatalf("conversations: %+v", convs)
		}
		// Webhook secret sealed, rotation-aware.
		if err := s.SetSMSWebhookSecret(ctx, org.ID, a.ID, "whsec-123"); err != nil {
			t.Fatal(err)
		}
		if sec, err := s.SMSWebhookSecret(ctx, a.ID); err != nil || sec != "whsec-123" {
			t.Fatal(sec, err)
		}
		var raw string
		s.DB.Raw("SELECT secret_enc FROM sms_webhook_secrets").Scan(&raw)
		if strings.Contains(raw, "whsec") {
			t.Fatal("secret in clear")
		}
		// Consent.
		s.SetOptOut(ctx, org.ID, "+14155550100", "+14155550111", "stop")
		s.SetOptOut(ctx, org.ID, "+14155550100", "+14155550111", "stop")
		if ok, _ := s.OptedOut(ctx, org.ID, "+14155550100", "+14155550111"); !ok {
			t.Fatal("not opted out")
		}
		if convs, _, err := s.ListConversations(ctx, org.ID, db.Page{Limit: 10}); err != nil || !convs[0].OptedOut {
			t.Fatalf("conversation does not show the opt-out: %+v %v", convs, err)
		}
		s.ClearOptOut(ctx, org.ID, "+14155550100", "+14155550111")
		if ok, _ := s.OptedOut(ctx, org.ID, "+14155550100", "+14155550111"); ok {
			t.Fatal("still opted out")
		}
	})
}

func TestSMSLeaseRenewal(t *testing.T) {
	dbtest.Each(t, testSMSLeaseRenewal)
}

func testSMSLeaseRenewal(t *testing.T, g *gorm.DB) {
	s := newStore(t, g)
	ctx := context.Background()
	org, _, _ := s.EnsureOrg(ctx, "acme")
	m, _, _ := s.EnqueueSMS(ctx, outbound(org.ID, "slow", nil))
	if c, _ := s.ClaimSMS(ctx, "a", time.Minute, 1); len(c) != 1 {
		t.Fatal("claim")
	}
	// a's lease runs out while it waits; b takes the message.
	base := time.Now().UTC()
	s.Now = func() time.Time { return base.Add(2 * time.Minute) }
	if c, _ := s.ClaimSMS(ctx, "b", time.Minute, 1); len(c) != 1 {
		t.Fatal("expired lease not reclaimed")
	}
	if ok, _ := s.RenewSMSLease(ctx, m.ID, "a", time.Minute); ok {
		t.Fatal("a renewed a lease it lost: it would send a second time")
	}
	if ok, _ := s.RenewSMSLease(ctx, m.ID, "b", time.Minute); !ok {
		t.Fatal("b cannot renew its lease")
	}
}

// A delivery report can arrive before the worker records the send.
func TestSMSEarlyDeliveryReportIsHeld(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s := newStore(t, g)
		ctx := context.Background()
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		m, _, _ := s.EnqueueSMS(ctx, outbound(org.ID, "fast", nil))
		s.ClaimSMS(ctx, "w", time.Minute, 1)
		if _, err := s.ApplySMSStatus(ctx, org.ID, "twilio", "SMfast", db.SMSDelivered, ""); !errors.Is(err, smsdb.ErrReportHeld) {
			t.Fatalf("early report: %v", err)
		}
		// Another organization cannot plant a report on it.
		s.ApplySMSStatus(ctx, other.ID, "twilio", "SMfast", db.SMSFailed, "forged")
		if ok, err := s.MarkSMSSent(ctx, m.ID, "w", "SMfast"); !ok || err != nil {
			t.Fatal(ok, err)
		}
		got, _ := s.GetSMS(ctx, org.ID, m.ID)
		if got.Status != db.SMSDelivered || got.Error != "" {
			t.Fatalf("after the send was recorded: %s %q", got.Status, got.Error)
		}
		var n int64
		s.DB.Raw("SELECT count(*) FROM sms_status_reports WHERE org_id = ?", org.ID).Scan(&n)
		if n != 0 {
			t.Fatalf("%d held reports left", n)
		}
	})
}

// The worker's backoff: a failed send goes back to the queue and is not
// claimed again before its next attempt, whatever zone that time is in.
func TestSMSBackoffReleaseAndFail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s := newStore(t, g)
		ctx := context.Background()
		base := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
		at := base
		s.Now = func() time.Time { return at }
		org, _, _ := s.EnsureOrg(ctx, "acme")
		enqueue := func(body string, due time.Time) *db.SMSMessage {
			t.Helper()
			m := outbound(org.ID, body, nil)
			m.NextAttemptAt = &due
			got, _, err := s.EnqueueSMS(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			at = at.Add(time.Millisecond)
			return got
		}
		m1 := enqueue("one", base.Add(-time.Second))
		m2 := enqueue("two", base.Add(-2*time.Second))
		enqueue("three", base.Add(time.Hour))
		at = base
		claim := func(owner string, limit int) []string {
			t.Helper()
			c, err := s.ClaimSMS(ctx, owner, time.Minute, limit)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, m := range c {
				out = append(out, m.Body)
			}
			return out
		}
		if got := claim("w1", 1); len(got) != 1 || got[0] != "two" {
			t.Fatalf("first due first: %v", got)
		}
		if got := claim("w1", 10); len(got) != 1 || got[0] != "one" {
			t.Fatalf("then the other due one only: %v", got)
		}
		// Retry in 30s, the time given in New York's zone.
		ny := time.FixedZone("-05:00", -5*3600)
		if ok, err := s.RetrySMS(ctx, m2.ID, "w1", base.Add(30*time.Second).In(ny), "provider down"); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if got := claim("w2", 10); len(got) != 0 {
			t.Fatalf("claimed before its next attempt: %v", got)
		}
		st, err := s.QueueStats(ctx, org.ID)
		if err != nil || st.Queued != 2 || st.Due != 0 || st.Sending != 1 || st.OldestQueuedAt == nil || !st.OldestQueuedAt.Equal(base.Add(time.Millisecond)) {
			t.Fatalf("queue stats %+v %v", st, err)
		}
		at = base.Add(31 * time.Second)
		c, _ := s.ClaimSMS(ctx, "w2", time.Minute, 10)
		if len(c) != 1 || c[0].ID != m2.ID || c[0].Attempts != 1 || c[0].Error != "provider down" || c[0].LeaseOwner != "w2" ||
			c[0].LeaseUntil == nil || !c[0].LeaseUntil.Equal(at.Add(time.Minute)) {
			t.Fatalf("retried message as claimed: %+v", c)
		}
		// A stopping worker puts it back unattempted.
		if ok, _ := s.ReleaseSMS(ctx, m2.ID, "w1"); ok {
			t.Fatal("released by a worker without the lease")
		}
		if ok, _ := s.ReleaseSMS(ctx, m2.ID, "w2"); !ok {
			t.Fatal("release")
		}
		if got, _ := s.GetSMS(ctx, org.ID, m2.ID); got.Status != db.SMSQueued || got.Attempts != 1 || got.LeaseOwner != "" || got.LeaseUntil != nil {
			t.Fatalf("released: %+v", got)
		}
		if ok, _ := s.FailSMS(ctx, m1.ID, "w1", "invalid number"); !ok {
			t.Fatal("fail")
		}
		if got, _ := s.GetSMS(ctx, org.ID, m1.ID); got.Status != db.SMSFailed || got.Attempts != 1 || got.NextAttemptAt != nil || got.Error != "invalid number" {
			t.Fatalf("failed: %+v", got)
		}
		if ok, _ := s.RenewSMSLease(ctx, m1.ID, "w1", time.Minute); ok {
			t.Fatal("renewed the lease of a failed message")
		}
		at = base.Add(2 * time.Hour)
		if got := claim("w3", 10); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"three", "two"}) {
			t.Fatalf("later (RETURNING has no order): %v", got)
		}
		counts, _ := s.SMSCounts(ctx, org.ID)
		want := []smsdb.SMSCount{{Provider: "twilio", Direction: db.SMSOutbound, Status: db.SMSFailed, N: 1}, {Provider: "twilio", Direction: db.SMSOutbound, Status: db.SMSSending, N: 2}}
		if len(counts) != 2 || counts[0] != want[0] || counts[1] != want[1] {
			t.Fatalf("counts %+v", counts)
		}
		msgs, total, err := s.ConversationMessages(ctx, org.ID, m1.ConversationID, db.Page{Skip: 1, Limit: 5})
		if err != nil || total != 3 || len(msgs) != 2 || msgs[0].ID != m2.ID {
			t.Fatalf("conversation, oldest first, from the second: %d %d %v", total, len(msgs), err)
		}
	})
}

// A delivery report racing the worker's record of the send is applied
// whichever finishes first: both sides write their part, then look for the
// other's, so one of them always sees both.
func TestSMSDeliveryReportRacingTheSendIsNotLost(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s := newStore(t, g)
		ctx := context.Background()
		org, _, _ := s.EnsureOrg(ctx, "acme")
		const n = 150
		lost := 0
		for i := 0; i < n; i++ {
			m, _, err := s.EnqueueSMS(ctx, outbound(org.ID, fmt.Sprintf("race%d", i), nil))
			if err != nil {
				t.Fatal(err)
			}
			if c, err := s.ClaimSMS(ctx, "w", time.Minute, 1); err != nil || len(c) != 1 {
				t.Fatalf("claim: %v %v", c, err)
			}
			sid := fmt.Sprintf("SMrace%d", i)
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				if _, err := s.ApplySMSStatus(ctx, org.ID, "twilio", sid, db.SMSDelivered, ""); err != nil && !errors.Is(err, smsdb.ErrReportHeld) {
					t.Error(err)
				}
			}()
			go func() {
				defer wg.Done()
				<-start
				if ok, err := s.MarkSMSSent(ctx, m.ID, "w", sid); !ok || err != nil {
					t.Error(ok, err)
				}
			}()
			close(start)
			wg.Wait()
			if got, _ := s.GetSMS(ctx, org.ID, m.ID); got.Status != db.SMSDelivered {
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("%d of %d delivery reports lost in the race with the send's record", lost, n)
		}
	})
}

func newStore(t *testing.T, g *gorm.DB) *smsdb.Store {
	t.Helper()
	return smsdb.New(db.NewStore(g, dbtest.Keyring(t), nil))
}

package smsdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"gorm.io/gorm"
)

// Failed forwards: the organization's own, given up (not retrying, not
// delivered), newest failure first, with the message, the reason and the
// attempts.
func TestFailedForwards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		s := newStore(t, g)
		ctx := context.Background()
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		at := base
		s.Now = func() time.Time { return at }
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		inbound := func(org int64, a *db.Assistant, body string) *db.SMSMessage {
			t.Helper()
			m := &db.SMSMessage{ID: db.NewID(), OrgID: org, AssistantID: &a.ID, FromNumber: "+14155550111", ToNumber: "+14155550100",
				Body: body, Provider: "telnyx", ProviderMessageID: db.NewID()}
			if _, _, err := s.StoreInboundSMS(ctx, m, &db.SMSForward{ID: db.NewID(), AssistantID: a.ID, URL: a.SMSWebhookURL, Payload: "{}"}); err != nil {
				t.Fatal(err)
			}
			return m
		}
		a := &db.Assistant{OrgID: org.ID, Name: "Desk", SMSWebhookURL: "https://a.example/sms"}
		b := &db.Assistant{OrgID: other.ID, Name: "Other", SMSWebhookURL: "https://b.example/sms"}
		for _, x := range []*db.Assistant{a, b} {
			if err := s.SaveAssistant(ctx, x, db.AssistantSecrets{}); err != nil {
				t.Fatal(err)
			}
		}
		first := inbound(org.ID, a, "first")
		second := inbound(org.ID, a, "second")
		inbound(org.ID, a, "delivered")
		inbound(org.ID, a, "retrying")
		inbound(other.ID, b, "theirs")
		// Every forward is claimed once: "first" fails at its second
		// attempt, "second" at its first, a minute later.
		outcome := map[string]func(id string) error{}
		for _, f := range mustClaim(t, s, 10) {
			m, _ := s.GetSMS(ctx, f.OrgID, f.MessageID)
			switch m.Body {
			case "first":
				outcome[f.ID] = func(id string) error { return s.FailForward(ctx, id, "w", "the assistant answered 500") }
				if err := s.RetryForward(ctx, f.ID, "w", base, "timeout"); err != nil {
					t.Fatal(err)
				}
			case "second":
				at = base.Add(time.Minute)
				if err := s.FailForward(ctx, f.ID, "w", "could not connect"); err != nil {
					t.Fatal(err)
				}
			case "delivered":
				_ = s.ForwardDelivered(ctx, f.ID, "w")
			case "retrying":
				_ = s.RetryForward(ctx, f.ID, "w", base.Add(time.Hour), "503")
			case "theirs":
				_ = s.FailForward(ctx, f.ID, "w", "theirs failed")
			}
		}
		at = base.Add(30 * time.Second) // "first" fails before "second"
		for _, f := range mustClaim(t, s, 10) {
			if err := outcome[f.ID](f.ID); err != nil {
				t.Fatal(err)
			}
		}
		got, total, err := s.FailedForwards(ctx, org.ID, db.Page{Limit: 10})
		if err != nil || total != 2 || len(got) != 2 {
			t.Fatalf("failed forwards: %d of %d, %v: %+v", len(got), total, err, got)
		}
		if got[0].MessageID != second.ID || got[1].MessageID != first.ID {
			t.Fatalf("order: %s, %s (want second, first)", got[0].Body, got[1].Body)
		}
		f := got[1]
		if f.Attempts != 2 || f.LastError != "the assistant answered 500" || f.AssistantName != "Desk" || f.URL != a.SMSWebhookURL ||
			f.FromNumber != "+14155550111" || f.ToNumber != "+14155550100" || f.Body != "first" || f.ReceivedAt.IsZero() || f.FailedAt.IsZero() {
			t.Fatalf("first failed forward: %+v", f)
		}
		if got[0].Attempts != 1 || got[0].LastError != "could not connect" {
			t.Fatalf("second failed forward: %+v", got[0])
		}
		if page, total, _ := s.FailedForwards(ctx, org.ID, db.Page{Skip: 1, Limit: 10}); total != 2 || len(page) != 1 || page[0].MessageID != first.ID {
			t.Fatalf("second page: %d of %d", len(page), total)
		}
		if theirs, total, _ := s.FailedForwards(ctx, other.ID, db.Page{Limit: 10}); total != 1 || len(theirs) != 1 || theirs[0].Body != "theirs" {
			t.Fatalf("the other organization's: %+v", theirs)
		}
	})
}

func mustClaim(t *testing.T, s *smsdb.Store, limit int) []db.SMSForward {
	t.Helper()
	fw, err := s.ClaimForwards(context.Background(), "w", time.Minute, limit)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

package console_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func TestMessagesPageShowsOnlyTheOrganizationsConversations(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		ctx := context.Background()
		store := func(org int64, from, body string) *db.SMSMessage {
			m := &db.SMSMessage{ID: db.NewID(), OrgID: org, FromNumber: from, ToNumber: "+16475550100", Body: body, Provider: "twilio", ProviderMessageID: db.NewID()}
			if _, _, err := smsdb.New(e.store).StoreInboundSMS(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
			return m
		}
		mine := store(e.orgA, "+14165550111", "hello from a customer")
		theirs := store(e.orgB, "+14165550222", "globex secret")
		b := e.browser()
		b.signIn(e.keyA)
		_, body := b.get("/console/messages")
		mustContain(t, body, "&#43;14165550111", "?conversation="+mine.ConversationID)
		_, body = b.get("/console/messages?conversation=" + mine.ConversationID)
		mustContain(t, body, "hello from a customer", "received")
		_, body = b.get("/console/messages?conversation=" + theirs.ConversationID)
		if strings.Contains(body, "globex secret") || strings.Contains(body, "14165550222") {
			t.Fatal("org B's conversation shows to org A")
		}
	})
}

// The send queue's counts by status and the age of its oldest queued
// message; the inbound messages whose forward to the assistant was given
// up, with the reason and the attempts: org A's only.
func TestMessagesPageShowsQueueStatsAndFailedForwards(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		ctx := context.Background()
		later := time.Now().Add(time.Hour)
		enqueue := func(org int64, status, body string) *db.SMSMessage {
			t.Helper()
			m := &db.SMSMessage{ID: db.NewID(), OrgID: org, Direction: db.SMSOutbound, FromNumber: "+16475550100", ToNumber: "+14165550111",
				Body: body, Provider: "twilio", Status: status, Segments: 1, Encoding: "GSM-7", NextAttemptAt: &later}
			if _, _, err := smsdb.New(e.store).EnqueueSMS(ctx, m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		oldest := enqueue(e.orgA, db.SMSQueued, "waiting since long")
		e.storeClock.Add(10 * time.Minute)
		enqueue(e.orgA, db.SMSQueued, "waiting")
		for _, st := range []string{db.SMSSent, db.SMSSent, db.SMSSent, db.SMSDelivered, db.SMSFailed} {
			enqueue(e.orgA, st, st)
		}
		for range 7 {
			enqueue(e.orgB, db.SMSQueued, "globex")
		}
		// An inbound message whose assistant cannot be reached (the address
		// policy refuses loopback): its forward is given up.
		a := &db.Assistant{OrgID: e.orgA, Name: "Texter", StreamURL: "wss://a.example/stream", SMSWebhookURL: "http://127.0.0.1:9/sms"}
		if err := e.store.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetSMSWebhookSecret(ctx, e.orgA, a.ID, "whsec_test"); err != nil {
			t.Fatal(err)
		}
		in := &db.SMSMessage{ID: db.NewID(), OrgID: e.orgA, AssistantID: &a.ID, FromNumber: "+14165550177", ToNumber: "+16475550100",
			Body: "can you call me back", Provider: "twilio", ProviderMessageID: db.NewID()}
		if _, _, err := smsdb.New(e.store).StoreInboundSMS(ctx, in, &db.SMSForward{ID: db.NewID(), AssistantID: a.ID, URL: a.SMSWebhookURL, Payload: "{}"}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, "the forward given up", func() bool {
			f, err := smsdb.New(e.store).ForwardOf(ctx, e.orgA, in.ID)
			return err == nil && f.Status == db.ForwardFailed
		})

		b := e.browser()
		b.signIn(e.keyA)
		_, body := b.get("/console/messages")
		mustContain(t, body, `id="q-queued">2<`, `id="q-sending">0<`, `id="q-sent">3<`, `id="q-delivered">1<`, `id="q-failed">1<`,
			`id="q-forwards-failed">1<`, "<small>"+oldest.CreatedAt.UTC().Format("2006-01-02 15:04:05Z")+"</small>")
		age := regexp.MustCompile(`id="q-oldest">([0-9hms]+) ago`).FindStringSubmatch(body)
		if age == nil {
			t.Fatalf("no age of the oldest queued message:\n%s", body)
		}
		if d, err := time.ParseDuration(age[1]); err != nil || d < 10*time.Minute || d > 11*time.Minute {
			t.Fatalf("oldest queued %s ago, want 10m", age[1])
		}
		mustContain(t, body, `id="failed-forwards"`, "can you call me back", "&#43;14165550177", "Texter", `class="attempts">1<`,
			`class="reason">gave up: could not connect to the assistant&#39;s sms_webhook_url<`)

		bb := e.browser()
		bb.signIn(e.keyB)
		_, body = bb.get("/console/messages")
		mustContain(t, body, `id="q-queued">7<`, `id="q-sent">0<`, "No failed forwards.")
		if strings.Contains(body, "can you call me back") {
			t.Fatal("org A's failed forward shows to org B")
		}
	})
}

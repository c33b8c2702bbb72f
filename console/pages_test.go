package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
)

func TestMessagesPageShowsOnlyTheOrganizationsConversations(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		ctx := context.Background()
		store := func(org int64, from, body string) *db.SMSMessage {
			m := &db.SMSMessage{ID: db.NewID(), OrgID: org, FromNumber: from, ToNumber: "+16475550100", Body: body, Provider: "twilio", ProviderMessageID: db.NewID()}
			if _, _, err := e.store.StoreInboundSMS(ctx, m, nil); err != nil {
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

package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/secret"
	"gorm.io/gorm"
)

func TestRotateSecretsIncludesSMSWebhookSecrets(t *testing.T) {
	dbtest.Each(t, testRotateSecretsIncludesSMSWebhookSecrets)
}

func testRotateSecretsIncludesSMSWebhookSecrets(t *testing.T, g *gorm.DB) {
	ctx := context.Background()
	k1, k2 := secret.NewKey(), secret.NewKey()
	ring1, _ := secret.ParseKeyring(k1)
	s := db.NewStore(g, ring1, nil)
	org, _, _ := s.EnsureOrg(ctx, "acme")
	a := &db.Assistant{OrgID: org.ID, Name: "A"}
	if err := s.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSMSWebhookSecret(ctx, org.ID, a.ID, "whsec-rotate-me"); err != nil {
		t.Fatal(err)
	}
	ring2, _ := secret.ParseKeyring(k2 + "," + k1)
	if n, err := db.NewStore(g, ring2, nil).RotateSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("rotated %d, %v; want the webhook secret", n, err)
	}
	ring3, _ := secret.ParseKeyring(k2)
	if sec, err := db.NewStore(g, ring3, nil).SMSWebhookSecret(ctx, a.ID); err != nil || sec != "whsec-rotate-me" {
		t.Fatalf("after rotation with only the new key: %q %v", sec, err)
	}
	// Sealed for its row: copied to another assistant it does not open.
	b := &db.Assistant{OrgID: org.ID, Name: "B"}
	s.SaveAssistant(ctx, b, db.AssistantSecrets{})
	g.Exec("INSERT INTO sms_webhook_secrets (assistant_id, org_id, secret_enc, created_at) SELECT ?, org_id, secret_enc, created_at FROM sms_webhook_secrets WHERE assistant_id = ?", b.ID, a.ID)
	if _, err := db.NewStore(g, ring3, nil).SMSWebhookSecret(ctx, b.ID); !errors.Is(err, secret.ErrCorruptSecret) {
		t.Fatalf("a copied secret opened: %v", err)
	}
}

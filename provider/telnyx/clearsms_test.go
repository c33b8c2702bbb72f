package telnyx

import (
	"context"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

// TestClearSMSRemovesTheWebhook: Telnyx's documented way to remove the
// inbound-SMS webhook, leaving the voice settings alone.
func TestClearSMSRemovesTheWebhook(t *testing.T) {
	ctx := context.Background()
	f := newFakeTelnyx(t)
	tx := newTestTelnyx(t, f, testkit.NewFakeClock())
	if _, err := tx.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+13125550100"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.ConfigureWebhooks(ctx, "+13125550100", provider.Webhooks{ClearSMS: true}); err != nil {
		t.Fatal(err)
	}
	var body string
	for _, r := range f.rec.All() {
		if r.Method == "PATCH" && strings.HasSuffix(r.Path, "/messaging") {
			body = string(r.Body)
		}
	}
	if !strings.Contains(body, `"messaging_profile_id":""`) {
		t.Fatalf("messaging PATCH body %q", body)
	}
}

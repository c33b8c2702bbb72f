package vonage

import (
	"context"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

// TestClearSMSRemovesTheWebhook: Vonage's documented way to remove the
// inbound-SMS webhook, leaving the voice settings alone.
func TestClearSMSRemovesTheWebhook(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewFakeClock()
	f := newFakeVonage(t, clock.Now)
	v := newTestVonage(t, f, clock, fullVonageCreds(t))
	if _, err := v.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+447700900000", CountryCode: "GB"}); err != nil {
		t.Fatal(err)
	}
	if err := v.ConfigureWebhooks(ctx, "+447700900000", provider.Webhooks{ClearSMS: true}); err != nil {
		t.Fatal(err)
	}
	form := f.rec.Last(t, "POST", "/number/update").Form
	if vals, ok := form["moHttpUrl"]; !ok || len(vals) != 1 || vals[0] != "" {
		t.Fatalf("moHttpUrl not sent empty: %v", form)
	}
	if form.Get("voiceCallbackType") != "" {
		t.Fatalf("voice settings touched: %v", form)
	}
}

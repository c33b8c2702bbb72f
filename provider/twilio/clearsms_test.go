package twilio

import (
	"context"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

// TestClearSMSRemovesTheWebhook: Twilio's documented way to remove the
// inbound-SMS webhook, leaving the voice settings alone.
func TestClearSMSRemovesTheWebhook(t *testing.T) {
	ctx := context.Background()
	f := newFakeTwilio(t, "")
	tw := newTestTwilio(t, f.srv.URL, testkit.NewFakeClock())
	if _, err := tw.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+14155550100", VoiceURL: "https://a.example/v", SMSURL: "https://a.example/s"}); err != nil {
		t.Fatal(err)
	}
	if err := tw.ConfigureWebhooks(ctx, "+14155550100", provider.Webhooks{ClearSMS: true, SMSURL: "https://ignored.example"}); err != nil {
		t.Fatal(err)
	}
	w, err := tw.GetWebhooks(ctx, "+14155550100")
	if err != nil || w.SMSURL != "" || w.VoiceURL != "https://a.example/v" {
		t.Fatalf("webhooks after clear = %+v, %v", w, err)
	}
}

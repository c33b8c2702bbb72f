package provider

import (
	"context"
	"strings"
	"testing"
)

// TestClearSMSRemovesTheWebhook: each provider's documented way to remove
// the inbound-SMS webhook, leaving the voice settings alone.
func TestClearSMSRemovesTheWebhook(t *testing.T) {
	ctx := context.Background()
	t.Run("twilio", func(t *testing.T) {
		f := newFakeTwilio(t, "")
		tw := newTestTwilio(t, f.srv.URL, newFakeClock())
		if _, err := tw.Purchase(ctx, PurchaseRequest{PhoneNumber: "+14155550100", VoiceURL: "https://a.example/v", SMSURL: "https://a.example/s"}); err != nil {
			t.Fatal(err)
		}
		if err := tw.ConfigureWebhooks(ctx, "+14155550100", Webhooks{ClearSMS: true, SMSURL: "https://ignored.example"}); err != nil {
			t.Fatal(err)
		}
		w, err := tw.GetWebhooks(ctx, "+14155550100")
		if err != nil || w.SMSURL != "" || w.VoiceURL != "https://a.example/v" {
			t.Fatalf("webhooks after clear = %+v, %v", w, err)
		}
	})
	t.Run("telnyx", func(t *testing.T) {
		f := newFakeTelnyx(t)
		tx := newTestTelnyx(t, f, newFakeClock())
		if _, err := tx.Purchase(ctx, PurchaseRequest{PhoneNumber: "+13125550100"}); err != nil {
			t.Fatal(err)
		}
		if err := tx.ConfigureWebhooks(ctx, "+13125550100", Webhooks{ClearSMS: true}); err != nil {
			t.Fatal(err)
		}
		var body string
		for _, r := range f.rec.all() {
			if r.Method == "PATCH" && strings.HasSuffix(r.Path, "/messaging") {
				body = string(r.Body)
			}
		}
		if !strings.Contains(body, `"messaging_profile_id":""`) {
			t.Fatalf("messaging PATCH body %q", body)
		}
	})
	t.Run("vonage", func(t *testing.T) {
		clock := newFakeClock()
		f := newFakeVonage(t, clock.Now)
		v := newTestVonage(t, f, clock, fullVonageCreds(t))
		if _, err := v.Purchase(ctx, PurchaseRequest{PhoneNumber: "+447700900000", CountryCode: "GB"}); err != nil {
			t.Fatal(err)
		}
		if err := v.ConfigureWebhooks(ctx, "+447700900000", Webhooks{ClearSMS: true}); err != nil {
			t.Fatal(err)
		}
		form := f.rec.last(t, "POST", "/number/update").Form
		if vals, ok := form["moHttpUrl"]; !ok || len(vals) != 1 || vals[0] != "" {
			t.Fatalf("moHttpUrl not sent empty: %v", form)
		}
		if form.Get("voiceCallbackType") != "" {
			t.Fatalf("voice settings touched: %v", form)
		}
	})
}

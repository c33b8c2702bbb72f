package provider_test

import (
	"context"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

func TestBYOSIPTrunk(t *testing.T) {
	ctx := context.Background()
	b := provider.NewBYOSIPTrunk("trunk-9")
	got, err := b.Register(ctx, " +14155550100 ")
	if err != nil || got.ProviderID != "+14155550100" || got.Details["trunk_id"] != "trunk-9" {
		t.Fatalf("Register = %+v, %v", got, err)
	}
	_, err = b.Register(ctx, "4155550100")
	testkit.WantKind(t, err, provider.ErrBadRequest)
	if err := b.Release(ctx, "+14155550100"); err != nil {
		t.Errorf("Release = %v", err)
	}

	unsupported := map[string]func() error{
		"SearchNumbers": func() error { _, err := b.SearchNumbers(ctx, provider.SearchQuery{CountryCode: "US"}); return err },
		"Purchase": func() error {
			_, err := b.Purchase(ctx, provider.PurchaseRequest{PhoneNumber: "+14155550100"})
			return err
		},
		"ConfigureWebhooks": func() error {
			return b.ConfigureWebhooks(ctx, "+14155550100", provider.Webhooks{VoiceURL: "https://x"})
		},
		"GetWebhooks": func() error { _, err := b.GetWebhooks(ctx, "+14155550100"); return err },
		"ListOwned":   func() error { _, err := b.ListOwned(ctx); return err },
		"SendMessage": func() error {
			_, err := b.SendMessage(ctx, provider.Message{From: "+1", To: "+2", Body: "x"})
			return err
		},
		"CreateCall": func() error { _, err := b.CreateCall(ctx, provider.Call{From: "+1", To: "+2"}); return err },
		"Hangup":     func() error { return b.Hangup(ctx, "x") },
		"Transfer":   func() error { return b.Transfer(ctx, "x", "+14155550100") },
	}
	for name, call := range unsupported {
		err := call()
		testkit.WantKind(t, err, provider.ErrNotSupported)
		if testkit.HTTPStatus(err) != 501 {
			t.Errorf("%s: status %d", name, testkit.HTTPStatus(err))
		}
	}
}

package provider

import (
	"context"
	"testing"
)

func TestBYOSIPTrunk(t *testing.T) {
	ctx := context.Background()
	b := NewBYOSIPTrunk("trunk-9")
	got, err := b.Register(ctx, " +14155550100 ")
	if err != nil || got.ProviderID != "+14155550100" || got.Details["trunk_id"] != "trunk-9" {
		t.Fatalf("Register = %+v, %v", got, err)
	}
	_, err = b.Register(ctx, "4155550100")
	wantKind(t, err, ErrBadRequest)
	if err := b.Release(ctx, "+14155550100"); err != nil {
		t.Errorf("Release = %v", err)
	}

	unsupported := map[string]func() error{
		"SearchNumbers": func() error { _, err := b.SearchNumbers(ctx, SearchQuery{CountryCode: "US"}); return err },
		"Purchase":      func() error { _, err := b.Purchase(ctx, PurchaseRequest{PhoneNumber: "+14155550100"}); return err },
		"ConfigureWebhooks": func() error {
			return b.ConfigureWebhooks(ctx, "+14155550100", Webhooks{VoiceURL: "https://x"})
		},
		"GetWebhooks": func() error { _, err := b.GetWebhooks(ctx, "+14155550100"); return err },
		"ListOwned":   func() error { _, err := b.ListOwned(ctx); return err },
		"SendMessage": func() error { _, err := b.SendMessage(ctx, Message{From: "+1", To: "+2", Body: "x"}); return err },
		"CreateCall":  func() error { _, err := b.CreateCall(ctx, Call{From: "+1", To: "+2"}); return err },
		"Hangup":      func() error { return b.Hangup(ctx, "x") },
		"Transfer":    func() error { return b.Transfer(ctx, "x", "+14155550100") },
	}
	for name, call := range unsupported {
		err := call()
		wantKind(t, err, ErrNotSupported)
		if HTTPStatus(err) != 501 {
			t.Errorf("%s: status %d", name, HTTPStatus(err))
		}
	}
}

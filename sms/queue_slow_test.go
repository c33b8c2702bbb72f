package sms_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/providertest"
	"github.com/sipbridge/sipbridge/sms"
)

// TestSlowProviderUnderLoad: Twilio answers every message after 2 s (the
// provider timeout is 5 s, so none times out) while messages for Telnyx are
// queued among them (before per-provider workers, a worker's batch held
// both and the Telnyx ones waited behind the slow sends). The Telnyx messages
// keep flowing: all are sent within 1.5 s though the Twilio ones take 2 s
// apiece; every Twilio message is sent exactly once (the lease covers the
// slow send: no other worker takes a message while it is being sent).
func TestSlowProviderUnderLoad(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store := db.NewStore(g, dbtest.Keyring(t), nil)
		org, _, err := store.EnsureOrg(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		tw := providertest.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
		tx := providertest.NewTelnyx(t, "KEYtelnyx0123456789")
		const slow = 2 * time.Second
		tw.SetOnSend(func(providertest.TwilioMessage) { time.Sleep(slow) })
		svc := sms.New(store, nil, sms.Options{
			Env: provider.Credentials{Twilio: &provider.TwilioCreds{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "fedcba9876543210fedcba9876543210"},
				Telnyx: &provider.TelnyxCreds{APIKey: "KEYtelnyx0123456789"}},
			ProviderConfig: provider.Config{TwilioBaseURL: tw.URL(), TelnyxBaseURL: tx.URL(), Timeout: 5 * time.Second,
				Retry: provider.RetryPolicy{MaxAttempts: 1}},
			Rates: map[string]float64{"twilio": 1000, "telnyx": 1000}, Poll: 10 * time.Millisecond, Batch: 2, Workers: 2,
			Lease: 3 * time.Second, // raised to 2×5 s+30 s by New: a send never outlasts it
		})

		// Interleaved, as they would be in one batch of any-provider workers.
		const n = 4
		queued := map[string]time.Time{}
		for i := 0; i < n; i++ {
			for _, p := range []string{"twilio", "telnyx"} {
				now := time.Now().UTC()
				body := fmt.Sprintf("%s %d", p, i)
				if _, _, err := smsdb.New(store).EnqueueSMS(ctx, &db.SMSMessage{ID: db.NewID(), OrgID: org.ID, Direction: db.SMSOutbound,
					FromNumber: "+16475550100", ToNumber: "+16475550111", Body: body, Provider: p, Status: db.SMSQueued,
					Segments: 1, Encoding: "GSM-7", NextAttemptAt: &now}); err != nil {
					t.Fatal(err)
				}
				queued[body] = now
			}
		}
		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		started := time.Now()
		go func() { defer wg.Done(); svc.Run(runCtx) }()
		defer func() { stop(); wg.Wait() }()

		testkit.Eventually(t, 3*time.Second, "every Telnyx message sent while Twilio is slow", func() bool {
			return len(tx.SentMessages()) == n
		}, func() string { return fmt.Sprintf("Telnyx got %d of %d", len(tx.SentMessages()), n) })
		if d := time.Since(started); d > 1500*time.Millisecond {
			t.Errorf("the Telnyx messages took %v behind the slow Twilio ones, want ≤ 1.5 s", d.Round(time.Millisecond))
		}
		testkit.Eventually(t, 12*time.Second, "every Twilio message sent", func() bool {
			st, err := smsdb.New(store).QueueStats(ctx, org.ID)
			return err == nil && st.Queued == 0 && st.Sending == 0 && len(tw.SentMessages()) >= n
		}, nil)
		seen := map[string]int{}
		for _, m := range tw.SentMessages() {
			seen[m.Body]++
		}
		for i := 0; i < n; i++ {
			if body := fmt.Sprintf("twilio %d", i); seen[body] != 1 {
				t.Errorf("%q sent %d times to the slow provider, want once", body, seen[body])
			}
		}
	})
}

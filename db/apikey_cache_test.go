package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// Verified keys are cached per replica: a revocation is refused at once by
// the replica that made it, and by another replica once APIKeyCacheTTL has
// passed since it last read the key.
func TestAPIKeyRevocationWithCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		a := db.NewStore(g, dbtest.Keyring(t), nil)
		b := db.NewStore(g, dbtest.Keyring(t), nil) // another replica, its own clock
		bNow := time.Now().UTC()
		b.Now = func() time.Time { return bNow }
		org, _, err := a.EnsureOrg(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		key, rec, err := a.CreateAPIKey(ctx, org.ID, "old")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.CreateAPIKey(ctx, org.ID, "new"); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*db.Store{a, b, a, b} { // the second round from the caches
			if k, err := s.Authenticate(ctx, key); err != nil || k.OrgID != org.ID || k.ID != rec.ID {
				t.Fatalf("authenticate: %+v %v", k, err)
			}
		}
		if _, err := a.RevokeAPIKey(ctx, org.ID, rec.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, key); !errors.Is(err, db.ErrInvalidKey) {
			t.Fatalf("the revoking replica accepted the revoked key: %v", err)
		}
		bNow = bNow.Add(db.APIKeyCacheTTL - time.Millisecond)
		if _, err := b.Authenticate(ctx, key); err != nil {
			t.Fatalf("another replica refused the key within the cache's bound: %v", err)
		}
		bNow = bNow.Add(time.Millisecond)
		if _, err := b.Authenticate(ctx, key); !errors.Is(err, db.ErrInvalidKey) {
			t.Fatalf("another replica accepted the revoked key after %s: %v", db.APIKeyCacheTTL, err)
		}
		// A refused key is not cached: once live again it is accepted at once.
		if err := g.Exec("UPDATE api_keys SET revoked_at = NULL WHERE id = ?", rec.ID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, key); err != nil {
			t.Fatalf("a live key refused: %v", err)
		}
	})
}

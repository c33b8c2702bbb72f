package db_test

import (
	"context"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// BenchmarkAuthenticate is the store's authentication of one key, as the
// API runs it when the key is not in its cache (web/httpapi/keys.go), from
// GOMAXPROCS goroutines:
//
//	scripts/with-postgres.sh go test -run '^$' -bench Authenticate -benchmem ./db/
func BenchmarkAuthenticate(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *gorm.DB
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run(d.name, func(b *testing.B) {
			s := db.NewStore(d.open(b), dbtest.Keyring(b), nil)
			ctx := context.Background()
			org, _, err := s.EnsureOrg(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			key, _, err := s.CreateAPIKey(ctx, org.ID, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if k, err := s.Authenticate(ctx, key); err != nil || k.OrgID != org.ID {
						b.Errorf("Authenticate: %v, %v", k, err)
						return
					}
				}
			})
		})
	}
}

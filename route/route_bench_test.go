package route_test

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/route"
)

// BenchmarkDecide routes an accepted call from an IP-auth trunk, from
// GOMAXPROCS goroutines, reading the database every time (uncached, as
// before the cache) or from the caches on the change feed (cached):
//
//	scripts/with-postgres.sh go test -run '^$' -bench Decide -benchmem ./route/
func BenchmarkDecide(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *gorm.DB
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		for _, cached := range []bool{false, true} {
			name := d.name + "/uncached"
			if cached {
				name = d.name + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				g := d.open(b)
				store, _, asst := carrierNumber(b, g, "sip.example.com")
				r := route.NewRouter(store, nil)
				if cached {
					r = route.New(store, route.Options{Changes: feedOn(b, g)})
				}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if rt, err := r.Decide(ctx, carrierCall); err != nil || rt.AssistantID != asst.ID {
							b.Errorf("Decide: %+v, %v", rt, err)
							return
						}
					}
				})
			})
		}
	}
}

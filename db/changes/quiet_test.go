package changes_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// An API key's last use, written Quiet, bumps nothing; its revocation
// bumps api_keys. On PostgreSQL another replica's write of last_used_at
// alone notifies no one, its revocation does.
func TestQuietLastUsed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		f := feedOn(t, g)
		s := db.NewStore(g, dbtest.Keyring(t), discard())
		ctx := context.Background()
		org, _, err := s.EnsureOrg(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		key, rec, err := s.CreateAPIKey(ctx, org.ID, "k")
		if err != nil {
			t.Fatal(err)
		}
		settle(t, f)
		before := stamp(t, f, changes.APIKeys)
		if k, err := s.Authenticate(ctx, key); err != nil || k.LastUsedAt == nil {
			t.Fatalf("authenticate: %+v %v", k, err)
		}
		settle(t, f)
		if stamp(t, f, changes.APIKeys) != before {
			t.Error("writing the key's last use bumped api_keys")
		}
		if err := g.Model(&db.APIKey{}).Where("id = ?", rec.ID).Update("revoked_at", time.Now()).Error; err != nil {
			t.Fatal(err)
		}
		if stamp(t, f, changes.APIKeys) == before {
			t.Error("revoking the key did not bump api_keys")
		}
	})
}

// settle waits until f has been quiet for 100 ms (PostgreSQL: the
// notices of this process's own writes come back a moment later).
func settle(t *testing.T, f *changes.Feed) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		before, _ := f.Stamp(changes.Watched...)
		time.Sleep(100 * time.Millisecond)
		if after, _ := f.Stamp(changes.Watched...); after == before {
			return
		}
	}
	t.Fatal("the feed kept changing for 5 s")
}

func TestPostgresQuietOtherReplica(t *testing.T) {
	g := dbtest.Postgres(t)
	f := feedOn(t, g)
	g2 := dbtest.Reopen(t, g)
	if err := g2.Exec(`INSERT INTO organizations (id, name, created_at, updated_at) VALUES (77, 'q', now(), now())`).Error; err != nil {
		t.Fatal(err)
	}
	if err := g2.Exec(`INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at) VALUES ('k', 77, 'k', 'sb_x', 'h', now())`).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the insert to bump api_keys", func() bool { s, _ := f.Stamp(changes.APIKeys); return s > 0 })
	settle(t, f)
	before := stamp(t, f, changes.APIKeys)
	if err := g2.Exec(`UPDATE api_keys SET last_used_at = now() WHERE id = 'k'`).Error; err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if stamp(t, f, changes.APIKeys) != before {
		t.Error("another replica's write of last_used_at bumped api_keys")
	}
	if err := g2.Exec(`UPDATE api_keys SET revoked_at = now() WHERE id = 'k'`).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "another replica's revocation to bump api_keys", func() bool {
		s, ok := f.Stamp(changes.APIKeys)
		return ok && s != before
	})
}

// UpdateOf names every column of its table but the quiet ones: a column
// added to api_keys must be added there, or its writes would reach no
// other replica.
func TestUpdateOfNamesEveryOtherColumn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		quiet := map[string][]string{changes.APIKeys: {"last_used_at"}}
		for table, cols := range changes.UpdateOf {
			types, err := g.Migrator().ColumnTypes(table)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, ct := range types {
				if !slices.Contains(quiet[table], ct.Name()) {
					want = append(want, ct.Name())
				}
			}
			got := slices.Clone(cols)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("UpdateOf[%s] = %s, the table's columns but %v are %s", table, strings.Join(got, ","), quiet[table], strings.Join(want, ","))
			}
		}
	})
}

// A start that finds the trigger of an earlier version (every update of
// api_keys notifying) makes it again.
func TestPostgresTriggerUpgraded(t *testing.T) {
	g := dbtest.Postgres(t)
	feedOn(t, g)
	if err := g.Exec(`DROP TRIGGER sipbridge_changes ON api_keys`).Error; err != nil {
		t.Fatal(err)
	}
	if err := g.Exec(`CREATE TRIGGER sipbridge_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION sipbridge_notify_change()`).Error; err != nil {
		t.Fatal(err)
	}
	feedOn(t, dbtest.Reopen(t, g))
	var attrs string
	if err := g.Raw(`SELECT tg.tgattr::text FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
		WHERE tg.tgname = 'sipbridge_changes' AND c.relname = 'api_keys' AND c.relnamespace = current_schema()::regnamespace`).Scan(&attrs).Error; err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(attrs)); n != len(changes.UpdateOf[changes.APIKeys]) {
		t.Fatalf("the api_keys trigger fires on updates of %d columns (%q), want %d", n, attrs, len(changes.UpdateOf[changes.APIKeys]))
	}
}

package changes_test

import (
	"context"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// feedOn registers a feed on g and runs its listener until the test ends,
// waiting until it is valid.
func feedOn(t *testing.T, g *gorm.DB) *changes.Feed {
	t.Helper()
	f, err := changes.Register(g)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, discard()) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the feed to be valid", f.Valid)
	return f
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("waited 5 s for %s", what)
		}
	}
}

func stamp(t *testing.T, f *changes.Feed, tables ...string) changes.Stamp {
	t.Helper()
	s, ok := f.Stamp(tables...)
	if !ok {
		t.Fatal("the feed is not valid")
	}
	return s
}

// A write through the store bumps the tables it wrote, at once, and leaves
// the others alone.
func TestWritesInProcessBump(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		f := feedOn(t, g)
		s := db.NewStore(g, dbtest.Keyring(t), discard())
		ctx := context.Background()
		org, _, err := s.EnsureOrg(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		trunks := stamp(t, f, changes.Trunks, changes.TrunkStatus)
		calls := stamp(t, f, "calls")
		tr := &db.SIPTrunk{OrgID: org.ID, Name: "t1", GatewayName: "gw_a_t1", Gateway: "sip.example.com", Enabled: true}
		if err := s.CreateTrunk(ctx, tr); err != nil {
			t.Fatal(err)
		}
		after := stamp(t, f, changes.Trunks, changes.TrunkStatus)
		if after == trunks {
			t.Fatal("creating a trunk did not bump the trunk tables")
		}
		if stamp(t, f, "calls") != calls {
			t.Error("creating a trunk bumped the calls table")
		}
		steps := []struct {
			name  string
			write func() error
		}{
			{"update", func() error { tr.Priority = 5; return s.UpdateTrunk(ctx, tr) }},
			{"gateway state", func() error {
				return s.SetGatewayLive(ctx, db.GatewayLive{GatewayName: "gw_a_t1", State: "REGED"})
			}},
			{"delete", func() error { return s.DeleteTrunk(ctx, org.ID, tr.ID) }},
		}
		for _, st := range steps {
			before := stamp(t, f, changes.Trunks, changes.TrunkStatus)
			if err := st.write(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if stamp(t, f, changes.Trunks, changes.TrunkStatus) == before {
				t.Errorf("%s did not bump the trunk tables", st.name)
			}
		}
	})
}

// A reader between a transaction's write and its commit reads the old rows:
// the commit bumps again, so what it cached is not served.
func TestCommitBumpsAgain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		f := feedOn(t, g)
		s := db.NewStore(g, dbtest.Keyring(t), discard())
		org, _, err := s.EnsureOrg(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		var mid changes.Stamp
		err = g.Transaction(func(tx *gorm.DB) error {
			if err := tx.Model(&db.Organization{}).Where("id = ?", org.ID).Update("name", "b").Error; err != nil {
				return err
			}
			mid = stamp(t, f, changes.Organizations)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if stamp(t, f, changes.Organizations) == mid {
			t.Fatal("the commit did not bump the table its transaction wrote")
		}
	})
}

// A raw statement bumps its table when it is plain, else every table.
func TestRawExec(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		f := feedOn(t, g)
		orgs := stamp(t, f, changes.Organizations)
		trunks := stamp(t, f, changes.Trunks)
		if err := g.Exec(`UPDATE organizations SET name = name WHERE id = 0`).Error; err != nil {
			t.Fatal(err)
		}
		if stamp(t, f, changes.Organizations) == orgs {
			t.Error("UPDATE organizations did not bump organizations")
		}
		if stamp(t, f, changes.Trunks) != trunks {
			t.Error("UPDATE organizations bumped sip_trunks")
		}
		if err := g.Exec(`WITH x AS (SELECT 1) DELETE FROM sip_trunks WHERE id IN (SELECT 'none' FROM x)`).Error; err != nil {
			t.Fatal(err)
		}
		if stamp(t, f, changes.Trunks) == trunks {
			t.Error("a statement of unknown table did not bump sip_trunks")
		}
	})
}

// On PostgreSQL, a write by another replica bumps the table through the
// notification, within a second; with the listener's connection killed the
// feed is not valid until it listens again, and then every table is bumped.
func TestPostgresOtherReplica(t *testing.T) {
	g := dbtest.Postgres(t)
	f := feedOn(t, g)
	g2 := dbtest.Reopen(t, g)
	before := stamp(t, f, changes.Organizations)
	if err := g2.Exec(`INSERT INTO organizations (name, created_at, updated_at) VALUES ('other', now(), now())`).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other replica's write to bump organizations", func() bool {
		s, ok := f.Stamp(changes.Organizations)
		return ok && s != before
	})

	before = stamp(t, f, changes.APIKeys)
	pid := f.ListenerPID()
	if err := g2.Exec(`SELECT pg_terminate_backend(?)`, pid).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the feed to be invalid", func() bool { return !f.Valid() || f.ListenerPID() != pid })
	waitFor(t, "the feed to listen again", func() bool { return f.Valid() && f.ListenerPID() != pid })
	if stamp(t, f, changes.APIKeys) == before {
		t.Error("listening again did not bump every table")
	}
}

// A start with the triggers already in place (every start but the first)
// changes nothing on the tables: it becomes valid at once while another
// session holds a write lock on one of them. Re-creating the triggers
// there waited behind that lock, and one transaction locking the tables in
// turn deadlocked with the API's writes.
func TestPostgresRestartTakesNoTableLock(t *testing.T) {
	g := dbtest.Postgres(t)
	feedOn(t, g) // the first start creates the triggers
	sqlDB, err := dbtest.Reopen(t, g).DB()
	if err != nil {
		t.Fatal(err)
	}
	tx, err := sqlDB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`LOCK TABLE ` + changes.Trunks + ` IN ROW EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	feedOn(t, dbtest.Reopen(t, g)) // another replica, or this one restarted
	if took := time.Since(t0); took > time.Second {
		t.Errorf("the second start was valid after %v, want at once", took)
	}
}

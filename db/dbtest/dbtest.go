// Package dbtest gives tests a migrated, private database: a PostgreSQL
// schema on the server named by TEST_DATABASE_URL (make test and .ci/run set
// it up), or an embedded SQLite file. Each runs a test on both, since the
// embedded SQLite is what `sipbridge serve` uses when DATABASE_URL is empty.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/secret"
	"gorm.io/gorm"
)

// EnvVar names the variable holding the test server's DSN.
const EnvVar = "TEST_DATABASE_URL"

// Postgres returns a gorm handle on a fresh schema of the test database,
// migrated to the latest version and dropped when the test ends.
func Postgres(t testing.TB) *gorm.DB {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		t.Fatalf("%s is not set: run the tests with `make test` (it starts PostgreSQL) or scripts/with-postgres.sh go test ./...", EnvVar)
	}
	admin, err := db.Open(base)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "t_" + hex.EncodeToString(rnd[:])
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("dbtest: create schema: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	g, err := db.Open(u.String())
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	if sqlDB, err := g.DB(); err == nil {
		db.SetPool(sqlDB, 8)
	}
	t.Cleanup(func() {
		if sqlDB, err := g.DB(); err == nil {
			sqlDB.Close()
		}
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if _, err := db.Migrate(context.Background(), g); err != nil {
		t.Fatalf("dbtest: migrate: %v", err)
	}
	return g
}

// SQLite returns a gorm handle on a fresh embedded SQLite database in a file
// under t.TempDir(), opened by db.Open as `sipbridge serve` opens it when
// DATABASE_URL is empty (same driver, pragmas and pool), migrated to the
// latest version and closed when the test ends.
//
// The file is a copy of one migrated once per test binary: migrating took
// about 1 s a database under the race detector (the embedded SQLite is Go
// code the detector instruments), and the suite opens hundreds. Migrate
// still runs on the copy (it finds every version applied).
func SQLite(t testing.TB) *gorm.DB {
	t.Helper()
	image, err := migratedSQLite()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	path := filepath.Join(t.TempDir(), "sipbridge.db")
	if err := os.WriteFile(path, image, 0o600); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	g, err := db.Open("sqlite:" + path)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		if sqlDB, err := g.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if _, err := db.Migrate(context.Background(), g); err != nil {
		t.Fatalf("dbtest: migrate: %v", err)
	}
	return g
}

// migratedSQLite returns the bytes of an embedded SQLite database migrated
// to the latest version, made once per process.
var migratedSQLite = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "sipbridge-dbtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	g, err := db.Open("sqlite:" + path)
	if err != nil {
		return nil, err
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	_, err = db.Migrate(context.Background(), g)
	// Closing the only connection checkpoints the write-ahead log into the
	// file, so the file alone is the whole database.
	if cerr := sqlDB.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, fmt.Errorf("the template's write-ahead log outlived its connection")
	}
	return os.ReadFile(path)
})

// databases names the databases Each runs a test on, with the function
// opening a fresh one.
var databases = []struct {
	Name string
	Open func(testing.TB) *gorm.DB
}{
	{"sqlite", SQLite},
	{"postgres", Postgres},
}

// Each runs f as the subtests "sqlite" and "postgres", each on a fresh
// migrated database, so that every query is checked against both dialects.
func Each(t *testing.T, f func(t *testing.T, g *gorm.DB)) {
	t.Helper()
	for _, d := range databases {
		t.Run(d.Name, func(t *testing.T) { f(t, d.Open(t)) })
	}
}

// DSN returns a DSN for a fresh migrated schema (for tests that run the binary).
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		t.Fatalf("%s is not set: run the tests with `make test`", EnvVar)
	}
	g := Postgres(t)
	var schema string
	g.Raw("SELECT current_schema()").Scan(&schema)
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Keyring returns a keyring with one fresh key.
func Keyring(t testing.TB) *secret.Keyring {
	t.Helper()
	k, err := secret.ParseKeyring(secret.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

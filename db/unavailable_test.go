package db_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// What the database being away looks like to a query, and what it does not:
// a refused or cut connection, a pooled one found closed, the server
// shutting down or starting up are Unavailable (the same write may succeed
// later); a broken rule or refused credentials are not.
func TestUnavailableClassifies(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("update calls: %w", &pgconn.PgError{Severity: "FATAL", Code: code})
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"cut mid-message", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", driver.ErrBadConn, true},
		{"pooled connection closed", fmt.Errorf("commit: %w", pgconn.ErrConnClosed), true},
		{"admin shutdown", pg("57P01"), true},
		{"crash shutdown", pg("57P02"), true},
		{"starting up", pg("57P03"), true},
		{"connection failure", pg("08006"), true},
		{"unique violation", pg("23505"), false},
		{"bad password", pg("28P01"), false},
		{"no such table", pg("42P01"), false},
		{"not found", db.ErrNotFound, false},
		{"other", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := db.Unavailable(c.err); got != c.want {
			t.Errorf("%s (%v): Unavailable %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// A server still starting up (after a restart) refuses new connections
// with SQLSTATE 57P03: a write that needs one fails Unavailable.
func TestUnavailableWhileStartingUp(t *testing.T) {
	g, r := dbtest.Relayed(t, dbtest.Postgres(t))
	sqlDB, err := g.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxIdleConns(0) // every query on a new connection
	s, org, c := callInProgress(t, g)
	ctx := context.Background()
	r.StartingUp(true)
	err = s.UpdateCall(ctx, org.ID, c.ID, map[string]any{"status": db.CallCompleted})
	if err == nil || !db.Unavailable(err) {
		t.Fatalf("a write while the server starts up: %v (%T), want an error classified Unavailable", err, err)
	}
	r.StartingUp(false)
	if err := s.UpdateCall(ctx, org.ID, c.ID, map[string]any{"status": db.CallCompleted}); err != nil {
		t.Fatalf("the write once the server is up: %v", err)
	}
}

// A pooled connection PostgreSQL no longer serves (its server process
// terminated, as on a restart or failover; or its socket cut, as by a
// network outage) fails the next write with an error classified
// Unavailable, so that the call writes made then are kept for later rather
// than dropped. The connection is reused within a second of its last use:
// the driver checks only connections idle for longer.
func TestUnavailableOnStalePooledConnection(t *testing.T) {
	t.Run("terminated", func(t *testing.T) {
		g := dbtest.Postgres(t)
		admin := adminDB(t)
		staleWrite(t, g, func(pid int) {
			if err := admin.Exec("SELECT pg_terminate_backend(?)", pid).Error; err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for n := 1; n > 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				admin.Raw("SELECT count(*) FROM pg_stat_activity WHERE pid = ?", pid).Scan(&n)
			}
		})
	})
	t.Run("cut", func(t *testing.T) {
		g, r := dbtest.Relayed(t, dbtest.Postgres(t))
		staleWrite(t, g, func(int) { r.Cut(); time.Sleep(20 * time.Millisecond) })
	})
}

// staleWrite makes g's single pooled connection stale with kill (given its
// backend's pid) and asserts the next write's error is Unavailable. The
// driver may still find it stale before using it (then the write goes
// through a new connection): a few tries, at least one must fail.
func staleWrite(t *testing.T, g *gorm.DB, kill func(pid int)) {
	t.Helper()
	sqlDB, err := g.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(1)
	s, org, c := callInProgress(t, g)
	ctx := context.Background()
	failed := 0
	for try := 0; try < 3 && failed == 0; try++ {
		var pid int
		for i := 0; i < 2; i++ { // reused once: checked then, not again for a second
			if err := g.Raw("SELECT pg_backend_pid()").Scan(&pid).Error; err != nil {
				t.Fatal(err)
			}
		}
		kill(pid)
		err := s.UpdateCall(ctx, org.ID, c.ID, map[string]any{"status": db.CallCompleted})
		if err == nil {
			continue
		}
		failed++
		if !db.Unavailable(err) {
			t.Fatalf("the write on a stale pooled connection failed with %v (%T): not classified Unavailable, so a call's write would be dropped", err, err)
		}
	}
	if failed == 0 {
		t.Fatal("no write reached a stale pooled connection in 3 tries")
	}
	if err := s.UpdateCall(ctx, org.ID, c.ID, map[string]any{"status": db.CallCompleted}); err != nil {
		t.Fatalf("the write after a stale connection: %v", err)
	}
}

func adminDB(t *testing.T) *gorm.DB {
	t.Helper()
	admin, err := db.Open(os.Getenv(dbtest.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return admin
}

// callInProgress stores an organization and a call in progress through g.
func callInProgress(t *testing.T, g *gorm.DB) (*db.Store, *db.Organization, *db.Call) {
	t.Helper()
	s := db.NewStore(g, nil, nil)
	ctx := context.Background()
	org, _, err := s.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	c := &db.Call{OrgID: org.ID, Direction: db.DirectionInbound, Status: db.CallInProgress}
	if err := s.CreateCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	return s, org, c
}

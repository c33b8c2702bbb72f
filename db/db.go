// Package db owns the records: gorm models, versioned migrations, the
// organization-scoped queries and the encryption of secrets at rest.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sipbridge/sipbridge/secret"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

var (
	// ErrNotFound is returned for a missing record and for another
	// organization's record alike.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a unique rule would be broken.
	ErrConflict = errors.New("conflict")
)

// Unavailable reports whether err means the database could not be reached
// (the connection refused, cut or timed out, or the server shutting down or
// starting up): the same request may succeed once it is back. A pooled
// connection cut while idle fails its next query with the driver's "conn
// closed"; one whose server process stopped (a restart) reads SQLSTATE
// 57P01-57P03 or class 08.
func Unavailable(err error) bool {
	var ne *net.OpError
	var pe *pgconn.PgError
	return err != nil && (errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "08") ||
		pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"))
}

// DefaultSQLitePath is where the embedded database lives when DATABASE_URL is empty.
const DefaultSQLitePath = "./var/sipbridge.db"

// now is the current time as both databases keep it: UTC (SQLite compares
// times as text), whole microseconds (PostgreSQL's precision), so a record
// reads back with the times it was written with.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Open connects to PostgreSQL (dsn postgres://…) or, for an empty dsn or a
// sqlite:PATH dsn, to the embedded SQLite database.
func Open(dsn string) (*gorm.DB, error) {
	cfg := &gorm.Config{
		Logger:         logger.Discard,
		TranslateError: true,
		NowFunc:        now,
	}
	switch {
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		g, err := gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			return nil, fmt.Errorf("db: open postgres: %w", err)
		}
		if sqlDB, err := g.DB(); err == nil {
			SetPool(sqlDB, DefaultPoolSize)
		}
		return g, nil
	case dsn == "" || strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			path = DefaultSQLitePath
		}
		if path != ":memory:" {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return nil, fmt.Errorf("db: %w", err)
			}
		}
		sqlDB, err := openSQLiteUTC(path + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		if err != nil {
			return nil, fmt.Errorf("db: open sqlite: %w", err)
		}
		sqlDB.SetMaxOpenConns(1) // SQLite has one writer; one connection avoids SQLITE_BUSY
		g, err := gorm.Open(sqlite.Dialector{Conn: sqlDB}, cfg)
		if err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("db: open sqlite: %w", err)
		}
		return g, nil
	default:
		return nil, fmt.Errorf("db: DATABASE_URL must start with postgres:// (or be empty for the embedded SQLite)")
	}
}

// DefaultPoolSize is how many PostgreSQL connections a process keeps open
// at most, and keeps idle for reuse.
const DefaultPoolSize = 32

// SetPool bounds the pool at n connections and keeps up to n of them idle
// for the next query. database/sql keeps only 2 idle by default: under
// concurrent requests every query beyond the second then opened (and
// PostgreSQL forked) a new connection, which cost more than the query.
func SetPool(sqlDB *sql.DB, n int) {
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
}

// Ping checks the database answers.
func Ping(ctx context.Context, g *gorm.DB) error {
	sqlDB, err := g.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Store runs the queries of the application. Every method that reads or
// writes an organization's resource takes its organization id and filters by
// it: another organization's record is ErrNotFound, exactly like a missing one.
type Store struct {
	DB   *gorm.DB
	Keys *secret.Keyring
	Log  *slog.Logger
	Now  func() time.Time
}

// NewStore returns a Store; log and now may be nil.
func NewStore(g *gorm.DB, keys *secret.Keyring, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{DB: g, Keys: keys, Log: log, Now: now}
}

func (s *Store) db(ctx context.Context) *gorm.DB { return s.DB.WithContext(ctx) }

// single is for a write that is one statement: without gorm's default
// transaction around it (BEGIN, the statement, COMMIT: three round trips
// where one does, on the call path).
func (s *Store) single(ctx context.Context) *gorm.DB {
	return s.DB.WithContext(ctx).Session(&gorm.Session{SkipDefaultTransaction: true})
}

func (s *Store) scoped(ctx context.Context, orgID int64) *gorm.DB {
	return s.DB.WithContext(ctx).Where("org_id = ?", orgID)
}

// NewID returns a new random record id.
func NewID() string { return uuid.NewString() }

// Translate maps gorm's not-found and unique-violation errors to ErrNotFound
// and ErrConflict (for the stores of sibling packages, e.g. db/smsdb).
func Translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey), isUniqueViolation(err):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "duplicate key value")
}

package changes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channel is the PostgreSQL notification channel the triggers send to.
const Channel = "sipbridge_changes"

// pingEvery: an idle listener checks its connection this often, so a
// connection lost without a word invalidates the feed within about this.
const pingEvery = 5 * time.Second

// Run creates PostgreSQL's triggers and keeps one LISTEN connection until
// ctx ends, bumping the table of each notification; then the feed is no
// longer valid. On SQLite, and while another Run of the feed is listening
// (two apps on one handle), it returns at once: it never waits for the
// other, whose owner may be waiting for this one to return.
func (f *Feed) Run(ctx context.Context, log *slog.Logger) {
	if f == nil || f.dsn == "" || !f.running.CompareAndSwap(false, true) {
		return
	}
	defer f.running.Store(false)
	f.listen(ctx, log)
}

func (f *Feed) listen(ctx context.Context, log *slog.Logger) {
	log = log.With("component", "changes")
	triggers := false
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := f.listenOnce(ctx, &triggers)
		f.setDown()
		if ctx.Err() != nil {
			return
		}
		log.Warn("change feed not listening: API answers are read from the database until it is back", "err", err, "retry_ms", wait.Milliseconds())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// setDown marks the feed not valid (idempotent while down).
func (f *Feed) setDown() {
	f.pid.Store(0)
	f.down.CompareAndSwap(0, 1)
}

// listenOnce connects, creates the triggers once per process, listens and
// bumps tables until the connection fails.
func (f *Feed) listenOnce(ctx context.Context, triggers *bool) error {
	cfg, err := pgx.ParseConfig(f.dsn)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = "sipbridge-changes"
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if !*triggers {
		if err := createTriggers(ctx, conn); err != nil {
			return fmt.Errorf("create triggers: %w", err)
		}
		*triggers = true
	}
	// The channel is the database's: other schemas' tables (other
	// deployments, tests) notify on it too.
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	// Listening: what was missed while down is unknown, so bump it all,
	// then trust the feed again.
	f.pid.Store(conn.PgConn().PID())
	f.BumpAll()
	f.down.Store(0)
	for {
		wctx, cancel := context.WithTimeout(ctx, pingEvery)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if sch, table, ok := strings.Cut(n.Payload, "."); ok && sch == schema {
				f.Bump(table)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// createTriggers (re)creates the notifying trigger on each watched table,
// under an advisory lock so replicas starting together take turns.
func createTriggers(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	stmts := []string{
		`SELECT pg_advisory_xact_lock(hashtext('` + Channel + `'))`,
		`CREATE OR REPLACE FUNCTION sipbridge_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + Channel + `', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
	RETURN NULL;
END $$`,
	}
	for _, t := range Watched {
		stmts = append(stmts,
			`DROP TRIGGER IF EXISTS sipbridge_changes ON `+t,
			`CREATE TRIGGER sipbridge_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON `+t+
				` FOR EACH STATEMENT EXECUTE FUNCTION sipbridge_notify_change()`)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

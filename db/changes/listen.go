package changes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// notifyBody is the trigger function's body (pg_proc.prosrc).
const notifyBody = `
BEGIN
	PERFORM pg_notify('` + Channel + `', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
	RETURN NULL;
END `

// triggerLockTimeout bounds how long creating a trigger waits for its
// table: a waiting DDL lock holds up every later write to the table.
const triggerLockTimeout = "2s"

// createTriggers makes sure each watched table has the notifying trigger.
// When the function and every trigger are already in place (any start but
// the first), it changes nothing: DDL on a live table takes a lock that
// writes wait behind, and one transaction locking the tables in turn
// deadlocked with the API's writes. Otherwise each table gets its trigger
// in a short transaction of its own, under an advisory lock (replicas
// starting together take turns) and a lock timeout; an error leaves the
// feed not valid and the listener retries.
func createTriggers(ctx context.Context, conn *pgx.Conn) error {
	if ok, err := triggersInPlace(ctx, conn); err != nil || ok {
		return err
	}
	fn := `CREATE OR REPLACE FUNCTION sipbridge_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$` + notifyBody + `$$`
	if err := inTx(ctx, conn, fn); err != nil {
		return err
	}
	for _, t := range Watched {
		events := "INSERT OR UPDATE OR DELETE OR TRUNCATE"
		if cols := UpdateOf[t]; cols != nil {
			events = "INSERT OR DELETE OR TRUNCATE OR UPDATE OF " + strings.Join(cols, ", ")
		}
		if err := inTx(ctx, conn, `DROP TRIGGER IF EXISTS sipbridge_changes ON `+t,
			`CREATE TRIGGER sipbridge_changes AFTER `+events+` ON `+t+
				` FOR EACH STATEMENT EXECUTE FUNCTION sipbridge_notify_change()`); err != nil {
			return err
		}
	}
	return nil
}

// UpdateOf are, for a table whose trigger skips some columns, the columns
// an UPDATE of which notifies: every one but those no cache serves as
// current. api_keys.last_used_at is written at most once a minute per key
// in use; the key cache goes to the database when its copy is a minute
// old (web/httpapi/keys.go), so that write need not drop every replica's
// cached keys. The in-process side of it is Quiet. A column added to the
// table must be added here (a test compares the two).
var UpdateOf = map[string][]string{
	APIKeys: {"id", "org_id", "name", "prefix", "hash", "created_at", "revoked_at"},
}

// triggersInPlace reports whether the function and every watched table's
// trigger are as createTriggers makes them.
func triggersInPlace(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var body *string
	err := conn.QueryRow(ctx, `SELECT prosrc FROM pg_proc WHERE proname = 'sipbridge_notify_change'
		AND pronamespace = current_schema()::regnamespace`).Scan(&body)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, err
	}
	if body == nil || *body != notifyBody {
		return false, nil
	}
	rows, err := conn.Query(ctx, `SELECT c.relname, coalesce((SELECT string_agg(a.attname, ',' ORDER BY a.attname)
			FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(tg.tgattr::int2[])), '')
		FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
		WHERE tg.tgname = 'sipbridge_changes' AND NOT tg.tgisinternal
		AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)`, Watched)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, cols string
		if err := rows.Scan(&table, &cols); err != nil {
			return false, err
		}
		want := slices.Clone(UpdateOf[table])
		slices.Sort(want)
		if cols != strings.Join(want, ",") {
			return false, nil
		}
		n++
	}
	return n == len(Watched), rows.Err()
}

// inTx runs stmts in one transaction under the advisory lock and the lock
// timeout.
func inTx(ctx context.Context, conn *pgx.Conn, stmts ...string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	pre := []string{`SELECT pg_advisory_xact_lock(hashtext('` + Channel + `'))`, `SET LOCAL lock_timeout = '` + triggerLockTimeout + `'`}
	for _, s := range append(pre, stmts...) {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

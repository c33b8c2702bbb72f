package changes

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Register puts the feed on g, the store's handle, and returns it: gorm
// callbacks bump the table of every create, update, delete and raw Exec,
// and g's connection pool is wrapped so that the commit of a transaction
// bumps the tables it wrote once more (a reader between the statement and
// the commit read the old rows with the new stamp). Register on a g that
// has a feed returns that feed. On PostgreSQL the feed is not valid until
// Run has its listener listening.
func Register(g *gorm.DB) (*Feed, error) {
	regMu.Lock()
	defer regMu.Unlock()
	if p, ok := g.ConnPool.(*pool); ok {
		return p.feed, nil
	}
	sqlDB, ok := g.ConnPool.(*sql.DB)
	if !ok {
		return nil, errors.New("changes: the handle's pool is not a *sql.DB")
	}
	f := &Feed{}
	if d, ok := g.Dialector.(*postgres.Dialector); ok {
		f.dsn = d.Config.DSN
		f.down.Store(1) // until the listener listens
	}
	cb := g.Callback()
	errs := []error{
		cb.Create().After("gorm:create").Register("changes:create", f.afterWrite),
		cb.Update().After("gorm:update").Register("changes:update", f.afterWrite),
		cb.Delete().After("gorm:delete").Register("changes:delete", f.afterWrite),
		cb.Raw().After("gorm:raw").Register("changes:raw", f.afterRaw),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &pool{DB: sqlDB, feed: f}
	g.ConnPool = p
	g.Statement.ConnPool = p
	return f, nil
}

var regMu sync.Mutex

// quietKey is the setting Quiet puts on a statement.
const quietKey = "changes:quiet"

// Quiet is g for a write that bumps nothing: an UPDATE of only columns
// that no cache serves as current, those that PostgreSQL's trigger skips
// too (UpdateOf). A write to any other column must not be Quiet.
func Quiet(g *gorm.DB) *gorm.DB { return g.Set(quietKey, true) }

func (f *Feed) afterWrite(g *gorm.DB) {
	if q, _ := g.Get(quietKey); q == true {
		return
	}
	f.wrote(g, g.Statement.Table)
}

func (f *Feed) afterRaw(g *gorm.DB) { f.wrote(g, rawTable(g.Statement.SQL.String())) }

// wrote bumps table now and, inside a transaction, again at its commit.
func (f *Feed) wrote(g *gorm.DB, table string) {
	f.Bump(table)
	if tx, ok := g.Statement.ConnPool.(*txConn); ok {
		tx.mark(table)
	}
}

// rawTable is the table a plain INSERT INTO t, UPDATE t or DELETE FROM t
// writes; "" for any other statement (every table is bumped).
func rawTable(q string) string {
	w := strings.Fields(strings.ToLower(q))
	var t string
	switch {
	case len(w) >= 3 && w[0] == "insert" && w[1] == "into":
		t = w[2]
	case len(w) >= 3 && w[0] == "delete" && w[1] == "from":
		t = w[2]
	case len(w) >= 2 && w[0] == "update":
		t = w[1]
	default:
		return ""
	}
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = t[:i]
	}
	t = strings.Trim(t, `"`)
	if t == "" || strings.ContainsAny(t, `."`) {
		return "" // schema-qualified or quoted oddly: unknown
	}
	return t
}

// pool is the store's *sql.DB with transactions that bump at commit.
type pool struct {
	*sql.DB
	feed *Feed
}

// BeginTx makes gorm's transactions txConns (gorm.ConnPoolBeginner).
func (p *pool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txConn{Tx: tx, db: p.DB, feed: p.feed}, nil
}

// GetDBConn lets gorm's DB() find the *sql.DB.
func (p *pool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

// txConn is a transaction that bumps the tables it wrote after its commit.
type txConn struct {
	*sql.Tx
	db   *sql.DB
	feed *Feed

	mu      sync.Mutex
	written []string
	all     bool
}

func (t *txConn) mark(table string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if table == "" {
		t.all = true
	} else {
		t.written = append(t.written, table)
	}
}

// Commit commits, then bumps what the transaction wrote, whatever the
// outcome (an error may hide a commit that happened).
func (t *txConn) Commit() error {
	err := t.Tx.Commit()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.all {
		t.feed.BumpAll()
	}
	for _, table := range t.written {
		t.feed.Bump(table)
	}
	return err
}

// GetDBConn lets gorm's DB() find the *sql.DB inside a transaction.
func (t *txConn) GetDBConn() (*sql.DB, error) { return t.db, nil }

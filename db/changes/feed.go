// Package changes is a change feed for the database: a generation counter
// per table, bumped by every write, that caches check to know whether what
// they read is still what the database holds.
//
// Two sources bump the counters:
//
//   - In this process (SQLite and PostgreSQL): gorm callbacks after every
//     create, update, delete and raw Exec on the store's *gorm.DB, and the
//     commit of a transaction that wrote. A raw statement whose table is not
//     plain (INSERT INTO t, UPDATE t, DELETE FROM t) bumps every table.
//     A write made Quiet bumps nothing (an API key's last use).
//   - Other replicas (PostgreSQL only): statement-level triggers on the
//     tables in Watched NOTIFY the channel sipbridge_changes with
//     "schema.table" at commit (a transaction's same notices arrive once;
//     api_keys' trigger skips an update of last_used_at alone: UpdateOf);
//     one dedicated LISTEN connection per process bumps the table on each
//     notification (listen.go). While that connection is down,
//     and until it listens again, the feed is not valid: Stamp reports false
//     and caches must read the database. When it is back, every table is
//     bumped, since notifications sent meanwhile are lost.
//
// SQLite has the in-process source only: one process owns the file, so
// every write goes through its callbacks. The feed is valid from the start.
//
// The rule a cache follows (Cache does): take the Stamp of the tables an
// answer reads before reading them, keep the answer with it, and serve it
// only while Stamp of the same tables is valid and equal. A write bumps
// after it is committed, so a read that may have missed it carries an older
// stamp.
package changes

import (
	"sync"
	"sync/atomic"
)

// Tables the caches read, which PostgreSQL's triggers watch.
const (
	Organizations = "organizations"
	APIKeys       = "api_keys"
	Assistants    = "assistants"
	Trunks        = "sip_trunks"
	TrunkStatus   = "sip_trunk_status"
	PhoneNumbers  = "phone_numbers"
)

// Watched are the tables PostgreSQL's triggers notify for.
var Watched = []string{Organizations, APIKeys, Assistants, Trunks, TrunkStatus, PhoneNumbers}

// Stamp is the sum of the generations of some tables and of the all-tables
// generation. Every generation only grows, so two equal stamps of the same
// tables mean none of them was bumped in between.
type Stamp uint64

// Feed holds the generations. The zero value is not usable: see Register.
type Feed struct {
	gens sync.Map // table name → *atomic.Uint64
	// all is added to every stamp: bumping it bumps every table.
	all atomic.Uint64
	// down > 0: the feed misses writes (PostgreSQL's listener is not
	// listening), so no stamp is valid.
	down atomic.Int32

	dsn     string        // PostgreSQL: the listener's DSN; "": SQLite
	running atomic.Bool   // a Run is listening
	pid     atomic.Uint32 // the listener's backend process id, 0: none
}

func (f *Feed) gen(table string) *atomic.Uint64 {
	if g, ok := f.gens.Load(table); ok {
		return g.(*atomic.Uint64)
	}
	g, _ := f.gens.LoadOrStore(table, new(atomic.Uint64))
	return g.(*atomic.Uint64)
}

// Bump records a write to table ("": an unknown table, so every table).
func (f *Feed) Bump(table string) {
	if table == "" {
		f.BumpAll()
		return
	}
	f.gen(table).Add(1)
}

// BumpAll records a write that may have touched any table.
func (f *Feed) BumpAll() { f.all.Add(1) }

// Stamp returns the stamp of tables, and false when the feed is not valid
// (a nil feed never is): then nothing read may be cached or served from a
// cache.
func (f *Feed) Stamp(tables ...string) (Stamp, bool) {
	if f == nil || f.down.Load() > 0 {
		return 0, false
	}
	sum := f.all.Load()
	for _, t := range tables {
		sum += f.gen(t).Load()
	}
	// A listener that went down while we summed: the sum may miss a write.
	if f.down.Load() > 0 {
		return 0, false
	}
	return Stamp(sum), true
}

// Valid reports whether the feed sees every write now.
func (f *Feed) Valid() bool { return f != nil && f.down.Load() == 0 }

// ListenerPID is the PostgreSQL backend process id of the LISTEN
// connection (0: none, or SQLite), for tests and diagnostics.
func (f *Feed) ListenerPID() uint32 { return f.pid.Load() }

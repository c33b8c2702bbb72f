package dbtest

import (
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db"
)

// Relay stands between a test's handle and its PostgreSQL, so a test can
// make the database go away without touching the server the other tests
// share: Cut closes the relayed connections, Down also refuses new ones
// until Up, StartingUp answers new ones as a server still starting
// (57P03).
type Relay struct {
	mu       sync.Mutex
	conns    []net.Conn
	down     bool
	starting bool
}

// Relayed reopens g's PostgreSQL database (the same schema) through a
// Relay; both are closed when t ends.
func Relayed(t testing.TB, g *gorm.DB) (*gorm.DB, *Relay) {
	t.Helper()
	var schema string
	if err := g.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv(EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{}
	t.Cleanup(func() { ln.Close(); r.Cut() })
	go func(target string) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c, target)
		}
	}(u.Host)
	u.Host = ln.Addr().String()
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return open(t, u.String()), r
}

// Reopen opens g's PostgreSQL database (the same schema) again as a
// second connection pool, as another sipbridge replica has; it is closed
// when t ends.
func Reopen(t testing.TB, g *gorm.DB) *gorm.DB {
	t.Helper()
	return open(t, g.Dialector.(*postgres.Dialector).Config.DSN)
}

// open opens dsn, closed when t ends.
func open(t testing.TB, dsn string) *gorm.DB {
	t.Helper()
	g, err := db.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := g.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return g
}

// Cut closes every relayed connection.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// Down cuts the relayed connections and refuses new ones until Up.
func (r *Relay) Down() {
	r.mu.Lock()
	r.down = true
	r.mu.Unlock()
	r.Cut()
}

// Up relays new connections again.
func (r *Relay) Up() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = false
}

// StartingUp makes new connections get PostgreSQL's "the database system
// is starting up" (on) or be relayed again (off).
func (r *Relay) StartingUp(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starting = on
}

func (r *Relay) serve(c net.Conn, target string) {
	r.mu.Lock()
	down, starting := r.down, r.starting
	r.mu.Unlock()
	switch {
	case down:
		c.Close()
		return
	case starting:
		defer c.Close()
		b := pgproto3.NewBackend(c, c)
		if _, err := b.ReceiveStartupMessage(); err == nil {
			b.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"})
			_ = b.Flush()
		}
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	r.mu.Lock()
	r.conns = append(r.conns, c, up)
	r.mu.Unlock()
	go func() { io.Copy(up, c); up.Close(); c.Close() }()
	io.Copy(c, up)
	up.Close()
	c.Close()
}

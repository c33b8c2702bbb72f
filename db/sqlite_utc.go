package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/glebarez/sqlite"
)

// The embedded SQLite has no time type: the driver writes a time.Time as
// text with its zone offset ("2025-03-10 13:02:00+01:00"), and SQLite
// compares and sorts that text as text. Text order is time order only when
// every value has the same offset, so the SQLite connections convert every
// time argument to UTC before the driver sees it: stored values, WHERE
// bounds (an API caller's ?from=…+02:00) and ORDER BY then agree with
// PostgreSQL's timestamptz.

// openSQLiteUTC returns a pool of SQLite connections to dsn that pass every
// time argument in UTC.
func openSQLiteUTC(dsn string) (*sql.DB, error) {
	h, err := sql.Open(sqlite.DriverName, "")
	if err != nil {
		return nil, err
	}
	drv := h.Driver() // the driver registered by glebarez/go-sqlite
	h.Close()
	return sql.OpenDB(utcConnector{drv: drv, dsn: dsn}), nil
}

type utcConnector struct {
	drv driver.Driver
	dsn string
}

func (c utcConnector) Driver() driver.Driver { return c.drv }

func (c utcConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	full, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("db: the sqlite driver's connection (%T) lacks context methods", conn)
	}
	return utcConn{full}, nil
}

// sqliteConn is what glebarez/go-sqlite's connections implement.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
}

type utcConn struct{ sqliteConn }

// CheckNamedValue converts arguments as database/sql does by default, then
// moves times to UTC. database/sql calls it for statements too.
func (utcConn) CheckNamedValue(nv *driver.NamedValue) error {
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return err
	}
	if t, ok := v.(time.Time); ok {
		v = t.UTC()
	}
	nv.Value = v
	return nil
}

var _ driver.NamedValueChecker = utcConn{}

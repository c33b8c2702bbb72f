package db

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// A migration is one versioned schema step. SQL is written once with
// placeholders for the few types that differ between PostgreSQL and SQLite:
//
//	{{pk}}  auto-increment bigint primary key
//	{{ts}}  timestamp with time zone
type migration struct {
	Version int
	Name    string
	SQL     string
}

var migrations = []migration{
	{1, "initial schema", `
CREATE TABLE organizations (
  id {{pk}},
  name TEXT NOT NULL,
  default_country TEXT NOT NULL DEFAULT 'US',
  settings TEXT NOT NULL DEFAULT '{}',
  secrets_enc TEXT NOT NULL DEFAULT '',
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE UNIQUE INDEX organizations_name_key ON organizations (name);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT '',
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_at {{ts}} NOT NULL,
  last_used_at {{ts}},
  revoked_at {{ts}}
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);
CREATE INDEX api_keys_org_idx ON api_keys (org_id);

CREATE TABLE assistants (
  id TEXT PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  stream_url TEXT NOT NULL DEFAULT '',
  sms_webhook_url TEXT NOT NULL DEFAULT '',
  config TEXT NOT NULL DEFAULT '{}',
  secrets_enc TEXT NOT NULL DEFAULT '',
  fallback_transfer_number TEXT NOT NULL DEFAULT '',
  recording_enabled BOOLEAN NOT NULL DEFAULT FALSE,
  welcome_message TEXT NOT NULL DEFAULT '',
  metadata TEXT NOT NULL DEFAULT '{}',
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE INDEX assistants_org_idx ON assistants (org_id, name);

CREATE TABLE sip_trunks (
  id TEXT PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  gateway_name TEXT NOT NULL,
  gateway TEXT NOT NULL,
  username TEXT NOT NULL DEFAULT '',
  password_enc TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL DEFAULT 1,
  enabled BOOLEAN NOT NULL DEFAULT TRUE,
  register BOOLEAN NOT NULL DEFAULT TRUE,
  realm TEXT NOT NULL DEFAULT '',
  proxy TEXT NOT NULL DEFAULT '',
  transport TEXT NOT NULL DEFAULT 'udp',
  from_user TEXT NOT NULL DEFAULT '',
  from_domain TEXT NOT NULL DEFAULT '',
  caller_id_in_from BOOLEAN NOT NULL DEFAULT FALSE,
  expire_seconds INTEGER NOT NULL DEFAULT 0,
  retry_seconds INTEGER NOT NULL DEFAULT 0,
  ping_seconds INTEGER NOT NULL DEFAULT 0,
  allowed_addresses TEXT NOT NULL DEFAULT '[]',
  codecs TEXT NOT NULL DEFAULT '[]',
  provider TEXT NOT NULL DEFAULT '',
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE UNIQUE INDEX sip_trunks_org_name_key ON sip_trunks (org_id, lower(name));
CREATE UNIQUE INDEX sip_trunks_gateway_name_key ON sip_trunks (gateway_name);

CREATE TABLE sip_trunk_status (
  trunk_id TEXT PRIMARY KEY REFERENCES sip_trunks (id) ON DELETE CASCADE,
  org_id BIGINT NOT NULL,
  sync_state TEXT NOT NULL DEFAULT 'pending',
  sync_message TEXT NOT NULL DEFAULT '',
  applied_at {{ts}},
  gateway_state TEXT NOT NULL DEFAULT '',
  ping_status TEXT NOT NULL DEFAULT '',
  last_status_code INTEGER NOT NULL DEFAULT 0,
  updated_at {{ts}} NOT NULL
);

CREATE TABLE phone_numbers (
  id TEXT PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  phone_number TEXT NOT NULL,
  provider TEXT NOT NULL,
  provider_id TEXT NOT NULL DEFAULT '',
  friendly_name TEXT NOT NULL DEFAULT '',
  country_code TEXT NOT NULL DEFAULT '',
  assistant_id TEXT REFERENCES assistants (id) ON DELETE SET NULL,
  outbound_assistant_id TEXT REFERENCES assistants (id) ON DELETE SET NULL,
  sip_trunk_id TEXT REFERENCES sip_trunks (id) ON DELETE SET NULL,
  cap_voice BOOLEAN NOT NULL DEFAULT TRUE,
  cap_sms BOOLEAN NOT NULL DEFAULT FALSE,
  cap_mms BOOLEAN NOT NULL DEFAULT FALSE,
  allowed_country_codes TEXT NOT NULL DEFAULT '[]',
  is_active BOOLEAN NOT NULL DEFAULT TRUE,
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE UNIQUE INDEX phone_numbers_number_key ON phone_numbers (phone_number);
CREATE INDEX phone_numbers_org_idx ON phone_numbers (org_id);
CREATE INDEX phone_numbers_trunk_idx ON phone_numbers (sip_trunk_id);
`},
	{2, "calls and call events", `
CREATE TABLE calls (
  id TEXT PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  call_sid TEXT NOT NULL DEFAULT '',
  sip_call_id TEXT NOT NULL DEFAULT '',
  assistant_id TEXT REFERENCES assistants (id) ON DELETE SET NULL,
  phone_number_id TEXT REFERENCES phone_numbers (id) ON DELETE SET NULL,
  trunk_id TEXT REFERENCES sip_trunks (id) ON DELETE SET NULL,
  provider TEXT NOT NULL DEFAULT 'sip',
  direction TEXT NOT NULL,
  from_number TEXT NOT NULL DEFAULT '',
  to_number TEXT NOT NULL DEFAULT '',
  resolved_did TEXT NOT NULL DEFAULT '',
  did_source TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  hangup_cause TEXT NOT NULL DEFAULT '',
  sip_status INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  started_at {{ts}} NOT NULL,
  answered_at {{ts}},
  ended_at {{ts}},
  duration_seconds INTEGER NOT NULL DEFAULT 0,
  recording_path TEXT NOT NULL DEFAULT '',
  recording_bytes BIGINT NOT NULL DEFAULT 0,
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE INDEX calls_org_started_idx ON calls (org_id, started_at);
CREATE INDEX calls_call_sid_idx ON calls (call_sid);

CREATE TABLE call_events (
  id {{pk}},
  call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  org_id BIGINT NOT NULL,
  at {{ts}} NOT NULL,
  type TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX call_events_call_idx ON call_events (call_id, id);
`},
	// Version 3 (SMS and MMS) stands on version 1 only; version 2 (calls) may
	// come before it.
	{3, "sms and mms", migrationSMS},
	{4, "trunk transfer settings", `
ALTER TABLE sip_trunks ADD COLUMN transfer_mode TEXT NOT NULL DEFAULT 'bridge';
ALTER TABLE sip_trunks ADD COLUMN refer_to_template TEXT NOT NULL DEFAULT '';
`},
	// An organization's default trunk: set by PUT /organizations/{id}
	// (source organization) or built from SIP_GATEWAY (source environment);
	// at most one per organization. inbound_disabled refuses its inbound calls.
	{5, "organization default trunk", `
ALTER TABLE sip_trunks ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE sip_trunks ADD COLUMN inbound_disabled BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX sip_trunks_org_default_key ON sip_trunks (org_id) WHERE source <> '';
`},
	// 0: the trunk sets no ring time; the platform's LEG_TIMEOUT applies.
	{6, "trunk ring timeout", `
ALTER TABLE sip_trunks ADD COLUMN ring_timeout_seconds INTEGER NOT NULL DEFAULT 0;
`},
	// How an assistant's inbound calls are answered (db.AnswerAssistantReady,
	// db.AnswerEarlyRingback) and the WAV played at the answer.
	{7, "assistant answer mode and welcome audio", `
ALTER TABLE assistants ADD COLUMN answer_mode TEXT NOT NULL DEFAULT 'assistant_ready';
ALTER TABLE assistants ADD COLUMN welcome_audio TEXT NOT NULL DEFAULT '';
`},
	{8, "trunk srtp", `ALTER TABLE sip_trunks ADD COLUMN srtp TEXT NOT NULL DEFAULT 'off';`},
	// The FreeSWITCH node (FS_NODES name) that carries a SIP call; '' for
	// a hosted call and for the calls recorded before several nodes.
	{9, "call node", `ALTER TABLE calls ADD COLUMN node TEXT NOT NULL DEFAULT '';`},
	// Which sipbridge replica controls a node's calls, until expires_at
	// (renewed by its owner; db.Store.TakeLease). owner_addr is the
	// owner's internal URL (REPLICA_ADDR), where others forward requests
	// about its calls.
	{10, "node leases", `
CREATE TABLE node_leases (
  node TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  owner_addr TEXT NOT NULL DEFAULT '',
  expires_at {{ts}} NOT NULL
);
`},
	// The replicas' presence (each renews its row with its leases;
	// db.Store.Announce) and the replica that holds a hosted call in its
	// memory (calls.replica: '' for a SIP call, whose node's lease says,
	// and for a call recorded without replicas): a replica whose presence
	// expired has its open hosted calls closed by another.
	{11, "replica presence", `
CREATE TABLE replicas (
  name TEXT PRIMARY KEY,
  addr TEXT NOT NULL DEFAULT '',
  expires_at {{ts}} NOT NULL
);
ALTER TABLE calls ADD COLUMN replica TEXT NOT NULL DEFAULT '';
CREATE INDEX calls_open_replica ON calls (replica) WHERE status IN ('ringing', 'in-progress') AND replica <> '';
`},
}

// SchemaVersion is the version the code expects after Migrate.
func SchemaVersion() int { return migrations[len(migrations)-1].Version }

func renderSQL(dialect, sql string) string {
	r := strings.NewReplacer(
		"{{pk}}", map[string]string{"postgres": "BIGSERIAL PRIMARY KEY", "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}[dialect],
		"{{ts}}", map[string]string{"postgres": "TIMESTAMPTZ", "sqlite": "DATETIME"}[dialect],
	)
	return r.Replace(sql)
}

// Migrate applies every migration not yet recorded in schema_migrations, each
// in its own transaction. Running it again does nothing.
func Migrate(ctx context.Context, g *gorm.DB) (applied []int, err error) {
	dialect := g.Dialector.Name()
	if dialect != "postgres" && dialect != "sqlite" {
		return nil, fmt.Errorf("db: unsupported dialect %q", dialect)
	}
	g = g.WithContext(ctx)
	if err := g.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ` +
		renderSQL(dialect, "{{ts}}") + ` NOT NULL)`).Error; err != nil {
		return nil, fmt.Errorf("db: schema_migrations: %w", err)
	}
	if dialect == "postgres" {
		// One migrator at a time (several replicas starting together). The
		// lock belongs to a session, so it is taken and released on one
		// connection held for the purpose: released on another pooled
		// connection, it would stay with an idle one and block every other
		// replica's start.
		unlock, err := migrationLock(ctx, g)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	var done []int
	if err := g.Raw(`SELECT version FROM schema_migrations`).Scan(&done).Error; err != nil {
		return nil, err
	}
	have := map[int]bool{}
	for _, v := range done {
		have[v] = true
	}
	for _, m := range migrations {
		if have[m.Version] {
			continue
		}
		err := g.Transaction(func(tx *gorm.DB) error {
			for _, stmt := range splitStatements(renderSQL(dialect, m.SQL)) {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
				}
			}
			return tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UTC()).Error
		})
		if err != nil {
			return applied, err
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// migrationLock takes PostgreSQL's advisory lock of the migrations on a
// connection of its own; unlock releases it there and gives the connection
// back.
func migrationLock(ctx context.Context, g *gorm.DB) (unlock func(), err error) {
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7261001)`); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		// Without its context: a cancelled start still releases the lock.
		if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(7261001)`); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) // closing the session releases it
		}
		conn.Close()
	}, nil
}

func splitStatements(sql string) []string {
	var out []string
	for _, s := range strings.Split(sql, ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

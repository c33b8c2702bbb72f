package db_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"github.com/sipbridge/sipbridge/secret"
	"gorm.io/gorm"
)

func TestMigrateIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		applied, err := db.Migrate(context.Background(), g)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second migrate applied %v, err %v", applied, err)
		}
		var v int
		if err := g.Raw("SELECT max(version) FROM schema_migrations").Scan(&v).Error; err != nil {
			t.Fatal(err)
		}
		if v != db.SchemaVersion() {
			t.Fatalf("schema version %d, want %d", v, db.SchemaVersion())
		}
	})
}

func TestRotateSecrets(t *testing.T) {
	dbtest.Each(t, testRotateSecrets)
}

func testRotateSecrets(t *testing.T, g *gorm.DB) {
	ctx := context.Background()
	k1, k2 := secret.NewKey(), secret.NewKey()
	ring1, _ := secret.ParseKeyring(k1)
	s := db.NewStore(g, ring1, nil)
	org, _, err := s.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateOrg(ctx, org, db.OrgSecrets{TwilioAuthToken: "tok-123"}); err != nil {
		t.Fatal(err)
	}
	tr := &db.SIPTrunk{ID: db.NewID(), OrgID: org.ID, Name: "T", GatewayName: "o1_t", Gateway: "sip.example.com"}
	if err := s.SetTrunkPassword(tr, "pw-456"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTrunk(ctx, tr); err != nil {
		t.Fatal(err)
	}
	ring2, _ := secret.ParseKeyring(k2 + "," + k1)
	s2 := db.NewStore(g, ring2, nil)
	n, err := s2.RotateSecrets(ctx)
	if err != nil || n != 2 {
		t.Fatalf("rotated %d, err %v; want 2", n, err)
	}
	if n, _ := s2.RotateSecrets(ctx); n != 0 {
		t.Fatalf("second rotation re-sealed %d values", n)
	}
	// Only the new key is needed from now on.
	ring3, _ := secret.ParseKeyring(k2)
	s3 := db.NewStore(g, ring3, nil)
	org2, _ := s3.GetOrg(ctx, org.ID)
	sec, err := s3.OrgSecrets(org2)
	if err != nil || sec.TwilioAuthToken != "tok-123" {
		t.Fatalf("org secrets after rotation: %+v %v", sec, err)
	}
	tr2, _ := s3.GetTrunk(ctx, org.ID, tr.ID)
	if pw, err := s3.TrunkPassword(tr2); err != nil || pw != "pw-456" {
		t.Fatalf("trunk password after rotation: %q %v", pw, err)
	}
	var raw string
	g.Raw("SELECT password_enc FROM sip_trunks WHERE id = ?", tr.ID).Scan(&raw)
	if strings.Contains(raw, "pw-456") || !strings.HasPrefix(raw, "enc:v1:") {
		t.Fatalf("stored password not sealed: %q", raw)
	}
}

func TestAPIKeys(t *testing.T) {
	dbtest.Each(t, testAPIKeys)
}

func testAPIKeys(t *testing.T, g *gorm.DB) {
	ctx := context.Background()
	s := db.NewStore(g, dbtest.Keyring(t), nil)
	org, created, err := s.EnsureOrg(ctx, "acme")
	if err != nil || !created {
		t.Fatal(err, created)
	}
	if again, created, _ := s.EnsureOrg(ctx, "acme"); created || again.ID != org.ID {
		t.Fatal("EnsureOrg created a duplicate")
	}
	key, rec, err := s.CreateAPIKey(ctx, org.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 35 || !strings.HasPrefix(key, "sb_") || !strings.HasPrefix(key, rec.Prefix) {
		t.Fatalf("bad key %q prefix %q", key, rec.Prefix)
	}
	if rec.Hash == key || strings.Contains(rec.Hash, key[3:]) {
		t.Fatal("key stored in clear")
	}
	got, err := s.Authenticate(ctx, key)
	if err != nil || got.OrgID != org.ID || got.LastUsedAt == nil {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	if _, err := s.RevokeAPIKey(ctx, org.ID+1, rec.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("other org revoking: %v", err)
	}
	// The last active key stays: revoking it would lock the organization out.
	if _, err := s.RevokeAPIKey(ctx, org.ID, rec.ID); !errors.Is(err, db.ErrLastAPIKey) {
		t.Fatalf("last key revoked: %v", err)
	}
	if _, err := s.Authenticate(ctx, key); err != nil {
		t.Fatalf("refused revocation revoked the key: %v", err)
	}
	// Listed newest first, revoked ones included; another organization's not.
	other, _, _ := s.EnsureOrg(ctx, "other")
	s.CreateAPIKey(ctx, other.ID, "theirs")
	base := time.Now().UTC()
	for i, name := range []string{"deploy", "backup"} {
		s.Now = func() time.Time { return base.Add(time.Duration(i+1) * time.Minute) }
		if _, _, err := s.CreateAPIKey(ctx, org.ID, name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RevokeAPIKey(ctx, org.ID, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key); !errors.Is(err, db.ErrInvalidKey) {
		t.Fatalf("revoked key accepted: %v", err)
	}
	keys, err := s.ListAPIKeys(ctx, org.ID)
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys %+v %v", keys, err)
	}
	if keys[0].Name != "backup" || keys[1].Name != "deploy" || keys[2].Name != "ci" || keys[2].RevokedAt == nil {
		t.Fatalf("not newest first: %s %s %s", keys[0].Name, keys[1].Name, keys[2].Name)
	}
}

// What a create returns (the API's 201 body) is what later reads return,
// and a ?from= bound copied from it finds the record, on both databases
// (PostgreSQL keeps microseconds, SQLite whatever it is given).
func TestTimesReadBackAsWritten(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := db.NewStore(g, dbtest.Keyring(t), nil)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		for range 20 { // a time with sub-microsecond digits comes up quickly
			c := &db.Call{OrgID: org.ID, Direction: db.DirectionInbound, Status: db.CallRinging}
			if err := s.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetCall(ctx, org.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.StartedAt.Equal(c.StartedAt) || !got.CreatedAt.Equal(c.CreatedAt) {
				t.Fatalf("created with started_at %v, read back %v", c.StartedAt, got.StartedAt)
			}
			if _, n, _ := s.ListCalls(ctx, org.ID, db.CallFilter{From: c.StartedAt}, db.Page{Limit: 100}); n != 1 {
				t.Fatalf("from=its own started_at lists %d calls", n)
			}
			if err := s.UpdateCall(ctx, org.ID, c.ID, map[string]any{"status": db.CallCompleted}); err != nil {
				t.Fatal(err)
			}
		}
		sms, now := smsdb.New(s), time.Now().UTC()
		m, _, err := sms.EnqueueSMS(ctx, &db.SMSMessage{ID: db.NewID(), OrgID: org.ID, Direction: db.SMSOutbound, FromNumber: "+14155550100",
			ToNumber: "+14155550111", Body: "hi", Provider: "twilio", Status: db.SMSQueued, Segments: 1, Encoding: "GSM-7", NextAttemptAt: &now})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := sms.GetSMS(ctx, org.ID, m.ID); !got.CreatedAt.Equal(m.CreatedAt) {
			t.Fatalf("sms created_at %v, read back %v", m.CreatedAt, got.CreatedAt)
		}
	})
}

// Migrate's advisory lock (one migrator at a time across replicas) is
// released when it returns, whichever pooled connection took it: a lock left
// on an idle connection would block every other replica's start for as long
// as that connection lives. Several concurrent migrators all finish.
func TestMigrateReleasesItsLock(t *testing.T) {
	g := dbtest.Postgres(t)
	ctx := context.Background()
	sqlDB, err := g.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxIdleConns(8)
	// A session of its own, outside g's pool (the lock is reentrant within
	// a session).
	other, err := db.Open(os.Getenv(dbtest.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	if o, err := other.DB(); err == nil {
		o.SetMaxOpenConns(1)
		t.Cleanup(func() { o.Close() })
	}
	// Warm the pool so the lock and the unlock have other connections to land on.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); g.Exec("SELECT pg_sleep(0.02)") }()
	}
	wg.Wait()
	for round := 0; round < 5; round++ {
		done := make(chan error, 3)
		for i := 0; i < 3; i++ {
			go func() { _, err := db.Migrate(ctx, g); done <- err }()
		}
		for i := 0; i < 3; i++ {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: a migrator still waits for the lock after 10 s", round)
			}
		}
		// Another session takes the lock: other tests' migrators hold it
		// for a moment (the database is shared), a lock left behind by
		// these never lets go.
		if err := other.Exec("SET lock_timeout = '10s'").Error; err != nil {
			t.Fatal(err)
		}
		if err := other.Exec("SELECT pg_advisory_lock(7261001)").Error; err != nil {
			t.Fatalf("round %d: the migration lock is still held after Migrate returned: %v", round, err)
		}
		other.Exec("SELECT pg_advisory_unlock(7261001)")
	}
}

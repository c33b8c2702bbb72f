package db

import (
	"context"
	"time"
)

// Replica is a sipbridge replica's presence (replicas): it renews it while
// it runs; once expired, its hosted calls are no one's.
type Replica struct {
	Name      string `gorm:"primaryKey"`
	Addr      string `gorm:"not null"`
	ExpiresAt time.Time
}

func (Replica) TableName() string { return "replicas" }

// Announce records that the replica name (reachable at addr) runs, until
// now+ttl.
func (s *Store) Announce(ctx context.Context, name, addr string, now time.Time, ttl time.Duration) error {
	return Translate(s.db(ctx).Exec(`INSERT INTO replicas (name, addr, expires_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET addr = excluded.addr, expires_at = excluded.expires_at`, name, addr, now.UTC().Add(ttl)).Error)
}

// LiveReplica returns the replica's presence while it has not expired at
// now (ErrNotFound otherwise).
func (s *Store) LiveReplica(ctx context.Context, name string, now time.Time) (*Replica, error) {
	var r Replica
	if err := s.db(ctx).Where("name = ? AND expires_at >= ?", name, now.UTC()).First(&r).Error; err != nil {
		return nil, Translate(err)
	}
	return &r, nil
}

// hostedOpen are the conditions of a hosted call still ringing or in
// progress.
const hostedOpen = "status IN ? AND provider <> 'sip' AND replica = ?"

// CloseReplicaCalls closes the hosted calls the replica left open (status
// failed, the reason): a replica restarting under its name closes the ones
// its previous run held, as a single sipbridge closes them all.
func (s *Store) CloseReplicaCalls(ctx context.Context, replica, reason string) (int64, error) {
	now := s.Now()
	res := s.db(ctx).Model(&Call{}).Where(hostedOpen, []string{CallRinging, CallInProgress}, replica).
		Updates(map[string]any{"status": CallFailed, "reason": reason, "ended_at": now, "updated_at": now})
	return res.RowsAffected, Translate(res.Error)
}

// CloseDeadReplicasCalls closes the open hosted calls of every replica
// whose presence expired before now (status failed, the reason; the
// replicas pass their clock less a TTL of grace: cluster.Presence) and
// forgets those replicas; it returns how many calls were closed, by
// replica (those without any too). Each step checks again that the
// presence is still expired, so a replica that came back meanwhile keeps
// its calls.
func (s *Store) CloseDeadReplicasCalls(ctx context.Context, now time.Time, reason string) (map[string]int64, error) {
	now = now.UTC()
	var dead []string
	if err := s.db(ctx).Model(&Replica{}).Where("expires_at < ?", now).Order("name").Pluck("name", &dead).Error; err != nil {
		return nil, Translate(err)
	}
	out := map[string]int64{}
	for _, name := range dead {
		at := s.Now()
		res := s.db(ctx).Model(&Call{}).Where(hostedOpen, []string{CallRinging, CallInProgress}, name).
			Where("NOT EXISTS (SELECT 1 FROM replicas WHERE replicas.name = ? AND replicas.expires_at >= ?)", name, now).
			Updates(map[string]any{"status": CallFailed, "reason": reason, "ended_at": at, "updated_at": at})
		if res.Error != nil {
			return out, Translate(res.Error)
		}
		out[name] = res.RowsAffected
		if err := s.db(ctx).Exec(`DELETE FROM replicas WHERE name = ? AND expires_at < ?`, name, now).Error; err != nil {
			return out, Translate(err)
		}
	}
	return out, nil
}

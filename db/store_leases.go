package db

import (
	"context"
	"time"
)

// NodeLease is a replica's hold on a FreeSWITCH node (node_leases): the
// replica that holds it controls the node's calls until it expires.
type NodeLease struct {
	Node      string `gorm:"primaryKey"`
	Owner     string `gorm:"not null"`
	OwnerAddr string `gorm:"column:owner_addr;not null"`
	ExpiresAt time.Time
}

func (NodeLease) TableName() string { return "node_leases" }

// TakeLease takes the node's lease for owner (reachable at addr) until
// now+ttl, or renews it: it succeeds when the node has no lease, when owner
// holds it, or when another's has expired (before now), in one conditional
// statement, so two replicas never both succeed. false: another owner
// holds it.
func (s *Store) TakeLease(ctx context.Context, node, owner, addr string, now time.Time, ttl time.Duration) (bool, error) {
	now = now.UTC()
	res := s.db(ctx).Exec(`INSERT INTO node_leases (node, owner, owner_addr, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (node) DO UPDATE SET owner = excluded.owner, owner_addr = excluded.owner_addr, expires_at = excluded.expires_at
WHERE node_leases.owner = excluded.owner OR node_leases.expires_at < ?`, node, owner, addr, now.Add(ttl), now)
	if res.Error != nil {
		return false, Translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ReleaseLease gives up owner's lease on the node (a stopping replica), so
// another may take it at once; another owner's lease is left alone.
func (s *Store) ReleaseLease(ctx context.Context, node, owner string) error {
	return Translate(s.db(ctx).Exec(`DELETE FROM node_leases WHERE node = ? AND owner = ?`, node, owner).Error)
}

// Leases returns every node's lease, expired ones too, by node.
func (s *Store) Leases(ctx context.Context) ([]NodeLease, error) {
	var out []NodeLease
	if err := s.db(ctx).Order("node").Find(&out).Error; err != nil {
		return nil, Translate(err)
	}
	return out, nil
}

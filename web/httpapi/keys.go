package httpapi

import (
	"context"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
)

// keyCacheMax bounds the verified keys a replica keeps.
const keyCacheMax = 10000

// keyUsedEvery is how stale a key's last_used_at may be before a request
// goes to the store, which writes it (db.Store.Authenticate: at most once
// a minute per key).
const keyUsedEvery = time.Minute

// keyTables are what a key's verification reads: its row, and its
// organization's (a row going with its organization's on PostgreSQL's
// cascade is a write to api_keys too; this covers a raw one in process).
var keyTables = []string{changes.APIKeys, changes.Organizations}

// newKeyCache is the cache of verified keys on feed (nil: none).
func newKeyCache(feed *changes.Feed) *changes.Cache[db.APIKey] {
	if feed == nil {
		return nil
	}
	return changes.NewCache[db.APIKey](feed, keyCacheMax, keyTables...)
}

// Authenticate returns the live API key presented, or db.ErrInvalidKey.
//
// A key this replica verified is answered from its cache while the change
// feed shows api_keys and organizations unchanged since it was read: a
// revocation, deletion or change of hash, by this replica or (PostgreSQL)
// any other client, is refused from the next request after its commit
// (another replica's within the notification's delay). While the feed is
// not valid every request reads the database. Only verified keys are
// kept, by hash, without the hash; one whose last_used_at is a minute old
// goes to the store, which writes it without dropping any replica's
// cached keys (changes.Quiet, changes.UpdateOf).
func (s *Server) Authenticate(ctx context.Context, presented string) (*db.APIKey, error) {
	hash := db.HashAPIKey(presented)
	k, stamp, valid, ok := s.keys.Get(hash)
	if ok && k.LastUsedAt != nil && s.store.Now().Sub(*k.LastUsedAt) <= keyUsedEvery {
		return &k, nil
	}
	got, err := s.store.Authenticate(ctx, presented)
	if err != nil {
		return nil, err
	}
	k = *got
	k.Hash = ""
	if valid {
		s.keys.Put(hash, stamp, k)
	}
	return &k, nil
}

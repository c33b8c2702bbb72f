package db

import (
	"sync"
	"time"
)

// APIKeyCacheTTL is how long a replica trusts a key it verified without
// asking the database again. A revocation takes effect at once on the
// replica that made it (RevokeAPIKey drops the key from its cache) and
// within APIKeyCacheTTL on the others.
const APIKeyCacheTTL = 5 * time.Second

// apiKeyCacheMax bounds the cache: past it, expired entries go, then all.
const apiKeyCacheMax = 10000

// keyCache holds the live keys a replica verified recently, by hash. Only
// verified keys are held: an unknown or revoked key asks the database each
// time, as before.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]keyEntry
	// gen counts revocations: a lookup that started before one does not
	// store what it read, which the revocation may have made stale.
	gen uint64
}

type keyEntry struct {
	key     APIKey
	expires time.Time
}

func newKeyCache() *keyCache { return &keyCache{entries: map[string]keyEntry{}} }

// get returns the cached key with this hash if it has not expired at now,
// and the generation to pass to put after a database lookup.
func (c *keyCache) get(hash string, now time.Time) (APIKey, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if ok && now.Before(e.expires) {
		return e.key, true, c.gen
	}
	if ok {
		delete(c.entries, hash)
	}
	return APIKey{}, false, c.gen
}

// put caches k until now+APIKeyCacheTTL, unless a key was revoked since
// the lookup's get (gen).
func (c *keyCache) put(k APIKey, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= apiKeyCacheMax {
		for h, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, h)
			}
		}
		if len(c.entries) >= apiKeyCacheMax {
			clear(c.entries)
		}
	}
	c.entries[k.Hash] = keyEntry{key: k, expires: now.Add(APIKeyCacheTTL)}
}

// drop forgets a revoked key and refuses the puts of lookups under way.
func (c *keyCache) drop(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, hash)
}

package changes

import "sync"

// Cache keeps answers read from some tables, by key, while the feed shows
// those tables unchanged. It holds at most max entries: past that, stale
// entries go, then all. A nil *Cache, or one on a nil feed, keeps nothing.
//
// The key must name everything the answer depends on besides the tables'
// rows (the organization first: an entry is served only to the same key).
type Cache[V any] struct {
	feed    *Feed
	tables  []string
	max     int
	mu      sync.Mutex
	entries map[string]entry[V]
}

type entry[V any] struct {
	stamp Stamp
	v     V
}

// NewCache is a cache of answers read from tables, at most max of them.
func NewCache[V any](feed *Feed, max int, tables ...string) *Cache[V] {
	return &Cache[V]{feed: feed, tables: tables, max: max, entries: map[string]entry[V]{}}
}

// Get returns the answer kept for key if the tables are unchanged since it
// was read and the feed is valid; else ok is false and stamp, when valid,
// is what to Put the answer read next with. Take it before reading.
func (c *Cache[V]) Get(key string) (v V, stamp Stamp, valid, ok bool) {
	if c == nil {
		return v, 0, false, false
	}
	stamp, valid = c.feed.Stamp(c.tables...)
	if !valid {
		return v, 0, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.entries[key]
	if found && e.stamp == stamp {
		return e.v, stamp, true, true
	}
	return v, stamp, true, false
}

// Put keeps v, read after Get gave stamp, unless the tables changed since.
func (c *Cache[V]) Put(key string, stamp Stamp, v V) {
	if c == nil {
		return
	}
	if now, valid := c.feed.Stamp(c.tables...); !valid || now != stamp {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if e.stamp != stamp {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[key] = entry[V]{stamp: stamp, v: v}
}

// Len is the number of entries held.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

package route

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
)

// Bounds of the routing caches, per replica.
const (
	trunkCacheMax  = 4096  // trunks by gateway name or id
	orgCacheMax    = 4096  // organizations, and sets of them
	numberCacheMax = 16384 // number lists (a trunk's, one number) and owners
)

// cachedStore answers the reads of inbound routing (Decide, ActiveNumber)
// from caches on the change feed: an answer is kept with the stamp of the
// tables it read, taken before reading, and served only while the feed is
// valid and that stamp is unchanged (changes.Cache). So a write through
// any replica, committed, is in the next call's route (another replica's
// within the notification's delay), and while the feed is not valid every
// call reads the database. A number list is keyed by its organization
// first; trunks by gateway name or id, the enabled trunks and a number's
// owner are platform-wide lookups made before the organization is known.
// The answers hold no sealed secret (a trunk's password, an
// organization's secrets): routing reads neither, and a cached copy is
// never one to return. Callers must not change what they get.
type cachedStore struct {
	Store
	trunks  *changes.Cache[answer[db.SIPTrunk]]
	enabled *changes.Cache[answer[[]db.SIPTrunk]]
	orgs    *changes.Cache[answer[[]db.Organization]]
	numbers *changes.Cache[answer[[]db.PhoneNumber]]
	owners  *changes.Cache[answer[int64]]
}

// answer is a kept answer: a value, or db.ErrNotFound.
type answer[V any] struct {
	v   V
	err error
}

// cacheOn is store with inbound routing's reads cached on feed (nil
// feed: store itself).
func cacheOn(store Store, feed *changes.Feed) Store {
	if feed == nil {
		return store
	}
	// A number's row names its trunk and its assistant: the deletion of
	// either clears it, by the database's ON DELETE SET NULL too.
	numberTables := []string{changes.PhoneNumbers, changes.Assistants, changes.Trunks}
	return &cachedStore{
		Store:   store,
		trunks:  changes.NewCache[answer[db.SIPTrunk]](feed, trunkCacheMax, changes.Trunks),
		enabled: changes.NewCache[answer[[]db.SIPTrunk]](feed, 1, changes.Trunks),
		orgs:    changes.NewCache[answer[[]db.Organization]](feed, orgCacheMax, changes.Organizations),
		numbers: changes.NewCache[answer[[]db.PhoneNumber]](feed, numberCacheMax, numberTables...),
		owners:  changes.NewCache[answer[int64]](feed, numberCacheMax, numberTables...),
	}
}

// through answers key from c, or reads it and keeps the answer when it is
// a value or db.ErrNotFound (never another error).
func through[V any](c *changes.Cache[answer[V]], key string, read func() (V, error)) (V, error) {
	a, stamp, valid, ok := c.Get(key)
	if ok {
		return a.v, a.err
	}
	v, err := read()
	if valid && (err == nil || errors.Is(err, db.ErrNotFound)) {
		c.Put(key, stamp, answer[V]{v, err})
	}
	return v, err
}

func (s *cachedStore) trunk(key string, read func() (*db.SIPTrunk, error)) (*db.SIPTrunk, error) {
	t, err := through(s.trunks, key, func() (db.SIPTrunk, error) {
		t, err := read()
		if err != nil {
			return db.SIPTrunk{}, err
		}
		v := *t
		v.PasswordEnc = ""
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *cachedStore) TrunkByGatewayName(ctx context.Context, name string) (*db.SIPTrunk, error) {
	return s.trunk("gw/"+name, func() (*db.SIPTrunk, error) { return s.Store.TrunkByGatewayName(ctx, name) })
}

func (s *cachedStore) TrunkByID(ctx context.Context, id string) (*db.SIPTrunk, error) {
	return s.trunk("id/"+id, func() (*db.SIPTrunk, error) { return s.Store.TrunkByID(ctx, id) })
}

func (s *cachedStore) EnabledTrunks(ctx context.Context) ([]db.SIPTrunk, error) {
	ts, err := through(s.enabled, "", func() ([]db.SIPTrunk, error) {
		ts, err := s.Store.EnabledTrunks(ctx)
		for i := range ts {
			ts[i].PasswordEnc = ""
		}
		return ts, err
	})
	return slices.Clone(ts), err
}

func (s *cachedStore) GetOrg(ctx context.Context, id int64) (*db.Organization, error) {
	list, err := s.orgsByID(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, db.ErrNotFound
	}
	return &list[0], nil
}

func (s *cachedStore) OrgsByID(ctx context.Context, ids []int64) ([]db.Organization, error) {
	return s.orgsByID(ctx, ids)
}

// orgsByID keeps GetOrg's answer (one organization) and OrgsByID's under
// the ids asked for.
func (s *cachedStore) orgsByID(ctx context.Context, ids []int64) ([]db.Organization, error) {
	key := make([]string, len(ids))
	for i, id := range ids {
		key[i] = strconv.FormatInt(id, 10)
	}
	os, err := through(s.orgs, strings.Join(key, ","), func() ([]db.Organization, error) {
		var os []db.Organization
		if len(ids) == 1 {
			o, err := s.Store.GetOrg(ctx, ids[0])
			if err != nil {
				return nil, err
			}
			os = []db.Organization{*o}
		} else {
			var err error
			if os, err = s.Store.OrgsByID(ctx, ids); err != nil {
				return nil, err
			}
		}
		for i := range os {
			os[i].SecretsEnc = ""
		}
		return os, nil
	})
	return slices.Clone(os), err
}

// ListNumbers keeps the lists routing asks for (a trunk's active numbers,
// one active number), keyed by organization first; other lists are read.
func (s *cachedStore) ListNumbers(ctx context.Context, orgID int64, f db.NumberFilter, p db.Page) ([]db.PhoneNumber, int64, error) {
	if f.Provider != "" || f.AssistantID != "" || f.Search != "" || !p.NoTotal {
		return s.Store.ListNumbers(ctx, orgID, f, p)
	}
	active := "any"
	if f.Active != nil {
		active = strconv.FormatBool(*f.Active)
	}
	key := strings.Join([]string{strconv.FormatInt(orgID, 10), f.SIPTrunkID, f.Exact, active,
		strconv.Itoa(p.Skip), strconv.Itoa(p.Limit)}, "/")
	ns, err := through(s.numbers, key, func() ([]db.PhoneNumber, error) {
		ns, _, err := s.Store.ListNumbers(ctx, orgID, f, p)
		return ns, err
	})
	return slices.Clone(ns), -1, err
}

func (s *cachedStore) NumberOwner(ctx context.Context, e164 string) (int64, bool, error) {
	id, err := through(s.owners, e164, func() (int64, error) {
		id, ok, err := s.Store.NumberOwner(ctx, e164)
		if err == nil && !ok {
			return 0, db.ErrNotFound
		}
		return id, err
	})
	if errors.Is(err, db.ErrNotFound) {
		return 0, false, nil
	}
	return id, err == nil, err
}

package trunkapi

import "strconv"

// The trunk reads are answered from caches while the feed shows the trunks
// and their statuses unchanged (package db/changes has the rule). An entry
// is the encoded answer, kept under a key that starts with the caller's
// organization, so it is only ever served to that organization. Trunk
// views hold no secret (password_set only), so neither do the entries.

const (
	// listCacheMax bounds the list entries (a page of 100 trunks is about
	// 100 KB): at most about 25 MB.
	listCacheMax = 256
	// trunkCacheMax bounds the single-trunk entries (about 1 KB each).
	trunkCacheMax = 4096
)

// trunkList is a page of the list: the JSON array and the total.
type trunkList struct {
	body  []byte
	total int64
}

func listKey(orgID int64, skip, limit int) string {
	b := strconv.AppendInt(make([]byte, 0, 32), orgID, 10)
	b = strconv.AppendInt(append(b, '/'), int64(skip), 10)
	b = strconv.AppendInt(append(b, '/'), int64(limit), 10)
	return string(b)
}

func trunkKey(orgID int64, id string) string {
	return strconv.FormatInt(orgID, 10) + "/" + id
}

// nodesKey adds the per-node state's version to a cache key: that state
// lives in the reconciler, not in the tables the feed watches.
func (s *Server) nodesKey(key string) string {
	if s.nodes == nil {
		return key
	}
	return key + "/n" + strconv.FormatUint(s.nodes.NodesVersion(), 10)
}

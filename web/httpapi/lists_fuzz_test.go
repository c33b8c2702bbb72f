package httpapi

import (
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

var fuzzLinkPart = regexp.MustCompile(`^<([^<>"\s]*)>; rel="(prev|next|last|first)"$`)

// FuzzPageLinks: whatever query string a list request carries, the Link
// header is well formed (<url>; rel="…", each rel once), every URL keeps the
// request's other query parameters unchanged and sets skip and limit, next
// follows the page and prev precedes it, last is on next's sequence and
// within the list.
func FuzzPageLinks(f *testing.F) {
	f.Add("status=completed&from=2026-12-01", 20, 20, int64(57))
	f.Add("q=a%20b&q=c&provider=twilio", 0, 1, int64(3))
	f.Add("x=%3E%3C%22%2C%3B", 9, 7, int64(10))
	f.Add("", 1<<62, 500, int64(1<<62))
	f.Fuzz(func(t *testing.T, rawQuery string, skip, limit int, total int64) {
		if skip < 0 || limit < 1 || limit > 500 || total < 0 {
			return // page() refuses these
		}
		orig, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		req := httptest.NewRequest("GET", "/api/v1/calls", nil)
		req.URL.RawQuery = rawQuery
		c := echo.New().NewContext(req, httptest.NewRecorder())
		h := pageLinks(c, total, skip, limit)
		rels := map[string]int64{}
		for _, part := range strings.Split(h, ", ") {
			if h == "" {
				break
			}
			m := fuzzLinkPart.FindStringSubmatch(part)
			if m == nil {
				t.Fatalf("malformed part %q of %q", part, h)
			}
			if _, dup := rels[m[2]]; dup {
				t.Fatalf("rel %s twice: %q", m[2], h)
			}
			u, err := url.Parse(m[1])
			if err != nil || u.Path != "/api/v1/calls" || u.Host != req.Host {
				t.Fatalf("link %q: %v", m[1], err)
			}
			q := u.Query()
			at, err := strconv.ParseInt(q.Get("skip"), 10, 64)
			if err != nil || at < 0 || q.Get("limit") != strconv.Itoa(limit) {
				t.Fatalf("link %q: skip/limit", m[1])
			}
			for k, v := range orig {
				if k != "skip" && k != "limit" && !reflect.DeepEqual(q[k], v) {
					t.Fatalf("link %q lost %s=%v", m[1], k, v)
				}
			}
			rels[m[2]] = at
		}
		s, l := int64(skip), int64(limit)
		next, hasNext := rels["next"]
		if hasNext != (s+l < total) || (hasNext && next != s+l) {
			t.Fatalf("skip %d limit %d total %d: next %v in %q", skip, limit, total, hasNext, h)
		}
		if last, ok := rels["last"]; ok != hasNext || (ok && (last < next || last >= total || (last-s)%l != 0)) {
			t.Fatalf("skip %d limit %d total %d: last in %q", skip, limit, total, h)
		}
		prev, hasPrev := rels["prev"]
		if hasPrev != (s > 0) || (hasPrev && (prev >= s || prev < s-l)) {
			t.Fatalf("skip %d limit %d: prev in %q", skip, limit, h)
		}
		if first, ok := rels["first"]; ok != hasPrev || (ok && first != 0) {
			t.Fatalf("first in %q", h)
		}
	})
}

package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

const (
	cookieName    = "sb_console"
	preCookieName = "sb_console_signin"
	cookiePath    = "/console"
)

// session is one signed-in browser. Sessions live in this process's memory
// only: a restart signs everyone out, and with several instances behind a
// balancer a browser must stick to one. The cookie holds the random id
// only; the API key itself is never kept, only which key signed in (its
// revocation ends the session).
type session struct {
	id       string
	csrf     string
	orgID    int64
	orgName  string
	keyID    string
	created  time.Time
	lastSeen time.Time
}

// sessions is the server-side session table.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	idle time.Duration // since the last request
	max  time.Duration // since sign-in
	now  func() time.Time
}

func newSessions(idle, max time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, idle: idle, max: max, now: now}
}

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for an authenticated key.
func (ss *sessions) create(k *db.APIKey, orgName string) *session {
	now := ss.now()
	s := &session{id: randomToken(), csrf: randomToken(), orgID: k.OrgID, orgName: orgName, keyID: k.ID, created: now, lastSeen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweep(now)
	ss.m[s.id] = s
	return s
}

// get returns the live session of id; touch counts the request as activity
// (page views and form posts do; the live-update stream does not, so an
// open tab left alone still expires).
func (ss *sessions) get(id string, touch bool) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil, false
	}
	now := ss.now()
	if ss.expired(s, now) {
		delete(ss.m, id)
		return nil, false
	}
	if touch {
		s.lastSeen = now
	}
	cp := *s
	return &cp, true
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.lastSeen) >= ss.idle || now.Sub(s.created) >= ss.max
}

// sweep drops expired sessions (called under mu).
func (ss *sessions) sweep(now time.Time) {
	for id, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, id)
		}
	}
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

// count is the number of sessions held (tests).
func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// secure reports whether the browser reached us over https (directly or
// through a proxy saying so), when cookies get the Secure flag.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

// sameToken compares two tokens in constant time; empty never matches.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// keyActive reports whether the key that signed the session in is still
// unrevoked: revoking it ends the session at its next request.
func keyActive(ctx context.Context, store *db.Store, orgID int64, keyID string) (bool, error) {
	keys, err := store.ListAPIKeys(ctx, orgID)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if k.ID == keyID {
			return k.RevokedAt == nil, nil
		}
	}
	return false, nil
}

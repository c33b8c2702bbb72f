package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSignInSetsASessionCookieOnly(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		b := e.browser()
		b.get("/console/signin")
		resp, body := b.post("/console/signin", url.Values{"api_key": {"sb_not_a_key"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a wrong key: %d", resp.StatusCode)
		}
		mustContain(t, body, "api_key: invalid or revoked API key")

		resp, _ = b.post("/console/signin", url.Values{"api_key": {e.keyA}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "sb_console" {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/console" {
			t.Fatalf("session cookie over http: %+v", ck)
		}
		if strings.Contains(ck.Value, e.keyA) || strings.Contains(ck.Value, strings.TrimPrefix(e.keyA, "sb_")[:8]) {
			t.Fatal("the cookie carries the API key")
		}
		_, body = b.get("/console/trunks")
		mustContain(t, body, `id="org">Acme<`)
	})
}

func TestSecureCookieBehindHTTPSProxy(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		b := e.browser()
		b.get("/console/signin")
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/console/signin",
			strings.NewReader(url.Values{"api_key": {e.keyA}, "csrf": {b.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-Proto", "https")
		for _, c := range b.c.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == "sb_console" && !c.Secure {
				t.Fatalf("session cookie without Secure behind an https proxy: %+v", c)
			}
		}
	})
}

func TestEveryPostNeedsTheCSRFToken(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		b := e.browser()
		// The sign-in form too: no token, or another browser's, is refused.
		b.get("/console/signin")
		if resp, _ := b.post("/console/signin", url.Values{"api_key": {e.keyA}, "csrf": {""}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("sign-in without the token: %d", resp.StatusCode)
		}
		b.signIn(e.keyA)
		good := b.csrf
		// Another token: its first character changed (never to itself: a
		// token starting with "x" once made "x"+good[1:] the good one).
		forged := "x"
		if good[0] == 'x' {
			forged = "y"
		}
		for _, bad := range []string{"", forged + good[1:]} {
			resp, _ := b.post("/console/trunks", url.Values{"csrf": {bad}, "name": {"T"}, "gateway": {"203.0.113.10"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("create with csrf %q: %d", bad, resp.StatusCode)
			}
			if resp, _ := b.post("/console/signout", url.Values{"csrf": {bad}}); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("sign-out with csrf %q: %d", bad, resp.StatusCode)
			}
		}
		items, _, _ := e.store.ListTrunks(context.Background(), e.orgA, dbPage())
		if len(items) != 0 {
			t.Fatalf("a refused post wrote %d trunk(s)", len(items))
		}
		// Another session's token is not this one's.
		other := e.browser()
		other.signIn(e.keyA)
		if resp, _ := b.post("/console/signout", url.Values{"csrf": {other.csrf}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("sign-out with another session's token: %d", resp.StatusCode)
		}
	})
}

func TestSignOutEndsTheSession(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn(e.keyA)
		u, _ := url.Parse(e.srv.URL + "/console/")
		stolen := b.c.Jar.Cookies(u)
		if resp, _ := b.post("/console/signout", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", resp.StatusCode)
		}
		// The old cookie, replayed, is worth nothing.
		replay := e.browser()
		replay.c.Jar.SetCookies(u, stolen)
		resp, _ := replay.get("/console/trunks")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin" {
			t.Fatalf("a signed-out cookie: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

func TestSessionsExpire(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		signedOut := func(b *browser) bool {
			resp, _ := b.get("/console/trunks")
			return resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/console/signin"
		}
		// Idle: a request within the idle time keeps it alive; none ends it.
		b := e.browser()
		b.signIn(e.keyA)
		e.clock.Advance(idle - time.Minute)
		if signedOut(b) {
			t.Fatal("signed out before the idle timeout")
		}
		e.clock.Advance(idle - time.Minute)
		if signedOut(b) {
			t.Fatal("activity did not keep the session alive")
		}
		e.clock.Advance(idle)
		if !signedOut(b) {
			t.Fatal("still signed in after the idle timeout")
		}
		// Absolute: however active, the session ends maxAge after sign-in.
		b = e.browser()
		b.signIn(e.keyA)
		for i := 0; i < int(maxAge/(idle/2)); i++ {
			e.clock.Advance(idle / 2)
			if i < int(maxAge/(idle/2))-1 && signedOut(b) {
				t.Fatalf("signed out after %v of activity", time.Duration(i+1)*idle/2)
			}
		}
		if !signedOut(b) {
			t.Fatal("still signed in after the session's maximum age")
		}
	})
}

func TestRevokingTheKeyEndsItsSessions(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		// The organization's last active key cannot be revoked: a second one signs in.
		key2, k2, err := e.store.CreateAPIKey(context.Background(), e.orgA, "console")
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.signIn(key2)
		if _, err := e.store.RevokeAPIKey(context.Background(), e.orgA, k2.ID); err != nil {
			t.Fatal(err)
		}
		if resp, _ := b.get("/console/trunks"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("a revoked key's session: %d", resp.StatusCode)
		}
		b.get("/console/signin")
		if resp, _ := b.post("/console/signin", url.Values{"api_key": {key2}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("sign-in with a revoked key: %d", resp.StatusCode)
		}
	})
}

func TestSigningInAgainReplacesTheSession(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn(e.keyA)
		u, _ := url.Parse(e.srv.URL + "/console/")
		first := b.c.Jar.Cookies(u)
		b.signIn(e.keyB)
		_, body := b.get("/console/trunks")
		mustContain(t, body, `id="org">Globex<`)
		replay := e.browser()
		replay.c.Jar.SetCookies(u, first)
		if resp, _ := replay.get("/console/trunks"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the replaced session still works: %d", resp.StatusCode)
		}
	})
}

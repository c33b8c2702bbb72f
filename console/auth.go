package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/sipbridge/sipbridge/db"
)

type signinData struct {
	Error string
}

// signinPage shows the form; its CSRF token is a cookie of its own (no
// session exists yet) matched against the form's hidden field.
func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.showSignin(w, r, http.StatusOK, "")
}

func (c *Console) showSignin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := randomToken()
	setCookie(w, r, preCookieName, tok, 600)
	c.render(w, status, "signin", "", view{Title: "Sign in", CSRF: tok, D: signinData{Error: msg}})
}

// signin turns an API key into a session: the same keys, and the same
// organization, as the API's Bearer authentication.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	pre, err := r.Cookie(preCookieName)
	if err != nil || !sameToken(r.PostFormValue("csrf"), pre.Value) {
		http.Error(w, "invalid or missing CSRF token: reload the sign-in page and try again", http.StatusForbidden)
		return
	}
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	if key == "" {
		c.showSignin(w, r, http.StatusBadRequest, "api_key: enter one of your organization's API keys (sb_…)")
		return
	}
	k, err := c.d.Store.Authenticate(r.Context(), key)
	if errors.Is(err, db.ErrInvalidKey) {
		c.log.Info("console sign-in refused", "reason", "invalid or revoked API key")
		c.showSignin(w, r, http.StatusUnauthorized, "api_key: invalid or revoked API key")
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	org, err := c.d.Store.GetOrg(r.Context(), k.OrgID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if old, err := r.Cookie(cookieName); err == nil {
		c.ss.delete(old.Value) // a sign-in always starts a new session
	}
	s := c.ss.create(k, org.Name)
	setCookie(w, r, preCookieName, "", -1)
	setCookie(w, r, cookieName, s.id, 0)
	c.log.Info("console signed in", "org_id", k.OrgID)
	http.Redirect(w, r, "/console/trunks", http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request, s *session) {
	c.ss.delete(s.id)
	setCookie(w, r, cookieName, "", -1)
	c.log.Info("console signed out", "org_id", s.orgID)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

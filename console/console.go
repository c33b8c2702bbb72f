// Package console is the operator console served at /console: an
// organization signs in with one of its API keys and sees its trunks (live
// gateway state, create and edit under the API's rules, the generated
// gateway XML), its calls (live, recent, timelines, refusals; hang-up and
// transfer), numbers, assistants, messages and the switch. Pages are
// server-rendered html/template with embedded assets and plain JavaScript;
// live parts update over server-sent events.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/sipbridge/sipbridge/creds"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
	"github.com/sipbridge/sipbridge/web/numberapi"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

//go:embed assets
var assets embed.FS

// CallControl is all the console asks of call control: the one seam to
// rewire when call control moves.
type CallControl interface {
	Hangup(ctx context.Context, orgID int64, callID string) error
	Transfer(ctx context.Context, orgID int64, callID, to, mode string) error
}

// TrunkEditor writes trunks under the API's rules (*trunkapi.Editor).
type TrunkEditor interface {
	Create(ctx context.Context, orgID int64, in *trunkapi.Input) (*db.SIPTrunk, error)
	Update(ctx context.Context, orgID int64, id string, in *trunkapi.Input) (*db.SIPTrunk, error)
	SetEnabled(ctx context.Context, orgID int64, id string, enabled bool) (*db.SIPTrunk, error)
}

// NumberAssigner assigns numbers under the API's rules (*numberapi.Editor).
type NumberAssigner interface {
	Assign(ctx context.Context, orgID int64, id string, a numberapi.Assignment) (*db.PhoneNumber, error)
}

// GatewayRenderer renders trunks as the reconciler would (*trunk.Sync).
type GatewayRenderer interface {
	Render(ctx context.Context, trunks []db.SIPTrunk) (map[string][]byte, map[string]string, error)
}

// SwitchAPI runs a FreeSWITCH api command (the Event Socket).
type SwitchAPI interface {
	API(ctx context.Context, cmd string) (string, error)
}

// Deps are the console's collaborators; Store, Trunks, Numbers and Calls
// are required.
type Deps struct {
	Store   *db.Store
	Log     *slog.Logger
	Trunks  TrunkEditor
	Numbers NumberAssigner
	Calls   CallControl
	// Render shows a trunk's gateway XML (nil: not shown, no switch).
	Render GatewayRenderer
	// Switch and Profile make the Switch page (nil: "no switch configured").
	Switch  SwitchAPI
	Profile string
	// Webhooks gives the provider webhooks sipbridge points a provider's
	// numbers at (nil: not shown).
	Webhooks func(provider string) (voice, sms string, err error)
	// Creds resolves assistants' providers (resolved_provider).
	Creds *creds.Resolver
	// IdleTimeout and MaxAge end sessions (zero: 30 minutes and 12 hours).
	IdleTimeout, MaxAge time.Duration
	// Tick is how often live pages re-read the store (zero: 1 s).
	Tick time.Duration
	// Now is the sessions' clock (nil: time.Now).
	Now func() time.Time
	// Stop is closed when the bridge stops: live-update streams end, so
	// that the HTTP server's shutdown does not wait for them.
	Stop <-chan struct{}
}

// Console serves /console.
type Console struct {
	d     Deps
	log   *slog.Logger
	ss    *sessions
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds the console.
func New(d Deps) *Console {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = 30 * time.Minute
	}
	if d.MaxAge <= 0 {
		d.MaxAge = 12 * time.Hour
	}
	if d.Tick <= 0 {
		d.Tick = time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	c := &Console{d: d, log: d.Log.With("component", "console"), ss: newSessions(d.IdleTimeout, d.MaxAge, d.Now)}
	c.pages = parsePages()
	c.routes()
	return c
}

// Handler serves every path under /console.
func (c *Console) Handler() http.Handler { return c.mux }

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /console/signin", c.signinPage)
	m.HandleFunc("POST /console/signin", c.signin)
	m.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/trunks", http.StatusSeeOther)
	})
	m.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/trunks", http.StatusSeeOther)
	})
	auth := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		m.HandleFunc(pattern, c.authed(h))
	}
	auth("POST /console/signout", c.signout)
	auth("GET /console/events", c.events)
	auth("GET /console/trunks", c.trunksPage)
	auth("GET /console/trunks/new", c.trunkNew)
	auth("POST /console/trunks", c.trunkCreate)
	auth("GET /console/trunks/{id}", c.trunkPage)
	auth("POST /console/trunks/{id}", c.trunkUpdate)
	auth("POST /console/trunks/{id}/enable", c.trunkEnable)
	auth("POST /console/trunks/{id}/disable", c.trunkDisable)
	auth("GET /console/calls", c.callsPage)
	auth("GET /console/calls/{id}", c.callPage)
	auth("GET /console/calls/{id}/recording", c.callRecording)
	auth("POST /console/calls/{id}/hangup", c.callHangup)
	auth("POST /console/calls/{id}/transfer", c.callTransfer)
	auth("GET /console/numbers", c.numbersPage)
	auth("POST /console/numbers/{id}", c.numberAssign)
	auth("GET /console/assistants", c.assistantsPage)
	auth("GET /console/messages", c.messagesPage)
	auth("GET /console/switch", c.switchPage)
	c.mux = m
}

// authed runs h for a signed-in browser: the session cookie names a live
// session whose API key is still active, and every POST carries the
// session's CSRF token. Anything else goes to the sign-in page.
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		stream := r.URL.Path == "/console/events"
		ck, err := r.Cookie(cookieName)
		var s *session
		ok := err == nil
		if ok {
			s, ok = c.ss.get(ck.Value, !stream)
		}
		if ok {
			active, err := keyActive(r.Context(), c.d.Store, s.orgID, s.keyID)
			if err != nil {
				c.fail(w, r, err)
				return
			}
			if !active {
				c.ss.delete(s.id)
				ok = false
			}
		}
		if !ok {
			if stream || r.Method != http.MethodGet {
				http.Error(w, "signed out: sign in again at /console/signin", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue("csrf"), s.csrf) {
			http.Error(w, "invalid or missing CSRF token: reload the page and try again", http.StatusForbidden)
			return
		}
		h(w, r, s)
	}
}

// fail answers an unexpected error (logged, never shown in detail).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, db.ErrNotFound) {
		c.notFound(w)
		return
	}
	c.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err.Error())
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// apiError is err as the API would answer it, when it is a refusal (4xx).
func apiError(err error) *httpapi.APIError {
	var ae *httpapi.APIError
	if errors.As(err, &ae) && ae.Status < 500 {
		return ae
	}
	return nil
}

func (c *Console) notFound(w http.ResponseWriter) {
	http.Error(w, "not found", http.StatusNotFound)
}

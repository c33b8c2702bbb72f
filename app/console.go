package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/console"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// buildConsole serves the operator console at /console on the same server.
func (a *App) buildConsole() {
	cd := console.Deps{Store: a.Store, Log: a.log, Trunks: a.Web.Trunks, Numbers: a.Web.Numbers, Calls: liveCalls{store: a.Store, paths: call.Chooser{SIP: a.Calls, Hosted: hostedCalls{a.Hosted, a}}},
		Creds: a.Numbers.Creds(), Webhooks: a.Numbers.WebhookURLs, Stop: a.ctx.Done()}
	if a.TrunkSync != nil {
		cd.Render, cd.Switch, cd.Profile = a.TrunkSync, a.Cmd, a.cfg.Switch.Profile
		if cd.Profile == "" {
			cd.Profile = "external" // trunk sync's default
		}
	}
	if a.cfg.ConsoleOptions != nil {
		a.cfg.ConsoleOptions(&cd)
	}
	a.Console = console.New(cd)
	h := echo.WrapHandler(a.Console.Handler())
	a.Web.Handle(httpapi.Operation{Method: http.MethodGet, Path: "/console", Summary: "The operator console (HTML pages under /console/…, signed in with an API key)",
		Tag: "console", Raw: "text/html"}, h)
	a.Web.Echo().Any("/console/*", h)
}

// liveCalls is the console's call control, as the calls API reaches it:
// the call's record names its path (call.Chooser), asked once.
type liveCalls struct {
	store *db.Store
	paths call.Chooser
}

func (l liveCalls) record(ctx context.Context, orgID int64, callID string) (*db.Call, error) {
	rec, err := l.store.GetCall(ctx, orgID, callID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, call.ErrCallNotFound
	}
	return rec, err
}

func (l liveCalls) Hangup(ctx context.Context, orgID int64, callID string) error {
	rec, err := l.record(ctx, orgID, callID)
	if err != nil {
		return err
	}
	return l.paths.Hangup(ctx, orgID, rec)
}

func (l liveCalls) Transfer(ctx context.Context, orgID int64, callID, to, mode string) error {
	rec, err := l.record(ctx, orgID, callID)
	if err != nil {
		return err
	}
	return l.paths.Transfer(ctx, orgID, rec, to, call.TransferMode(mode))
}

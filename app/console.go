package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/console"
	"github.com/sipbridge/sipbridge/controller"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// buildConsole serves the operator console at /console on the same server.
func (a *App) buildConsole() {
	cd := console.Deps{Store: a.Store, Log: a.log, Trunks: a.Web.Trunks, Calls: liveCalls{a.Calls, a.Hosted},
		Creds: a.Numbers.Creds(), Stop: a.ctx.Done()}
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

// liveCalls is the console's call control, as the calls API reaches it: a
// call SIP call control does not hold may be the hosted path's.
type liveCalls struct {
	sip    *controller.Calls
	hosted *controller.Hosted
}

func (l liveCalls) Hangup(ctx context.Context, orgID int64, callID string) error {
	err := l.sip.Hangup(ctx, orgID, callID)
	if errors.Is(err, controller.ErrCallNotFound) {
		return l.hosted.Hangup(ctx, orgID, callID)
	}
	return err
}

func (l liveCalls) Transfer(ctx context.Context, orgID int64, callID, to, mode string) error {
	err := l.sip.Transfer(ctx, orgID, callID, to, mode)
	if errors.Is(err, controller.ErrCallNotFound) {
		return l.hosted.Transfer(ctx, orgID, callID, to)
	}
	return err
}

package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// internalCallPath is where a replica asks another to hang up or transfer
// a live call that one holds (POST …/{id}/hangup, …/{id}/transfer), signed
// by the asking replica (cluster.SignatureHeader), never by the caller's
// credentials: the API's, the console's and the Twilio-compatible route's
// requests all come this way.
const internalCallPath = "/internal/v1/calls/"

// deadReplicaReason is the end reason of a hosted call whose replica's
// presence expired.
const deadReplicaReason = "the sipbridge replica holding the call stopped"

// buildReplicaAPI signs this replica's requests to the others and answers
// theirs (Config.Replica set; the key derives from SECRET_KEY, which every
// replica shares).
func (a *App) buildReplicaAPI() {
	r := a.cfg.Replica
	if r == nil {
		return
	}
	a.signer = cluster.NewSigner(a.Store.Keys.Derive(cluster.SigningPurpose), r.Name, nil)
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	a.forwarder = &forwarder{store: a.Store, me: r.Name, client: client, signer: a.signer}
	a.presence = cluster.NewPresence(a.Store, cluster.PresenceOptions{Name: r.Name, Addr: r.Addr, TTL: r.TTL, Renew: r.Renew,
		Reason: deadReplicaReason, Log: a.log.With("component", "replicas")})
	a.Web.Echo().POST(internalCallPath+":id/:op", a.replicaCallRequest)
}

// replicaCallRequest answers another replica's hangup or transfer of a
// live call: only with a valid signature (401 without one, 403 for a bad,
// stale or replayed one: nothing done), for the signature's organization
// (another organization's call: 404), here only (never forwarded again).
// The answer is the calls API's, for the asking replica to pass on.
func (a *App) replicaCallRequest(c echo.Context) error {
	r := c.Request()
	if !replicaAddressAllowed(r.RemoteAddr, a.cfg.Replica.AllowFrom) {
		a.log.Warn("replica request refused", "component", "replicas", "path", r.URL.Path, "remote", r.RemoteAddr,
			"reason", "address not loopback, private or in REPLICA_ALLOW_FROM")
		return &httpapi.APIError{Status: http.StatusForbidden, Code: "forbidden", Message: "address not loopback, private or in REPLICA_ALLOW_FROM"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return err
	}
	sig, err := a.signer.Verify(r.Method, r.URL.EscapedPath(), body, r.Header.Get(cluster.SignatureHeader))
	if err != nil {
		a.log.Warn("replica request refused", "component", "replicas", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
		if errors.Is(err, cluster.ErrUnsigned) {
			return &httpapi.APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: err.Error()}
		}
		return &httpapi.APIError{Status: http.StatusForbidden, Code: "forbidden", Message: err.Error()}
	}
	ctx := r.Context()
	rec, err := a.Store.GetCall(ctx, sig.Org, c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.NotFound("call")
	} else if err != nil {
		return err
	}
	paths := call.Chooser{SIP: a.Calls.Here(), Hosted: a.Hosted}
	a.log.Info("call request from another replica", "component", "replicas", "call_id", rec.ID, "org_id", sig.Org, "by", sig.By, "action", c.Param("op"))
	switch c.Param("op") {
	case "hangup":
		err = paths.Hangup(ctx, sig.Org, rec)
	case "transfer":
		var in struct{ To, Mode string }
		if json.Unmarshal(body, &in) != nil || in.To == "" {
			return httpapi.Invalid("to", "to (a sip: URI or an E.164 number) is required")
		}
		if !call.TransferMode(in.Mode).Known() {
			return httpapi.Invalid("mode", "mode must be a known transfer mode")
		}
		err = paths.Transfer(ctx, sig.Org, rec, in.To, call.TransferMode(in.Mode))
	default:
		return httpapi.NotFound("route")
	}
	if err != nil {
		return httpapi.ErrorIn(err, liveCallWording)
	}
	return c.JSON(http.StatusAccepted, map[string]string{"message": c.Param("op") + " requested", "call_id": rec.ID})
}

// liveCallWording is the calls API's: a transfer's destination is "to".
var liveCallWording = httpapi.Wording{Fields: map[string]string{"to_phone_number": "to"}}

// startPresence, at a replica's start, closes the hosted calls its previous
// run under the same name left open, then announces it (before it serves
// any request: its new calls are never taken for the previous run's;
// tried again every half second for up to a TTL while the database does
// not answer) and keeps announcing it while closing the hosted calls of
// the replicas whose presence expired.
func (a *App) startPresence() {
	if a.presence == nil {
		return
	}
	if n, err := a.Store.CloseReplicaCalls(a.ctx, a.cfg.Replica.Name, "sipbridge restarted while the call was live"); err != nil {
		a.log.Warn("closing hosted calls left open by this replica's previous run", "err", err)
	} else if n > 0 {
		a.log.Warn("closed hosted calls left open by this replica's previous run", "calls", n)
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.presence.TTL())
	for !a.presence.Announce(ctx) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	cancel()
	a.wg.Add(1)
	go func() { defer a.wg.Done(); a.presence.Run(a.ctx) }()
}

// hostedCalls is the hosted path as the API and the console reach it: a
// hosted call another replica holds in its memory is asked of that one
// (forwarder). Another replica's request is answered by the path itself
// (replicaCallRequest): never forwarded again.
type hostedCalls struct {
	*hosted.Path
	a *App
}

func (h hostedCalls) Hangup(ctx context.Context, orgID int64, callID string) error {
	err := h.Path.Hangup(ctx, orgID, callID)
	if errors.Is(err, call.ErrCallNotFound) && h.a.forwarder != nil {
		return h.a.forwarder.Hangup(ctx, orgID, callID)
	}
	return err
}

func (h hostedCalls) Transfer(ctx context.Context, orgID int64, callID, to string, mode call.TransferMode) error {
	err := h.Path.Transfer(ctx, orgID, callID, to, mode)
	if errors.Is(err, call.ErrCallNotFound) && h.a.forwarder != nil {
		return h.a.forwarder.Transfer(ctx, orgID, callID, to, mode)
	}
	return err
}

// replicaAddressAllowed: another replica's request comes from a loopback
// or private address, or one of allow (REPLICA_ALLOW_FROM); the signature
// is checked after.
func replicaAddressAllowed(remote string, allow []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && netpolicy.InsideAddr(ap.Addr(), allow)
}

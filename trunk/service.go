// Package trunk owns SIP trunks: the service the API, BYOC numbers and the
// organization's default trunk go through (naming, change notification,
// the environment-level trunk), and the reconciler that turns trunk
// records into FreeSWITCH gateways and ACL lists (plan, apply, status).
package trunk

import (
	"context"
	"log/slog"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// Service is the trunk service the API talks to: it names gateways and hears about trunk changes, which it hands to the reconciler.
type Service struct {
	store   *db.Store
	log     *slog.Logger
	changed chan struct{}
	sync    *Sync // nil when no FreeSWITCH is attached
	env     Env   // the environment-level SIP trunk (WithEnvironment)
}

// New returns the trunk service.
func New(store *db.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, log: log, changed: make(chan struct{}, 1)}
}

// GatewayName picks a FreeSWITCH gateway name for a trunk of orgID that no
// other trunk uses, readable in fs_cli: o12_zadarma_main.
func (t *Service) GatewayName(ctx context.Context, orgID int64, trunkName, exceptID string) (string, error) {
	var qerr error
	taken := func(name string) bool {
		if qerr != nil {
			return true
		}
		used, err := t.store.GatewayNameTaken(ctx, name, exceptID)
		if err != nil {
			qerr = err
			return true
		}
		return used
	}
	name := xmlgen.GatewayName(orgID, trunkName, taken)
	return name, qerr
}

// Changed records that an organization's trunks changed; the reconciler
// picks it up (coalescing bursts of writes into one pass).
func (t *Service) Changed(orgID int64) {
	select {
	case t.changed <- struct{}{}:
	default: // a pass is already pending; it will read the latest state
	}
	t.log.Debug("trunks changed", "org_id", orgID)
}

// ChangedC is signalled after trunk writes.
func (t *Service) ChangedC() <-chan struct{} { return t.changed }

// WithSync attaches the reconciler (for targeted refreshes); call before serving.
func (t *Service) WithSync(s *Sync) *Service {
	t.sync = s
	return t
}

// Refresh asks the reconciler to re-apply these gateways (killgw + rescan).
func (t *Service) Refresh(gateways ...string) {
	if t.sync != nil {
		t.sync.Refresh(gateways...)
	}
}

// Package controller holds the reconcilers and call control of sipbridge:
// trunk sync to FreeSWITCH, inbound routing, outbound calls, transfers,
// recordings and the cron jobs.
package controller

import (
	"context"
	"log/slog"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// Trunks is the trunk side of the controller the API talks to: it names
// gateways and hears about trunk changes, which it hands to the reconciler.
type Trunks struct {
	store   *db.Store
	log     *slog.Logger
	changed chan struct{}
	sync    *TrunkSync // nil when no FreeSWITCH is attached
	env     EnvTrunk   // the environment-level SIP trunk (WithEnvironment)
}

// NewTrunks returns the trunk service.
func NewTrunks(store *db.Store, log *slog.Logger) *Trunks {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Trunks{store: store, log: log, changed: make(chan struct{}, 1)}
}

// GatewayName picks a FreeSWITCH gateway name for a trunk of orgID that no
// other trunk uses, readable in fs_cli: o12_zadarma_main.
func (t *Trunks) GatewayName(ctx context.Context, orgID int64, trunkName, exceptID string) (string, error) {
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
func (t *Trunks) Changed(orgID int64) {
	select {
	case t.changed <- struct{}{}:
	default: // a pass is already pending; it will read the latest state
	}
	t.log.Debug("trunks changed", "org_id", orgID)
}

// ChangedC is signalled after trunk writes.
func (t *Trunks) ChangedC() <-chan struct{} { return t.changed }

// WithSync attaches the reconciler (for targeted refreshes); call before serving.
func (t *Trunks) WithSync(s *TrunkSync) *Trunks {
	t.sync = s
	return t
}

// Refresh asks the reconciler to re-apply these gateways (killgw + rescan).
func (t *Trunks) Refresh(gateways ...string) {
	if t.sync != nil {
		t.sync.Refresh(gateways...)
	}
}

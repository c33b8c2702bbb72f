package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/trunk"
)

// Start closes the hosted calls a previous run left open (with replicas:
// this replica's previous run's, and it announces its presence), connects to the
// switch (the connections retry on their own) and adopts the SIP calls the
// previous run left on its nodes (adoptCalls; with replicas, the replica
// that takes a node's lease adopts its calls: nodeGained), and starts the
// background work: trunk sync's reconcile loop and the SMS queue and
// forwarding workers.
func (a *App) Start() error {
	// With replicas the open records may be other replicas' live calls:
	// each closes its own previous run's hosted ones (startPresence), and
	// the SIP ones are adopted with their node's lease.
	if a.Leases == nil && a.presence == nil {
		providers := []string{provider.NameTwilio, provider.NameTelnyx, provider.NameVonage}
		if a.cfg.Switch == nil {
			providers = nil // no switch to adopt SIP calls from: close them too
		}
		if n, err := a.Store.CloseOrphanCalls(a.ctx, "sipbridge restarted while the call was live", providers...); err != nil {
			a.log.Warn("closing calls left open by a previous run", "err", err)
		} else if n > 0 {
			a.log.Warn("closed calls left open by a previous run", "calls", n)
		}
	}
	a.startPresence()
	var adopting sync.WaitGroup
	if a.cfg.Switch != nil && a.Leases == nil {
		for _, cn := range a.CallNodes {
			a.wg.Add(1)
			adopting.Add(1)
			go func() { defer a.wg.Done(); defer adopting.Done(); a.adoptCalls(cn) }()
		}
	}
	go func() { adopting.Wait(); close(a.adopted) }()
	if a.cfg.Switch != nil {
		if err := a.Pool.Start(a.ctx); err != nil {
			return err
		}
		if err := a.Cmd.Start(a.ctx); err != nil {
			return err
		}
		if err := a.Events.Start(a.ctx); err != nil {
			return err
		}
		for _, c := range a.NodeConns {
			if err := c.Start(a.ctx); err != nil {
				return err
			}
		}
		if err := a.startCallNodes(); err != nil {
			return err
		}
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.watchSwitch(a.ctx) }()
	}
	if a.cfg.Switch != nil && !a.cfg.ManualSync {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			err := a.TrunkSync.Run(a.ctx, trunk.RunOptions{Changed: a.Trunks.ChangedC(), Every: a.cfg.SyncInterval, Ready: a.syncReady})
			if err != nil {
				a.log.Error("trunk sync stopped", "err", err)
			}
		}()
	}
	a.wg.Add(1)
	go func() { defer a.wg.Done(); a.SMS.Run(a.ctx) }()
	return nil
}

// adoptCalls, once the node's call connections are up, takes over the
// SIP calls a previous run left open on it: the answered ones go on with
// their assistant, the others are hung up and closed. A record of another
// node (its node column, or for a record older than the column: its
// channel exists on another node, or that node cannot be asked) is left
// to that node's controller.
func (a *App) adoptCalls(cn *CallNode) {
	if waitFor(a.ctx, 50*time.Millisecond, cn.up) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, time.Minute)
	defer cancel()
	began := time.Now()
	adopted, closed, err := cn.Calls.Adopt(ctx, sip.AdoptOptions{Node: cn.Name, Elsewhere: a.onOtherNode(cn)})
	if err != nil {
		a.log.Warn("calls left open by a previous run not adopted", "node", cn.Name, "err", err)
		return
	}
	if adopted+closed > 0 {
		a.log.Info("calls left open by a previous run", "node", cn.Name, "adopted", adopted, "closed", closed, "took_ms", time.Since(began).Milliseconds())
	}
}

// onOtherNode tells whether a channel may live on a node other than cn
// (it exists there, or that node cannot be asked).
func (a *App) onOtherNode(cn *CallNode) func(ctx context.Context, uuid string) bool {
	if len(a.CallNodes) < 2 {
		return nil
	}
	return func(ctx context.Context, uuid string) bool {
		for _, other := range a.CallNodes {
			if other == cn {
				continue
			}
			out, err := other.Pool.API(ctx, "uuid_exists "+uuid)
			if err != nil || strings.TrimSpace(out) == "true" {
				return true
			}
		}
		return false
	}
}

// Adopted is closed once the start's adoption of the calls a previous run
// left open has ended on every node (at once without a switch, or with
// replicas, whose adoption follows the leases).
func (a *App) Adopted() <-chan struct{} { return a.adopted }

// SwitchUp reports whether every Event Socket connection is up.
func (a *App) SwitchUp() bool {
	return a.Cmd != nil && a.Cmd.Connected() && a.Events.Connected() && a.Pool.Connected()
}

// WaitSwitch waits until every Event Socket connection is up or ctx is done.
func (a *App) WaitSwitch(ctx context.Context) error {
	return waitFor(ctx, 5*time.Millisecond, a.SwitchUp)
}

// waitFor checks cond every interval until it holds (nil) or ctx is done
// (its error).
func waitFor(ctx context.Context, every time.Duration, cond func() bool) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Drain refuses new calls and waits for the live ones (SIP, then hosted)
// until ctx is done; those still live then are ended by Close. With
// SHUTDOWN_CALLS=handoff the SIP calls are not waited for: Close leaves
// the answered ones up for the next process.
func (a *App) Drain(ctx context.Context) {
	sipCtx := ctx
	if a.Calls.HandsOff() {
		c, cancel := context.WithCancel(ctx)
		cancel()
		sipCtx = c
	}
	if err := a.Calls.Drain(sipCtx); a.Calls.HandsOff() {
		a.log.Info("SHUTDOWN_CALLS=handoff: live calls left up for the next sipbridge", "calls", a.Calls.Active())
	} else if err != nil {
		a.log.Warn("drain ended with calls still live: hanging them up", "calls", a.Calls.Active())
	}
	if err := a.Hosted.Drain(ctx); err != nil {
		a.log.Warn("drain ended with hosted calls still live: closing them", "calls", a.Hosted.Active())
	}
}

// Run serves the HTTP API on ln until ctx is done, the server fails, or a
// signal arrives: SIGTERM drains live calls (new ones are refused with 503)
// up to DrainTimeout, then stops; SIGINT, or a second signal, stops at
// once. It ends live calls (with SHUTDOWN_CALLS=handoff: leaves the
// answered ones up, without the drain's wait) and stops the background
// work before returning; Close releases the rest.
func (a *App) Run(ctx context.Context, ln net.Listener, signals <-chan os.Signal) error {
	httpSrv := &http.Server{
		Handler:           a.Web.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()

	select {
	case err := <-errc:
		a.endCalls()
		return err
	case <-ctx.Done():
	case <-a.ctx.Done():
	case sig := <-signals:
		if sig == syscall.SIGTERM {
			a.drainUntilSignal(signals)
		}
	}
	a.log.Info("shutting down")
	a.endCalls()
	a.stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// drainUntilSignal drains for DrainTimeout or until another signal.
func (a *App) drainUntilSignal(signals <-chan os.Signal) {
	a.log.Info("SIGTERM: draining live calls", "calls", a.Calls.Active(), "timeout_ms", a.cfg.DrainTimeout.Milliseconds())
	dctx, dcancel := context.WithTimeout(a.ctx, a.cfg.DrainTimeout)
	defer dcancel()
	go func() {
		select {
		case <-signals:
			a.log.Info("second signal: stopping now")
			dcancel()
		case <-dctx.Done():
		}
	}()
	a.Drain(dctx)
}

// endCalls hangs up the live SIP calls, or hands them off
// (SHUTDOWN_CALLS=handoff), once.
func (a *App) endCalls() { a.closeCalls.Do(a.Calls.Close) }

// Close ends live calls, stops the background work (a message being sent
// is finished and recorded), then closes the switch connections and the
// hosted path. The store stays open: its owner closes it.
func (a *App) Close() {
	a.closeAll.Do(func() {
		a.endCalls()
		a.stop()
		a.wg.Wait()
		if a.Events != nil {
			a.Events.Close()
			a.Cmd.Close()
			a.Pool.Close()
			for _, c := range a.NodeConns {
				c.Close()
			}
			a.closeCallNodes()
		}
		a.Hosted.Close()
	})
}

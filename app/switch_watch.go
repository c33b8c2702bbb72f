package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// DefaultSwitchReminder is how often the warning that FreeSWITCH is not
// connected repeats while it stays so.
const DefaultSwitchReminder = time.Minute

// switchStartHint says what to start when no FreeSWITCH answers.
const switchStartHint = "start a FreeSWITCH with mod_audio_stream on this project's freeswitch/conf " +
	"(README, First steps: scripts/install-freeswitch.sh, docker compose, or ../shared/freeswitch/fs.sh start) " +
	"or set FS_ESL_ADDR to where one listens"

// switchDown says why the switch is not connected, the same words in the
// log and in /readyz: the address (FS_ESL_ADDR), the last error and what
// to do about it.
func switchDown(addr string, err error) string {
	switch {
	case errors.Is(err, esl.ErrAuth):
		return fmt.Sprintf("event socket not connected: FreeSWITCH at FS_ESL_ADDR=%s refused FS_ESL_PASSWORD", addr)
	case err != nil:
		var op *net.OpError
		if errors.As(err, &op) { // "connect: connection refused" says it all
			err = op.Err
		}
		return fmt.Sprintf("event socket not connected: no FreeSWITCH answers at FS_ESL_ADDR=%s (%v); %s", addr, err, switchStartHint)
	}
	return fmt.Sprintf("event socket not connected yet: FS_ESL_ADDR=%s", addr)
}

// switchWatch tells the operator about the switch's connections as one:
// every connection (commands, events, call control's pool) retries on
// its own back-off and logs at debug level only. A warning when they are
// down (once an attempt has failed), a reminder every interval while they
// stay down, one info line when they are all up again.
type switchWatch struct {
	log      *slog.Logger
	addr     string
	reminder time.Duration

	up       bool      // as last observed
	seen     bool      // observed connected at least once
	downAt   time.Time // when it was first observed down
	warnedAt time.Time // the last warning (zero: none yet in this outage)
}

// observe takes one look at the connections: up (all of them) and, when
// not, the last error of one that is down.
func (w *switchWatch) observe(now time.Time, up bool, err error) {
	switch {
	case up && !w.up:
		args := []any{"fs_esl_addr", w.addr}
		if !w.warnedAt.IsZero() {
			args = append(args, "down_ms", now.Sub(w.downAt).Milliseconds())
		}
		w.log.Info("FreeSWITCH connected", args...)
		w.up, w.seen, w.warnedAt = true, true, time.Time{}
	case up:
	case w.up || w.downAt.IsZero():
		w.up, w.downAt, w.warnedAt = false, now, time.Time{}
		w.warnFirst(now, err)
	case w.warnedAt.IsZero():
		w.warnFirst(now, err)
	case now.Sub(w.warnedAt) >= w.reminder:
		w.log.Warn("FreeSWITCH still not connected", "fs_esl_addr", w.addr, "down_ms", now.Sub(w.downAt).Milliseconds(),
			"reason", switchDown(w.addr, err))
		w.warnedAt = now
	}
}

// warnFirst logs the outage's first warning once a connect attempt has
// failed (not while the first attempts are still under way).
func (w *switchWatch) warnFirst(now time.Time, err error) {
	if err == nil {
		return
	}
	msg := "FreeSWITCH not connected"
	if w.seen {
		msg = "FreeSWITCH connection lost"
	}
	w.log.Warn(msg, "fs_esl_addr", w.addr, "reason", switchDown(w.addr, err))
	w.warnedAt = now
}

// watchSwitch observes the connections until ctx ends: every second, or
// more often when the reminder is shorter (tests).
func (a *App) watchSwitch(ctx context.Context) {
	reminder := a.cfg.Switch.Reminder
	if reminder <= 0 {
		reminder = DefaultSwitchReminder
	}
	w := &switchWatch{log: a.log.With("component", "freeswitch"), addr: a.cfg.Switch.Addr, reminder: reminder}
	t := time.NewTicker(min(time.Second, reminder/4))
	defer t.Stop()
	for {
		w.observe(time.Now(), a.SwitchUp(), a.switchErr())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// switchErr is why a connection is down (nil: none is, or no attempt
// has ended yet).
func (a *App) switchErr() error {
	if a.Cmd == nil {
		return nil
	}
	return firstErr(a.Cmd.LastError(), a.Events.LastError(), a.Pool.LastError())
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

package adopt

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
)

// Store is what Run needs of the database.
type Store interface {
	OpenCalls(ctx context.Context, provider string) ([]db.Call, error)
	CloseOpenCall(ctx context.Context, orgID int64, id string, cols map[string]any) (bool, error)
	call.RecordStore
}

// Deps are the switch, the store and call control's side of Run.
type Deps struct {
	API   API
	Store Store
	Log   *slog.Logger
	Now   func() time.Time
	// Follows tells whether this process already follows the channel
	// (uuid) or the call (callID): those are left alone.
	Follows func(uuid, callID string) bool
	// Node is the name of the switch's node (FS_NODES): the records of
	// another node are left alone without asking. Records older than the
	// calls' node column (none) are asked of Elsewhere.
	Node string
	// Elsewhere tells whether a channel lives on a node this process does
	// not control (nil: none does).
	Elsewhere func(ctx context.Context, uuid string) bool
	// Take starts the session of a call to adopt (Adopt) or to follow
	// (Watch); an error has the call hung up and its record closed.
	Take func(ctx context.Context, d Decision) error
	// Grace is how long a stray channel (strays) is given to be taken up
	// by this process's own events before it is hung up (0: 2 s).
	Grace time.Duration
}

// Run lists the open SIP records and the switch's channels, decides, and
// acts: it returns how many calls were taken over and how many records
// closed.
func Run(ctx context.Context, d Deps) (taken, closed int, err error) {
	all, err := d.Store.OpenCalls(ctx, "sip")
	if err != nil {
		return 0, 0, err
	}
	open := all[:0]
	for _, r := range all {
		if d.Node == "" || r.Node == "" || r.Node == d.Node {
			open = append(open, r)
		}
	}
	chans, err := List(ctx, d.API, func(uuid string) bool { return d.Follows(uuid, "") })
	if err != nil {
		return 0, 0, err
	}
	var elsewhere func(db.Call) bool
	if d.Elsewhere != nil {
		elsewhere = func(r db.Call) bool { return d.Elsewhere(ctx, r.CallSID) }
	}
	for _, dec := range Decide(open, chans, elsewhere) {
		if d.Follows("", dec.Call.ID) {
			continue
		}
		if dec.Action == Close && d.exists(ctx, dec.Call.CallSID) {
			// Not yet in the channel table (FreeSWITCH writes it behind
			// the channel's events): the channel is there all the same.
			ch := Channel{UUID: dec.Call.CallSID}
			dec.Channel, dec.Action, dec.Reason = &ch, Adopt, ""
			if dec.Call.Status != db.CallInProgress {
				dec.Action, dec.Reason = HangUp, ReasonUnanswered
			}
		}
		log := d.Log.With("call_id", dec.Call.ID, "org_id", dec.Call.OrgID, "action", dec.Action.String())
		switch dec.Action {
		case Adopt, Watch:
			if err := d.Take(ctx, dec); err != nil {
				log.Warn("call not taken over: hanging it up", "err", err)
				dec.Reason = "sipbridge restarted: the call could not be taken over: " + err.Error()
				d.hangUp(ctx, dec, causeNormal)
				closed++
				continue
			}
			if dec.Action == Adopt {
				d.kill(ctx, dec.Legs, causeCancel) // transfer legs still ringing
			}
			taken++
		case HangUp:
			d.hangUp(ctx, dec, hangupCause(dec))
			closed++
		case Close:
			d.close(dec.Call, dec.Reason, "UNKNOWN")
			closed++
		}
		log.Info("call left by a previous sipbridge", "reason", dec.Reason)
	}
	d.hangUpStrays(ctx, chans, all)
	return taken, closed, nil
}

// strays are the inbound channels no sipbridge routed: not answered,
// without sipbridge_call_id, named by no open record. They arrived while
// no process controlled the node (a restart, a lease changing hands) and
// would wait in park for good: after Grace, those this process has still
// not taken up from their events are hung up with a 503
// (NORMAL_TEMPORARY_FAILURE), so their carriers may try elsewhere.
func strays(chans []Channel, records []db.Call) []Channel {
	named := map[string]bool{}
	for _, r := range records {
		named[r.CallSID] = true
	}
	var out []Channel
	for _, ch := range chans {
		if ch.Direction == "inbound" && ch.CallID == "" && !ch.Answered() && !named[ch.UUID] {
			out = append(out, ch)
		}
	}
	return out
}

func (d Deps) hangUpStrays(ctx context.Context, chans []Channel, records []db.Call) {
	stray := strays(chans, records)
	if len(stray) == 0 {
		return
	}
	grace := d.Grace
	if grace <= 0 {
		grace = 2 * time.Second
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(grace):
	}
	for _, ch := range stray {
		if d.Follows(ch.UUID, "") {
			continue // its park reached this process meanwhile
		}
		if v, err := getvar(ctx, d.API, ch.UUID, "sipbridge_call_id"); err != nil || v != "" {
			continue // gone, or routed meanwhile
		}
		d.kill(ctx, []Channel{ch}, causeUnavailable)
		d.Log.Warn("hung up a call no sipbridge took while none controlled the switch (503)", "call_uuid", ch.UUID)
	}
}

// Hangup causes: an unanswered inbound call gets a 503 (its carrier may
// try elsewhere), a ringing outbound one is cancelled.
const causeNormal, causeUnavailable, causeCancel = "NORMAL_CLEARING", "NORMAL_TEMPORARY_FAILURE", "ORIGINATOR_CANCEL"

func hangupCause(d Decision) string {
	switch {
	case d.Call.Direction == db.DirectionOutbound:
		return causeCancel
	case d.Channel != nil && d.Channel.Answered():
		return causeNormal
	}
	return causeUnavailable
}

func (d Deps) hangUp(ctx context.Context, dec Decision, cause string) {
	if dec.Channel != nil {
		d.kill(ctx, []Channel{*dec.Channel}, cause)
	}
	d.kill(ctx, dec.Legs, causeCancel)
	d.close(dec.Call, dec.Reason, cause)
}

// exists asks the switch whether a channel exists (uuid_exists).
func (d Deps) exists(ctx context.Context, uuid string) bool {
	if uuid == "" {
		return false
	}
	out, err := d.API.API(ctx, "uuid_exists "+uuid)
	return err == nil && strings.TrimSpace(out) == "true"
}

func (d Deps) kill(ctx context.Context, chans []Channel, cause string) {
	for _, ch := range chans {
		_, _ = d.API.API(ctx, "uuid_kill "+ch.UUID+" "+cause)
	}
}

// close closes a record still open: one that ended since OpenCalls read
// it (its call ended while the channels were listed) is left as it is.
func (d Deps) close(rec db.Call, reason, cause string) {
	log := d.Log.With("call_id", rec.ID, "org_id", rec.OrgID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closed, err := d.Store.CloseOpenCall(ctx, rec.OrgID, rec.ID,
		map[string]any{"status": db.CallFailed, "reason": reason, "ended_at": d.Now().UTC(), "hangup_cause": cause})
	if err != nil {
		log.Warn("closing the record of a call left by a previous sipbridge", "err", err)
		return
	}
	if !closed {
		log.Info("record ended meanwhile: left as it is")
		return
	}
	r := call.Recorder{Store: d.Store, Log: log, OrgID: rec.OrgID, CallID: rec.ID}
	r.Event(call.EventHangup, db.JSONMap{"cause": cause, "reason": reason})
}

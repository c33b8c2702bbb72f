package sip

import (
	"context"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/adopt"
	"github.com/sipbridge/sipbridge/call/sip/options"
	"github.com/sipbridge/sipbridge/db"
)

// What becomes of the live calls when sipbridge stops (SHUTDOWN_CALLS):
// options.ShutdownHangup (the default) or options.ShutdownHandoff.
const ShutdownHangup, ShutdownHandoff = options.ShutdownHangup, options.ShutdownHandoff

// HandsOff tells whether stopping leaves the answered calls up.
func (c *Calls) HandsOff() bool { return c.opts.ShutdownCalls == ShutdownHandoff }

// AdoptOptions are what Adopt needs to know of the other nodes.
type AdoptOptions struct {
	// Node is this switch's name in FS_NODES: other nodes' records are
	// left alone.
	Node string
	// Elsewhere tells whether a channel lives on a node this process does
	// not control (a record without a channel here is then left alone).
	// Nil: this switch is the only one.
	Elsewhere func(ctx context.Context, uuid string) bool
}

// Adopt takes over the SIP calls a previous sipbridge left open on this
// switch (a restart, a crash, SHUTDOWN_CALLS=handoff): each answered call
// in progress goes on with a new audio stream and a new assistant socket
// (its start says resumed); a transferred one is followed until it ends;
// an unanswered one is hung up, and a record whose channel is gone closed
// as failed (package adopt decides). Calls this process already follows
// are left alone. It returns how many calls it took over and how many
// records it closed.
func (c *Calls) Adopt(ctx context.Context, o AdoptOptions) (adopted, closed int, err error) {
	c.adopting.Lock()
	defer c.adopting.Unlock()
	return adopt.Run(ctx, adopt.Deps{API: c.sw, Store: c.store, Log: c.log, Now: c.opts.Now,
		Follows: c.follows, Node: o.Node, Elsewhere: o.Elsewhere, Take: c.adoptCall})
}

// follows tells whether this process follows the channel or the call.
func (c *Calls) follows(uuid, callID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byUUID[uuid] != nil || c.byID[callID] != nil
}

// adoptCall starts the session of a call a previous process left up.
func (c *Calls) adoptCall(ctx context.Context, d adopt.Decision) error {
	rec := d.Call
	r, err := adopt.Resume(ctx, c.store, rec)
	if err != nil {
		return err
	}
	done, err := c.registry.Begin()
	if err != nil {
		return err
	}
	s := newCallSession(c, d.Channel.UUID)
	s.id, s.rec, s.assistant, s.org, s.live, s.lostAt, s.recordPath = rec.ID, &rec, r.Assistant, rec.OrgID, done, r.LostAt, rec.RecordingPath
	s.outbound = rec.Direction == db.DirectionOutbound
	s.life = call.NewLifecycle(s.outbound)
	s.log = c.log.With("call_id", rec.ID, "call_uuid", s.uuid, "org_id", rec.OrgID, "sip_call_id", rec.SIPCallID, "direction", rec.Direction)
	s.info, s.route = r.Info, r.Route
	s.answered(rec.AnsweredAt.UTC())
	c.mu.Lock()
	c.byUUID[s.uuid], c.byID[s.id] = s, s
	for _, l := range d.Legs {
		if d.Action == adopt.Watch {
			c.byUUID[l.UUID] = s
		}
	}
	c.mu.Unlock()
	c.registry.Add(s.id, rec.OrgID, c)
	s.requests.Push(request{kind: reqChannelCheck}) // a hangup before its events reached the session
	go s.runAdopted(d.Action == adopt.Watch)
	return nil
}

// runAdopted runs an adopted call: the previous process's stream and
// playback are stopped, the assistant connected again (a transferred
// call has none), then the call goes on as any other.
func (s *callSession) runAdopted(transferred bool) {
	defer s.live()
	defer s.c.remove(s)
	defer s.cleanup()
	if transferred {
		s.markTransferred()
		s.adoptedStream()
	} else {
		adopt.StopPrevious(s.c.sw, s.uuid, s.id, s.log) // the old stream and playback
		if s.connectAssistant() {
			s.startPipe()
			s.startStream()
		}
	}
	s.loop()
	s.exit()
}

// adoptedStream records, once, that an adopted call's audio flows again:
// gap_ms since its last sign of life before the restart, since_start_ms
// since this process's call control started.
func (s *callSession) adoptedStream() {
	if s.lostAt.IsZero() {
		return
	}
	now := s.c.opts.Now()
	gap, since := now.Sub(s.lostAt).Milliseconds(), now.Sub(s.c.started).Milliseconds()
	s.event(call.EventAdopted, db.JSONMap{"gap_ms": gap, "since_start_ms": since, "transferred": s.transferred()})
	s.log.Info("adopted call goes on", "gap_ms", gap, "since_start_ms", since)
	s.lostAt = time.Time{}
}

// handOff leaves an answered call up as sipbridge stops with
// SHUTDOWN_CALLS=handoff: its stream and playback stop, its assistant
// socket closes, its record stays in progress; true when it did.
func (s *callSession) handOff() bool {
	if !s.c.HandsOff() || !s.life.WasAnswered() || s.ending() || s.transferPending() {
		return false
	}
	_, _ = s.api("uuid_audio_stream " + s.uuid + " stop")
	s.closePipe()
	s.closeAssistant(false)
	s.event(call.EventHandedOff, db.JSONMap{"reason": "sipbridge stopped with SHUTDOWN_CALLS=handoff"})
	s.log.Info("call left up for the next sipbridge (SHUTDOWN_CALLS=handoff)")
	return true
}

// Release lets go of every live call at once without a word to
// FreeSWITCH: this process no longer controls the node (a replica whose
// lease was lost), and the node's next holder may already have adopted the
// calls (their streams restarted), so the channel is not touched. Each
// session closes its assistant socket (no stop), its media stream's
// websocket and its playback pipe, records handed_off and ends, its record
// left open for the next holder to adopt or close. It returns at once.
func (c *Calls) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.byID {
		s.requests.Push(request{kind: reqRelease})
	}
}

// letGo ends the session's part in its call (Release).
func (s *callSession) letGo() {
	s.closeFS()
	s.closePipe()
	s.closeAssistant(false)
	s.event(call.EventHandedOff, db.JSONMap{"reason": "this replica lost the node's lease"})
	s.log.Warn("call let go: this replica lost the node's lease, its next holder adopts it")
}

package call

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/route"
	"github.com/sipbridge/sipbridge/route/did"
)

// OutageReason is the reason kept on the record of a call refused because
// the database could not be reached to route it.
const OutageReason = "database unavailable: refused with 503 during the outage"

// maxHeldRefusals bounds the refusals kept while the database is away:
// beyond, the oldest is dropped (and counted).
const maxHeldRefusals = 10_000

// HeldRefusal is an inbound call refused with 503 because routing could
// not reach the database: what routing reads of its park, and when it came.
type HeldRefusal struct {
	CallID    string // the record's id: a refusal is written once
	UUID      string // the FreeSWITCH channel
	SIPCallID string
	At        time.Time // the park (the INVITE), not the write
	SIPStatus int       // the answer the caller got
	Cause     string    // the hangup cause that made it
	Node      string    // the FreeSWITCH node of the channel (calls.node)
	Vars      map[string][]string
}

// RoutingVars keeps the channel variables of a park that routing reads
// (the caller and called headers, source address, ACL and gateway names,
// SIP Call-ID: Caller-* and variable_sip*) out of its headers.
func RoutingVars(headers map[string]string, values func(string) []string) map[string][]string {
	out := map[string][]string{}
	for name := range headers {
		if strings.HasPrefix(name, "Caller-") || strings.HasPrefix(name, "variable_sip") {
			out[name] = append([]string(nil), values(name)...)
		}
	}
	return out
}

// Router routes a held refusal again (a *route.Router).
type Router interface {
	Decide(ctx context.Context, vars did.Vars) (*route.Route, error)
}

// RefusalStore is what writing a held refusal's record needs.
type RefusalStore interface {
	RecordStore
	CreateCall(ctx context.Context, c *db.Call) error
}

// HeldRefusals are the calls refused while the database was away, kept in
// memory until it is back: then each is routed again with the variables it
// came with (the organization is routing's answer) and its record written,
// status refused, with the 503 it got. A goroutine tries the first every
// Retry, only while some are held. The embedded SQLite cannot go away:
// with it nothing is ever held.
type HeldRefusals struct {
	router Router
	store  RefusalStore
	log    *slog.Logger
	// Retry is how often the database is tried again (set before use).
	Retry time.Duration
	q     *outageQueue
}

// NewHeldRefusals returns an empty queue.
func NewHeldRefusals(router Router, store RefusalStore, log *slog.Logger) *HeldRefusals {
	h := &HeldRefusals{router: router, store: store, log: log, Retry: heldRetry}
	h.q = newOutageQueue(maxHeldRefusals, true, func() time.Duration { return h.Retry }, outageMsgs{
		dropped: "too many calls refused while the database is unreachable: the oldest are dropped, their records lost",
		back:    "database back: the calls refused meanwhile are recorded", count: "refusals"})
	return h
}

// Hold keeps a refusal until the database is back (once per CallID).
func (h *HeldRefusals) Hold(r HeldRefusal) {
	h.q.keep(outageWrite{key: r.CallID, log: h.log, write: func(context.Context) error { return h.record(r) }})
}

// Len is how many refusals are held.
func (h *HeldRefusals) Len() int { return h.q.len() }

// Close stops the retries; the refusals still held are lost (logged).
func (h *HeldRefusals) Close() {
	if n, dropped := h.q.close(); n > 0 || dropped > 0 {
		h.log.Warn("stopping with calls refused during the database outage not recorded: their records are lost", "held", n, "dropped", dropped)
	}
}

// record routes a held refusal again and writes its record; an error
// db.Unavailable says the database is still away (try later), any other is
// final (and logged here).
func (h *HeldRefusals) record(r HeldRefusal) error {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	log := h.log.With("call_id", r.CallID, "sip_call_id", r.SIPCallID)
	vars := did.Vars(func(name string) []string { return r.Vars[name] })
	rt, err := h.router.Decide(ctx, vars)
	if err != nil {
		if !db.Unavailable(err) {
			log.Error("call refused during the database outage: routing it again failed, no record", "err", err)
		}
		return err
	}
	fromNumber := vars.First("Caller-Caller-ID-Number")
	if rt.Trunk == nil { // no organization to keep it for: as any unknown trunk's refusal
		log.Warn("call refused during the database outage: no organization for it", "sip_status", r.SIPStatus,
			"reason", OutageReason, "routing", rt.Refused.Reason, "detail", rt.Detail, "from", fromNumber, "source", rt.Source)
		return nil
	}
	at := r.At.UTC()
	rec := &db.Call{ID: r.CallID, OrgID: rt.Trunk.OrgID, TrunkID: &rt.Trunk.ID, CallSID: r.UUID, SIPCallID: r.SIPCallID,
		Direction: db.DirectionInbound, FromNumber: fromNumber, ToNumber: vars.First("Caller-Destination-Number"),
		ResolvedDID: rt.DID.DID, DIDSource: rt.DID.Source, Status: db.CallRefused, SIPStatus: r.SIPStatus,
		HangupCause: r.Cause, Reason: OutageReason, StartedAt: at, EndedAt: &at, Node: r.Node}
	detail := db.JSONMap{"sip_status": r.SIPStatus, "cause": r.Cause, "reason": OutageReason, "source": rt.Source}
	if rt.Number != nil {
		rec.PhoneNumberID, rec.ToNumber = &rt.Number.ID, rt.Number.PhoneNumber
	}
	if rt.Refused != nil { // routing refuses it now too, for its own reason
		rec.Reason += " (routed now: " + rt.Refused.Reason + ": " + rt.Detail + ")"
		detail["routed_now"], detail["detail"] = rt.Refused.Reason, rt.Detail
	}
	switch err := h.store.CreateCall(ctx, rec); {
	case errors.Is(err, db.ErrConflict):
		return nil // written already (the answer to an earlier try was lost)
	case err != nil:
		if !db.Unavailable(err) {
			log.Error("call refused during the database outage: record not stored", "err", err)
		}
		return err
	}
	log = log.With("org_id", rec.OrgID)
	Recorder{Store: h.store, Log: log, OrgID: rec.OrgID, CallID: rec.ID}.Event(EventRefused, detail)
	log.Info("call refused during the database outage recorded", "sip_status", r.SIPStatus, "from", fromNumber, "started_at", at)
	return nil
}

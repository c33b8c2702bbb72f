package hosted

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/telnyx"
	"github.com/sipbridge/sipbridge/route"
)

// TelnyxEvent is a Call Control webhook (the fields sipbridge uses).
type TelnyxEvent struct {
	Data struct {
		EventType  string            `json:"event_type"`
		ID         string            `json:"id"`
		RecordType string            `json:"record_type"`
		Payload    TelnyxCallPayload `json:"payload"`
	} `json:"data"`
}

// TelnyxCallPayload is the payload of a call.* webhook.
type TelnyxCallPayload struct {
	CallControlID  string `json:"call_control_id"`
	ConnectionID   string `json:"connection_id"`
	CallLegID      string `json:"call_leg_id"`
	CallSessionID  string `json:"call_session_id"`
	ClientState    string `json:"client_state"`
	Direction      string `json:"direction"` // incoming | outgoing
	From           string `json:"from"`
	To             string `json:"to"`
	State          string `json:"state"`
	HangupCause    string `json:"hangup_cause"`
	HangupSource   string `json:"hangup_source"`
	SIPHangupCause string `json:"sip_hangup_cause"`
	// Result of call.machine.detection.ended (human, machine, not_sure)
	// and call.machine.greeting.ended (beep_detected, ended, not_sure).
	Result string `json:"result"`
}

// ParseTelnyxEvent decodes a Call Control webhook body: a JSON object with
// data.event_type; call.* events need data.payload.call_control_id. Errors
// wrap ErrBadWebhook.
func ParseTelnyxEvent(body []byte) (TelnyxEvent, error) {
	var e TelnyxEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return TelnyxEvent{}, fmt.Errorf("%w: %v", ErrBadWebhook, err)
	}
	d := &e.Data
	if d.EventType == "" || len(d.EventType) > 64 {
		return TelnyxEvent{}, fmt.Errorf("%w: no data.event_type", ErrBadWebhook)
	}
	if strings.HasPrefix(d.EventType, "call.") && (d.Payload.CallControlID == "" || len(d.Payload.CallControlID) > 256) {
		return TelnyxEvent{}, fmt.Errorf("%w: %s without call_control_id", ErrBadWebhook, d.EventType)
	}
	pl := &d.Payload
	if len(pl.ClientState) > 4096 || len(pl.From) > 256 || len(pl.To) > 256 || len(pl.HangupCause) > 128 ||
		len(pl.HangupSource) > 128 || len(pl.SIPHangupCause) > 128 || len(pl.Direction) > 32 || len(pl.Result) > 64 {
		return TelnyxEvent{}, fmt.Errorf("%w: oversized field", ErrBadWebhook)
	}
	if !printable(d.EventType, pl.CallControlID, pl.ClientState, pl.From, pl.To, pl.Direction, pl.HangupCause, pl.HangupSource, pl.SIPHangupCause, pl.Result) {
		return TelnyxEvent{}, fmt.Errorf("%w: control characters or invalid UTF-8", ErrBadWebhook)
	}
	return e, nil
}

// telnyxClientState is the client_state of our calls: base64 of the call id.
func telnyxClientState(callID string) string {
	return base64.StdEncoding.EncodeToString([]byte(callID))
}

// callIDOfClientState decodes our client_state ("" when it is not ours).
func callIDOfClientState(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) > 64 {
		return ""
	}
	return string(b)
}

// telnyxStream is the bidirectional stream sipbridge asks Telnyx for: the
// caller's track only, RTP payloads back as PCMU (μ-law 8 kHz, what the
// assistant speaks).
func telnyxStream(u string) telnyx.Stream {
	return telnyx.Stream{URL: u, Track: "inbound_track", BidirectionalMode: "rtp", BidirectionalCodec: "PCMU"}
}

// TelnyxWebhook handles a Call Control webhook (POST /telnyx-webhook) whose
// raw body and headers are given. The signature (Ed25519 over
// "<telnyx-timestamp>|<body>", 5-minute window) is checked with the public
// key of the organization the call belongs to (ours by client_state, else
// the owner of the called number for incoming calls, of the calling number
// for outgoing ones), else the environment's; failure is
// ErrWebhookSignature. Then:
//
//   - call.initiated (incoming) to an active number with an assistant: the
//     record is created and the call answered with a bidirectional stream to
//     /streams?call_id=…&token=… (inbound_track, RTP PCMU) and client_state =
//     base64(call id); a call the SIP path would refuse is hung up (with a
//     refused record when the number has an organization);
//   - call.answered: the record is in progress;
//   - call.hangup: the record is closed with the payload's hangup_cause;
//   - call.machine.detection.ended, call.machine.greeting.ended: an
//     outbound call's answering machine detection (telnyxAMD).
//
// Other events are accepted and ignored.
func (h *Path) TelnyxWebhook(ctx context.Context, header http.Header, body []byte) error {
	ev, err := ParseTelnyxEvent(body)
	if err != nil {
		return err
	}
	p := ev.Data.Payload
	w, err := h.telnyxPartiesOf(ctx, p)
	if err != nil {
		return err
	}
	if err := h.verifyTelnyx(w.org, w.assistant, header, body); err != nil {
		h.log.Warn("telnyx webhook refused: bad signature", "event_type", ev.Data.EventType, "err", err)
		return err
	}
	c := w.call
	switch ev.Data.EventType {
	case "call.initiated":
		if c != nil || p.Direction != "incoming" {
			return nil // our own dial
		}
		return h.telnyxIncoming(ctx, p.CallControlID, w)
	case "call.answered":
		if c != nil {
			c.answered()
		}
	case "call.hangup":
		if c != nil {
			cause := cmp.Or(p.HangupCause, "normal_clearing")
			c.event(call.EventProviderHangup, db.JSONMap{"hangup_cause": p.HangupCause, "hangup_source": p.HangupSource, "sip_hangup_cause": p.SIPHangupCause})
			c.finish(finishInfo{cause: cause, reason: "hung up (" + cmp.Or(p.HangupSource, "unknown") + ")"})
		}
	case "call.machine.detection.ended", "call.machine.greeting.ended":
		if c != nil {
			c.telnyxAMD(context.WithoutCancel(ctx), ev.Data.EventType, p.Result)
		}
	}
	return nil
}

// telnyxParties is who a Call Control webhook concerns: the live call
// (nil: none), the organization and assistant whose key verifies it and,
// for an incoming call not yet live, the routing decision.
type telnyxParties struct {
	call      *hostedCall
	org       *db.Organization
	assistant *db.Assistant
	route     route.NumberRoute
	from, to  string
}

// telnyxPartiesOf finds the call of a webhook (ours by client_state, else
// by call_control_id) and the organization it belongs to: the call's, else
// the owner of the called number (incoming, routed) or of the calling one.
func (h *Path) telnyxPartiesOf(ctx context.Context, p TelnyxCallPayload) (telnyxParties, error) {
	c := h.callByID(callIDOfClientState(p.ClientState))
	if c != nil && (c.provider != provider.NameTelnyx || (p.CallControlID != "" && c.providerSID() != "" && c.providerSID() != p.CallControlID)) {
		// Our client_state on another call's event: it does not speak for
		// this call.
		c = nil
	}
	if c == nil && p.CallControlID != "" {
		c = h.callBySID(provider.NameTelnyx, p.CallControlID)
	}
	w := telnyxParties{call: c, to: normNumber(p.To), from: normNumber(p.From)}
	switch {
	case c != nil:
		org, err := h.store.GetOrg(ctx, c.orgID)
		if err != nil {
			return w, err
		}
		w.org, w.assistant = org, c.assistant
	case p.Direction == "incoming":
		w.route = h.routeInbound(ctx, provider.NameTelnyx, w.to, w.from)
		w.org, w.assistant = w.route.Org, w.route.Assistant
	default:
		if id, ok, _ := h.store.NumberOwner(ctx, w.from); ok {
			w.org, _ = h.store.GetOrg(ctx, id)
		}
	}
	return w, nil
}

// telnyxIncoming takes a new incoming call: refused (hung up, with a
// refused record when the number has an organization), or recorded and
// answered with a bidirectional stream to /streams.
func (h *Path) telnyxIncoming(ctx context.Context, ccid string, w telnyxParties) error {
	rt := w.route
	if rt.Assistant == nil {
		h.recordRefused(ctx, provider.NameTelnyx, ccid, rt, w.from, w.to)
		if w.org != nil {
			if cl, err := h.client(ctx, w.org.ID, nil, provider.NameTelnyx); err == nil {
				_ = cl.Hangup(ctx, ccid)
			}
		}
		return nil
	}
	c, err := h.createInbound(ctx, provider.NameTelnyx, ccid, rt, w.from, w.to, db.CallRinging)
	if err != nil {
		return err
	}
	cl, err := h.client(ctx, w.org.ID, rt.Assistant, provider.NameTelnyx)
	if err == nil {
		tx, ok := cl.(*telnyx.Client)
		if !ok {
			err = fmt.Errorf("%w: not a Telnyx client", ErrProviderCall)
		} else {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = tx.Answer(actx, ccid, telnyxClientState(c.id), telnyxStream(h.streamURLWithToken(c)))
			cancel()
		}
	}
	if err != nil {
		c.log.Warn("telnyx answer failed", "err", err)
		c.event(call.EventAnswerFailed, db.JSONMap{"error": err.Error()})
		c.finish(finishInfo{cause: "ANSWER_FAILED", reason: "answer failed: " + err.Error(), failed: true})
		return nil
	}
	c.event(call.EventAnswerRequested, nil)
	return nil
}

func (h *Path) verifyTelnyx(org *db.Organization, a *db.Assistant, header http.Header, body []byte) error {
	key, err := h.webhookKey(org, a, provider.NameTelnyx)
	if err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%w: no Telnyx public key configured", ErrWebhookSignature)
	}
	if err := telnyx.VerifyRequest(key, header, body, h.opts.Now()); err != nil {
		return fmt.Errorf("%w: %w", ErrWebhookSignature, err)
	}
	return nil
}

package hosted

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/vonage"
)

// VonageCall identifies a call in Vonage's answer and event webhooks.
type VonageCall struct {
	UUID             string `json:"uuid"`
	ConversationUUID string `json:"conversation_uuid"`
	From             string `json:"from"`
	To               string `json:"to"`
	Status           string `json:"status"`
	Direction        string `json:"direction"`
	Reason           string `json:"reason"`
	Duration         string `json:"duration"`
}

func (v VonageCall) check(needStatus bool) (VonageCall, error) {
	if v.UUID == "" || len(v.UUID) > 128 {
		return VonageCall{}, fmt.Errorf("%w: no uuid", ErrBadWebhook)
	}
	if len(v.From) > 256 || len(v.To) > 256 || len(v.Status) > 64 || len(v.ConversationUUID) > 128 || len(v.Reason) > 512 {
		return VonageCall{}, fmt.Errorf("%w: oversized field", ErrBadWebhook)
	}
	if len(v.Direction) > 32 || len(v.Duration) > 32 {
		return VonageCall{}, fmt.Errorf("%w: oversized field", ErrBadWebhook)
	}
	if !printable(v.UUID, v.ConversationUUID, v.From, v.To, v.Status, v.Direction, v.Reason, v.Duration) {
		return VonageCall{}, fmt.Errorf("%w: control characters or invalid UTF-8", ErrBadWebhook)
	}
	if needStatus && v.Status == "" {
		return VonageCall{}, fmt.Errorf("%w: no status", ErrBadWebhook)
	}
	return v, nil
}

// ParseVonageAnswer reads an answer_url request: the query of a GET, or
// the JSON body of a POST (body non-empty). uuid is required. Errors wrap
// ErrBadWebhook.
func ParseVonageAnswer(query url.Values, body []byte) (VonageCall, error) {
	var v VonageCall
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &v); err != nil {
			return VonageCall{}, fmt.Errorf("%w: %v", ErrBadWebhook, err)
		}
	} else {
		v = VonageCall{UUID: query.Get("uuid"), ConversationUUID: query.Get("conversation_uuid"), From: query.Get("from"), To: query.Get("to")}
	}
	return v.check(false)
}

// ParseVonageEvent reads an event_url status event (JSON, uuid and status
// required). Duration arrives as a string or a number. Errors wrap
// ErrBadWebhook.
func ParseVonageEvent(body []byte) (VonageCall, error) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return VonageCall{}, fmt.Errorf("%w: not a JSON object", ErrBadWebhook)
	}
	str := func(k string) string {
		switch x := raw[k].(type) {
		case string:
			return x
		case float64:
			return fmt.Sprint(x)
		}
		return ""
	}
	v := VonageCall{UUID: str("uuid"), ConversationUUID: str("conversation_uuid"), From: str("from"), To: str("to"),
		Status: str("status"), Direction: str("direction"), Reason: str("reason"), Duration: str("duration")}
	return v.check(true)
}

// VonageStreamNCCO connects a call to the media websocket: L16 16 kHz,
// the headers arrive in the websocket's first text message
// (vonage.WebsocketNCCO).
func VonageStreamNCCO(streamURL string, headers map[string]string) []byte {
	return vonage.WebsocketNCCO(streamURL, headers)
}

// VonageRejectNCCO ends a call Vonage asked about: an empty NCCO hangs up.
var VonageRejectNCCO = []byte("[]")

// verifyVonage checks the signed JWT of a Voice webhook with the signature
// secret creds.Resolver.WebhookKey picks; without one the webhook is
// refused.
func (h *Path) verifyVonage(org *db.Organization, a *db.Assistant, authorization string, body []byte) error {
	secret, err := h.webhookKey(org, a, provider.NameVonage)
	if err != nil {
		return err
	}
	if secret == "" {
		// Unsigned webhooks are never taken: without the secret nothing
		// tells Vonage from anyone else.
		return fmt.Errorf("%w: no Vonage signature secret configured (organization vonage.signature_secret or VONAGE_SIGNATURE_SECRET)", ErrWebhookSignature)
	}
	claims, err := vonage.VerifyJWT(secret, authorization, body, h.opts.Now())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWebhookSignature, err)
	}
	if h.replays.Seen(claims.JTI, h.opts.Now()) {
		return fmt.Errorf("%w: JWT already used (jti replayed)", ErrWebhookSignature)
	}
	return nil
}

// VonageAnswer answers Vonage's answer_url (GET or POST /vonage-webhook)
// with an NCCO: for an inbound call to an active number with an assistant,
// the record is created (in progress) and the NCCO connects the call to
// /streams?call_id=…&token=… (L16 16 kHz, headers call_id, from, to); a
// call the SIP path would refuse gets an empty NCCO (Vonage hangs up), with
// a refused record when the number has an organization. The signed JWT is
// required (the owning organization's signature secret, else
// VONAGE_SIGNATURE_SECRET).
func (h *Path) VonageAnswer(ctx context.Context, query url.Values, body []byte, authorization string) ([]byte, error) {
	if h.opts.PublicBaseURL == "" {
		return nil, numbers.ErrNoPublicURL
	}
	v, err := ParseVonageAnswer(query, body)
	if err != nil {
		return nil, err
	}
	if c := h.callBySID(provider.NameVonage, v.UUID); c != nil { // an outbound call using answer_url
		org, err := h.store.GetOrg(ctx, c.orgID)
		if err != nil {
			return nil, err
		}
		if err := h.verifyVonage(org, c.assistant, authorization, body); err != nil {
			return nil, err
		}
		return VonageStreamNCCO(h.streamURLWithToken(c), map[string]string{"call_id": c.id}), nil
	}
	to, from := normNumber(v.To), normNumber(v.From)
	rt := h.routeInbound(ctx, provider.NameVonage, to, from)
	if err := h.verifyVonage(rt.Org, rt.Assistant, authorization, body); err != nil {
		h.log.Warn("vonage webhook refused: bad signature", "err", err)
		return nil, err
	}
	if rt.Assistant == nil {
		h.recordRefused(ctx, provider.NameVonage, v.UUID, rt, from, to)
		return VonageRejectNCCO, nil
	}
	c, err := h.createInbound(ctx, provider.NameVonage, v.UUID, rt, from, to, db.CallInProgress)
	if err != nil {
		return nil, err
	}
	return VonageStreamNCCO(h.streamURLWithToken(c), map[string]string{"call_id": c.id, "from": from, "to": to}), nil
}

// Vonage statuses that end a call.
var vonageFinal = map[string]bool{"completed": true, "busy": true, "cancelled": true, "failed": true, "rejected": true,
	"timeout": true, "unanswered": true}

// VonageEvent handles an event_url status event (POST
// /vonage-webhook/event): answered marks the call in progress, a final
// status (completed, busy, failed, rejected, timeout, unanswered,
// cancelled) closes the record with that status as its cause. Events of
// calls that are not live here are ignored.
func (h *Path) VonageEvent(ctx context.Context, body []byte, authorization string) error {
	v, err := ParseVonageEvent(body)
	if err != nil {
		return err
	}
	c := h.callBySID(provider.NameVonage, v.UUID)
	if c == nil {
		return nil
	}
	org, err := h.store.GetOrg(ctx, c.orgID)
	if err != nil {
		return err
	}
	if err := h.verifyVonage(org, c.assistant, authorization, body); err != nil {
		h.log.Warn("vonage event refused: bad signature", "err", err)
		return err
	}
	switch {
	case v.Status == "answered":
		c.answered()
	case vonageFinal[v.Status]:
		c.event(call.EventProviderHangup, db.JSONMap{"status": v.Status, "reason": v.Reason})
		c.finish(finishInfo{cause: v.Status, reason: "provider status " + v.Status, failed: v.Status != "completed"})
	}
	return nil
}

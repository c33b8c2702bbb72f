package hosted

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/twilio"
	"github.com/sipbridge/sipbridge/route/did"
)

// TwilioVoiceRequest is Twilio's voice webhook (POST /twiml, form encoded).
type TwilioVoiceRequest struct {
	CallSID    string
	AccountSID string
	From, To   string
	Direction  string // inbound | outbound-api | outbound-dial
	CallStatus string
}

// ParseTwilioVoiceForm reads the fields sipbridge uses from the form of a
// Twilio voice webhook. CallSid (CA + 32 hex), AccountSid (AC + 32 hex), From
// and To are required; errors wrap ErrBadWebhook.
func ParseTwilioVoiceForm(form url.Values) (TwilioVoiceRequest, error) {
	r := TwilioVoiceRequest{CallSID: form.Get("CallSid"), AccountSID: form.Get("AccountSid"), From: strings.TrimSpace(form.Get("From")),
		To: strings.TrimSpace(form.Get("To")), Direction: form.Get("Direction"), CallStatus: form.Get("CallStatus")}
	if !twilioSID(r.CallSID, "CA") {
		return TwilioVoiceRequest{}, fmt.Errorf("%w: CallSid %q", ErrBadWebhook, clip(r.CallSID))
	}
	if !twilioSID(r.AccountSID, "AC") {
		return TwilioVoiceRequest{}, fmt.Errorf("%w: AccountSid %q", ErrBadWebhook, clip(r.AccountSID))
	}
	if r.To == "" || len(r.To) > 256 || len(r.From) > 256 {
		return TwilioVoiceRequest{}, fmt.Errorf("%w: To and From are required", ErrBadWebhook)
	}
	if len(r.Direction) > 32 || len(r.CallStatus) > 32 {
		return TwilioVoiceRequest{}, fmt.Errorf("%w: Direction or CallStatus too long", ErrBadWebhook)
	}
	if !printable(r.From, r.To, r.Direction, r.CallStatus) {
		return TwilioVoiceRequest{}, fmt.Errorf("%w: control characters or invalid UTF-8", ErrBadWebhook)
	}
	return r, nil
}

// printable reports whether every value is valid UTF-8 without control
// characters: what a webhook field must be before it reaches a record
// (PostgreSQL refuses NUL in text).
func printable(vals ...string) bool {
	for _, v := range vals {
		if !utf8.ValidString(v) {
			return false
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f {
				return false
			}
		}
	}
	return true
}

func twilioSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, ch := range s[2:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", ch) {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// TwiMLReject refuses a call (what the SIP path would refuse).
const TwiMLReject = twilio.TwiMLReject

// TwiMLStream connects a call to the media websocket (twilio.TwiMLStream).
func TwiMLStream(streamURL string, params map[string]string) string {
	return twilio.TwiMLStream(streamURL, params)
}

// TwilioVoice answers Twilio's voice webhook. requestURI is the path and
// query Twilio requested (the signature covers PUBLIC_BASE_URL + it);
// signature is X-Twilio-Signature. It returns TwiML:
//
//   - a live outbound call (by CallSid) or an inbound call to an active
//     number with an assistant: <Connect><Stream> to /streams with the call
//     id and token as parameters (the inbound record is created, status
//     in-progress);
//   - a call the SIP path would refuse (unknown or inactive number, no
//     assistant, caller country not allowed): <Reject reason="rejected"/>,
//     with a refused record when the number has an organization.
//
// The signature is checked with the auth token creds.Resolver.WebhookKey
// picks: the call's (or number's) assistant's, else the organization's,
// else the environment's; for a number nobody owns, the environment's (without one, such a request gets the
// <Reject/> unverified: it changes nothing). A bad or unverifiable
// signature is ErrWebhookSignature and nothing is recorded.
func (h *Path) TwilioVoice(ctx context.Context, requestURI string, form url.Values, signature string) (string, error) {
	if h.opts.PublicBaseURL == "" {
		return "", numbers.ErrNoPublicURL
	}
	r, err := ParseTwilioVoiceForm(form)
	if err != nil {
		return "", err
	}
	fullURL := h.opts.PublicBaseURL + requestURI
	verify := func(org *db.Organization, a *db.Assistant) error {
		unowned := org == nil
		token, err := h.webhookKey(org, a, provider.NameTwilio)
		if err != nil {
			return err
		}
		if token == "" && unowned {
			// A number nobody owns, and no platform token to check with: the
			// answer is a <Reject/> that changes nothing.
			h.log.Warn("twilio webhook for an unknown number not verified: no environment auth token", "call_sid", r.CallSID)
			return nil
		}
		if err := twilio.VerifySignature(token, fullURL, form, signature); err != nil {
			h.log.Warn("twilio webhook refused: bad signature", "call_sid", r.CallSID, "err", err)
			return fmt.Errorf("%w: %w", ErrWebhookSignature, err)
		}
		return nil
	}

	// An outbound call we placed: Twilio fetches its TwiML once answered.
	if c := h.twilioOutbound(ctx, r); c != nil {
		org, err := h.store.GetOrg(ctx, c.orgID)
		if err != nil {
			return "", err
		}
		if err := verify(org, c.assistant); err != nil {
			return "", err
		}
		c.answered()
		if c.is(call.Connecting) { // a repeated request must not arm the watchdog of a live stream
			c.armTimer(h.opts.StreamTimeout, "STREAM_TIMEOUT", "the provider's media stream did not connect", true)
		}
		return TwiMLStream(h.StreamURL(), map[string]string{"call_id": c.id, "token": c.token}), nil
	}

	// Twilio retried the request of a live inbound call: the same answer,
	// no second record.
	if c := h.callBySID(provider.NameTwilio, r.CallSID); c != nil && !c.outbound {
		org, err := h.store.GetOrg(ctx, c.orgID)
		if err != nil {
			return "", err
		}
		if err := verify(org, c.assistant); err != nil {
			return "", err
		}
		return TwiMLStream(h.StreamURL(), map[string]string{"call_id": c.id, "token": c.token}), nil
	}

	to, from := normNumber(r.To), normNumber(r.From)
	rt := h.routeInbound(ctx, provider.NameTwilio, to, from)
	if err := verify(rt.Org, rt.Assistant); err != nil {
		return "", err
	}
	if rt.Assistant == nil {
		h.recordRefused(ctx, provider.NameTwilio, r.CallSID, rt, from, to)
		return TwiMLReject, nil
	}
	c, err := h.createInbound(ctx, provider.NameTwilio, r.CallSID, rt, from, to, db.CallInProgress)
	if err != nil {
		return "", err
	}
	c.info.CallSID = r.CallSID
	return TwiMLStream(h.StreamURL(), map[string]string{"call_id": c.id, "token": c.token}), nil
}

// normNumber returns an E.164 form of a provider's number ("+14155550100",
// or Vonage's "14155550100"); anything else is returned as is.
func normNumber(s string) string {
	s = strings.TrimSpace(s)
	if did.IsE164(s) {
		return s
	}
	if did.IsE164("+" + s) {
		return "+" + s
	}
	return s
}

// twilioOutbound finds the outbound call a voice webhook is for. Twilio
// requests the TwiML only after the callee answered, long after CreateCall
// returned; a short wait covers the CallSid not being stored yet.
func (h *Path) twilioOutbound(ctx context.Context, r TwilioVoiceRequest) *hostedCall {
	if c := h.callBySID(provider.NameTwilio, r.CallSID); c != nil {
		if !c.outbound {
			return nil // a live inbound call's CallSid: not one we placed
		}
		return c
	}
	// Wait (briefly) only when one of our outbound calls has no id yet:
	// an unsigned request naming a random CallSid must not hold a handler.
	if !strings.HasPrefix(r.Direction, "outbound") || !h.awaitingSID(provider.NameTwilio) {
		return nil
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(25 * time.Millisecond):
		}
		if c := h.callBySID(provider.NameTwilio, r.CallSID); c != nil && c.outbound {
			return c
		}
	}
	return nil
}

// Twilio call statuses that end a call before or without its stream.
var twilioFinal = map[string]bool{"completed": true, "busy": true, "no-answer": true, "failed": true, "canceled": true}

// TwilioStatus handles the status callback of an outbound call sipbridge
// placed (POST /twiml/status, same signature rule as /twiml): busy,
// no-answer, failed and canceled close the record as failed with that
// status as its cause; completed closes it (if the stream did not already).
// Callbacks of calls that are not live here are ignored.
func (h *Path) TwilioStatus(ctx context.Context, requestURI string, form url.Values, signature string) error {
	if h.opts.PublicBaseURL == "" {
		return numbers.ErrNoPublicURL
	}
	r, err := ParseTwilioVoiceForm(form)
	if err != nil {
		return err
	}
	c := h.callBySID(provider.NameTwilio, r.CallSID)
	if c == nil {
		return nil
	}
	if err := h.verifyTwilioCall(ctx, c, requestURI, form, signature); err != nil {
		return err
	}
	if twilioFinal[r.CallStatus] {
		c.event(call.EventProviderHangup, db.JSONMap{"status": r.CallStatus})
		c.finish(finishInfo{cause: r.CallStatus, reason: "provider status " + r.CallStatus, failed: r.CallStatus != "completed"})
	}
	return nil
}

// verifyTwilioCall checks the X-Twilio-Signature of a callback about a live
// call (status, AMD) with the auth token of its assistant, else of its
// organization, else the environment's.
func (h *Path) verifyTwilioCall(ctx context.Context, c *hostedCall, requestURI string, form url.Values, signature string) error {
	org, err := h.store.GetOrg(ctx, c.orgID)
	if err != nil {
		return err
	}
	token, err := h.webhookKey(org, c.assistant, provider.NameTwilio)
	if err != nil {
		return err
	}
	if err := twilio.VerifySignature(token, h.opts.PublicBaseURL+requestURI, form, signature); err != nil {
		h.log.Warn("twilio callback refused: bad signature", "call_sid", form.Get("CallSid"), "path", requestURI, "err", err)
		return fmt.Errorf("%w: %w", ErrWebhookSignature, err)
	}
	return nil
}

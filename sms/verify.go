package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/telnyx"
	"github.com/sipbridge/sipbridge/provider/twilio"
	"github.com/sipbridge/sipbridge/provider/vonage"
)

// WebhookRequest is what a provider's SMS webhook carried, as the HTTP
// layer read it.
type WebhookRequest struct {
	// URL is the request's URL (path and query as received).
	URL    *url.URL
	Header http.Header
	Body   []byte
	// MediaType is the Content-Type without its parameters.
	MediaType string
}

// RejectedError refuses a webhook (HTTP 403): unsigned, badly signed, or
// nothing to verify it with. Reason is for the log, never for the caller.
type RejectedError struct{ Reason error }

func (e *RejectedError) Error() string { return e.Reason.Error() }

// Unwrap returns the reason.
func (e *RejectedError) Unwrap() error { return e.Reason }

// MalformedError is a correctly signed webhook whose event cannot be read
// (HTTP 400).
type MalformedError struct{ Err error }

func (e *MalformedError) Error() string { return "malformed provider webhook: " + e.Err.Error() }

// Unwrap returns the parse error.
func (e *MalformedError) Unwrap() error { return e.Err }

// WebhookOutcome is what a verified webhook did: Status is received,
// duplicate, updated, held or ignored.
type WebhookOutcome struct {
	Status    string
	MessageID string
}

func reject(err error) error { return &RejectedError{Reason: err} }

// Webhook verifies an SMS webhook of providerName (twilio, telnyx, vonage)
// with the key of the organization owning the number it names, then acts on
// it: an inbound message is stored and forwarded, a delivery report applied.
// A *RejectedError or *MalformedError says why nothing was done.
func (s *Service) Webhook(ctx context.Context, providerName string, req WebhookRequest) (WebhookOutcome, error) {
	var (
		v   verified
		err error
	)
	switch providerName {
	case provider.NameTwilio:
		v, err = s.verifyTwilio(ctx, req)
	case provider.NameTelnyx:
		v, err = s.verifyTelnyx(ctx, req)
	case provider.NameVonage:
		v, err = s.verifyVonage(ctx, req)
	default:
		return WebhookOutcome{}, reject(fmt.Errorf("no SMS webhook for provider %q", providerName))
	}
	if err != nil {
		return WebhookOutcome{}, err
	}
	return s.handle(ctx, v.orgID, providerName, v.event)
}

// verified is a webhook whose signature checked out.
type verified struct {
	orgID int64
	event provider.SMSEvent
}

// webhookKey is what verifies one provider's webhooks for one organization:
// its own key when set, else the environment's.
type webhookKey struct {
	orgID int64
	key   string
}

// keyFor finds the organization a parsed event is about and its webhook key
// for providerName, or the rejection. The number of ours named in the event
// (the recipient of an inbound message, the sender of a reported one) finds
// it, else, for a delivery report, the provider's message id (an
// alphanumeric sender).
func (s *Service) keyFor(ctx context.Context, providerName string, ev provider.SMSEvent) (webhookKey, error) {
	id := ""
	if ev.Kind == provider.SMSEventStatus {
		id = ev.ProviderMessageID
	}
	k, err := s.webhookKey(ctx, providerName, ev.OwnNumber(), id)
	if errors.Is(err, ErrWebhookUnverifiable) {
		return k, reject(err)
	}
	return k, err
}

// webhookKey: ErrWebhookUnverifiable when no organization or no key is
// found.
func (s *Service) webhookKey(ctx context.Context, providerName, ownNumber, providerMessageID string) (webhookKey, error) {
	var k webhookKey
	orgID, ok, err := s.store.NumberOwner(ctx, ownNumber)
	if err != nil {
		return k, err
	}
	if !ok && providerMessageID != "" {
		if id, err := s.store.OutboundSMSOrg(ctx, providerName, providerMessageID); err == nil {
			orgID, ok = id, true
		}
	}
	if !ok {
		return k, fmt.Errorf("%w: %s is not a number of any organization", ErrWebhookUnverifiable, ownNumber)
	}
	org, err := s.store.GetOrg(ctx, orgID)
	if err != nil {
		return k, err
	}
	k.orgID = orgID
	// The number's assistant, as its messages are sent (sendCreds).
	var a *db.Assistant
	if nums, _, err := s.store.ListNumbers(ctx, orgID, db.NumberFilter{Exact: ownNumber}, db.Page{Limit: 1}); err != nil {
		return k, err
	} else if len(nums) == 1 {
		if id := firstNonNil(nums[0].AssistantID, nums[0].OutboundAssistantID); id != nil {
			if a, err = s.assistantOf(ctx, orgID, *id); err != nil {
				return k, err
			}
		}
	}
	if k.key, _, err = s.creds.WebhookKey(org, a, providerName); err != nil {
		return k, err
	}
	if k.key == "" {
		return k, fmt.Errorf("%w: organization %d has no %s webhook key (nor the environment)", ErrWebhookUnverifiable, orgID, providerName)
	}
	return k, nil
}

// handle acts on a verified event.
func (s *Service) handle(ctx context.Context, orgID int64, providerName string, ev provider.SMSEvent) (WebhookOutcome, error) {
	if ev.Kind == provider.SMSEventInbound {
		m, dup, err := s.Receive(ctx, orgID, providerName, ev)
		if err != nil {
			return WebhookOutcome{}, err
		}
		if dup {
			return WebhookOutcome{Status: "duplicate", MessageID: m.ID}, nil
		}
		return WebhookOutcome{Status: "received", MessageID: m.ID}, nil
	}
	if ev.Status == "" || ev.Status == provider.DeliverySent {
		return WebhookOutcome{Status: "ignored"}, nil
	}
	m, err := s.ApplyStatus(ctx, orgID, providerName, ev)
	if errors.Is(err, smsdb.ErrReportHeld) {
		// The report raced the end of the send: kept, applied when the send
		// is recorded.
		return WebhookOutcome{Status: "held"}, nil
	}
	if err != nil {
		return WebhookOutcome{}, err
	}
	return WebhookOutcome{Status: "updated", MessageID: m.ID}, nil
}

// verifyTwilio checks X-Twilio-Signature over the URL Twilio called
// (PUBLIC_BASE_URL and the request URI) and the form parameters, or the
// bodySHA256 of a JSON body.
func (s *Service) verifyTwilio(ctx context.Context, req WebhookRequest) (verified, error) {
	isJSON := req.MediaType == "application/json"
	var (
		params url.Values
		err    error
	)
	if isJSON {
		params, err = flatJSON(req.Body)
	} else {
		params, err = url.ParseQuery(string(req.Body))
	}
	if err != nil {
		return verified{}, reject(errors.New("unreadable body"))
	}
	ev, perr := twilio.ParseSMSWebhook(params)
	if perr != nil && ev.OwnNumber() == "" {
		return verified{}, reject(perr)
	}
	k, err := s.keyFor(ctx, provider.NameTwilio, ev)
	if err != nil {
		return verified{}, err
	}
	if s.opts.PublicBaseURL == "" {
		return verified{}, reject(errors.New("PUBLIC_BASE_URL is not set: the signed URL is unknown"))
	}
	full := s.opts.PublicBaseURL + req.URL.RequestURI()
	sig := req.Header.Get(twilio.SignatureHeader)
	if isJSON {
		err = twilio.VerifyBodySignature(k.key, full, req.Body, sig)
	} else {
		err = twilio.VerifySignature(k.key, full, params, sig)
	}
	if err != nil {
		return verified{}, reject(err)
	}
	if perr != nil {
		return verified{}, &MalformedError{Err: perr}
	}
	return verified{orgID: k.orgID, event: ev}, nil
}

// verifyTelnyx checks the Ed25519 signature over timestamp|body within its
// 5-minute window.
func (s *Service) verifyTelnyx(ctx context.Context, req WebhookRequest) (verified, error) {
	ev, perr := telnyx.ParseSMSWebhook(req.Body)
	if perr != nil && ev.OwnNumber() == "" {
		return verified{}, reject(perr)
	}
	k, err := s.keyFor(ctx, provider.NameTelnyx, ev)
	if err != nil {
		return verified{}, err
	}
	if err := telnyx.VerifyRequest(k.key, req.Header, req.Body, s.store.Now()); err != nil {
		return verified{}, reject(err)
	}
	if perr != nil {
		return verified{}, &MalformedError{Err: perr}
	}
	return verified{orgID: k.orgID, event: ev}, nil
}

// vonageSigMethods guesses the SMS API signature method from the length of
// the hex sig: 32 md5hash or md5 (HMAC), 40 sha1, 64 sha256, 128 sha512.
func vonageSigMethods(sig string) []string {
	switch len(sig) {
	case 32:
		return []string{vonage.SigMD5Hash, vonage.SigMD5}
	case 40:
		return []string{vonage.SigSHA1}
	case 64:
		return []string{vonage.SigSHA256}
	case 128:
		return []string{vonage.SigSHA512}
	}
	return nil
}

// verifyVonage checks a signed JWT (Authorization; its jti used once, in the
// cache shared with the voice webhooks) or the SMS API sig parameter.
func (s *Service) verifyVonage(ctx context.Context, req WebhookRequest) (verified, error) {
	params := req.URL.Query()
	var jsonBody []byte
	if len(bytes.TrimSpace(req.Body)) > 0 {
		if req.MediaType == "application/json" {
			jsonBody = req.Body
		} else {
			form, err := url.ParseQuery(string(req.Body))
			if err != nil {
				return verified{}, reject(errors.New("unreadable body"))
			}
			for k, vs := range form {
				params[k] = append(params[k], vs...)
			}
		}
	}
	ev, perr := vonage.ParseSMSWebhook(params, jsonBody)
	if perr != nil && ev.OwnNumber() == "" {
		return verified{}, reject(perr)
	}
	k, err := s.keyFor(ctx, provider.NameVonage, ev)
	if err != nil {
		return verified{}, err
	}
	now := s.store.Now()
	if auth := req.Header.Get("Authorization"); auth != "" {
		err = s.verifyVonageJWT(req, k.key, auth, now)
	} else {
		err = verifyVonageSig(params, jsonBody, k.key, now)
	}
	if err != nil {
		return verified{}, err
	}
	if perr != nil {
		return verified{}, &MalformedError{Err: perr}
	}
	return verified{orgID: k.orgID, event: ev}, nil
}

// verifyVonageJWT: a signed token covers the body only (payload_hash), so
// nothing is taken from the query and a body it covers is required.
func (s *Service) verifyVonageJWT(req WebhookRequest, secret, auth string, now time.Time) error {
	if req.URL.RawQuery != "" || len(bytes.TrimSpace(req.Body)) == 0 {
		return reject(errors.New("a signed JWT webhook must carry its data in the signed body, not the query"))
	}
	claims, err := vonage.VerifyJWT(secret, auth, req.Body, now)
	if err == nil && s.opts.VonageReplays.Seen(claims.JTI, now) {
		err = errors.New("JWT already used (jti replayed)")
	}
	if err != nil {
		return reject(err)
	}
	return nil
}

// verifyVonageSig checks the SMS API sig over the parameters (query and
// form, or the JSON body's).
func verifyVonageSig(params url.Values, jsonBody []byte, secret string, now time.Time) error {
	signed := params
	if jsonBody != nil {
		var err error
		if signed, err = flatJSON(jsonBody); err != nil {
			return reject(errors.New("unreadable body"))
		}
	}
	err := errors.New("neither a signed JWT (Authorization) nor a sig parameter")
	for _, method := range vonageSigMethods(signed.Get("sig")) {
		if err = vonage.VerifySMSSignature(signed, secret, method, now); err == nil {
			return nil
		}
	}
	return reject(err)
}

// flatJSON reads a JSON object of scalars as parameters.
func flatJSON(body []byte) (url.Values, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	out := url.Values{}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out.Set(k, x)
		case json.Number:
			out.Set(k, x.String())
		case bool:
			out.Set(k, strconv.FormatBool(x))
		default: // nested objects are not covered by the sig: refuse them
			return nil, errors.New("nested JSON values are not signed by sig")
		}
	}
	return out, nil
}

package sms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"strconv"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/hooksign"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/ratelimit"
)

// MessageIDHeader names the forwarded message (the signature and attempt
// headers are hooksign's, shared with calls' status callbacks).
const MessageIDHeader = "X-Sipbridge-Message-Id"

// ErrForwardNotConnected is every failed POST to an assistant that got no
// HTTP answer: a refused connection, a timeout, an address the policy
// refuses, a TLS failure. It is what last_error shows, so a tenant cannot
// tell an open port from a closed or a forbidden one; the log has the cause.
var ErrForwardNotConnected = errors.New("could not connect to the assistant's sms_webhook_url")

// ErrNoWebhookSecret: the assistant has no forwarding secret yet.
var ErrNoWebhookSecret = errors.New("the assistant has no SMS webhook secret: create one with POST /api/v1/assistants/{id}/sms-webhook-secret")

// RotateWebhookSecret makes a new forwarding secret for one of the
// organization's assistants, replacing the old one, and returns it: the only
// time it is shown.
func (s *Service) RotateWebhookSecret(ctx context.Context, orgID int64, assistantID string) (string, error) {
	if _, err := s.store.GetAssistant(ctx, orgID, assistantID); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return "", numbers.ErrAssistantNotFound
		}
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := "whsec_" + hex.EncodeToString(b)
	if err := s.store.SetSMSWebhookSecret(ctx, orgID, assistantID, secret); err != nil {
		return "", err
	}
	s.opts.Log.Info("sms webhook secret rotated", "org_id", orgID, "assistant_id", assistantID)
	wake(s.wakeF) // forwards held for want of a secret can go now
	return secret, nil
}

// RunForwards delivers queued forwards until ctx ends.
func (s *Service) RunForwards(ctx context.Context) {
	runLeased(ctx, s, "forward", s.wakeF,
		func(ctx context.Context, owner string) ([]db.SMSForward, error) {
			return s.store.ClaimForwards(ctx, owner, s.opts.Lease, s.opts.Batch)
		},
		func(ctx context.Context, f *db.SMSForward, owner string) {
			s.forward(context.WithoutCancel(ctx), f, owner)
		},
		func(ctx context.Context, f *db.SMSForward, owner string) error {
			return s.store.ReleaseForward(ctx, f.ID, owner)
		})
}

// forward posts one forward and records the outcome.
func (s *Service) forward(ctx context.Context, f *db.SMSForward, owner string) {
	log := s.opts.Log.With("org_id", f.OrgID, "sms_id", f.MessageID, "assistant_id", f.AssistantID)
	if ok, err := s.store.RenewForwardLease(ctx, f.ID, owner, s.opts.Lease); err != nil || !ok {
		log.Warn("sms forward lease lost before posting", "err", err)
		return
	}
	err := s.post(ctx, f, log)
	var rerr error
	switch {
	case err == nil:
		rerr = s.store.ForwardDelivered(ctx, f.ID, owner)
		log.Info("sms forwarded", "attempt", f.Attempts+1)
	case s.store.Now().Sub(f.CreatedAt) > s.opts.ForwardMaxAge:
		rerr = s.store.FailForward(ctx, f.ID, owner, "gave up: "+err.Error())
		log.Error("sms forward given up", "attempts", f.Attempts+1, "err", err)
	default:
		next := s.store.Now().Add(ratelimit.Backoff(s.opts.RetryBase, s.opts.RetryMax, f.Attempts+1))
		rerr = s.store.RetryForward(ctx, f.ID, owner, next, err.Error())
		log.Warn("sms forward failed, will retry", "attempt", f.Attempts+1, "next_attempt_at", next, "err", err)
	}
	if rerr != nil {
		log.Error("sms forward outcome not recorded", "err", rerr)
	}
}

func (s *Service) post(ctx context.Context, f *db.SMSForward, log *slog.Logger) error {
	a, err := s.store.GetAssistant(ctx, f.OrgID, f.AssistantID)
	if err != nil {
		return err
	}
	url := a.SMSWebhookURL // the current one: a fixed URL takes effect on the next attempt
	if url == "" {
		url = f.URL
	}
	secret, err := s.store.SMSWebhookSecret(ctx, f.AssistantID)
	if errors.Is(err, db.ErrNotFound) {
		return ErrNoWebhookSecret
	}
	if err != nil {
		return err
	}
	body := []byte(f.Payload)
	ctx, cancel := context.WithTimeout(ctx, s.opts.ForwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bad sms_webhook_url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sipbridge")
	req.Header.Set(hooksign.SignatureHeader, hooksign.Sign(secret, body))
	req.Header.Set(MessageIDHeader, f.MessageID)
	req.Header.Set(hooksign.AttemptHeader, strconv.Itoa(f.Attempts+1))
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		var ue *neturl.Error // its message holds the URL, whose query may hold a token
		if errors.As(err, &ue) {
			err = ue.Err
		}
		log.Info("sms forward not delivered", "attempt", f.Attempts+1, "cause", netpolicy.Detail(err))
		return ErrForwardNotConnected
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("assistant answered HTTP %d", resp.StatusCode)
	}
	return nil
}

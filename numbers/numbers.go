// Package numbers owns an organization's phone numbers: search, purchase
// (with the provider webhooks pointed at sipbridge), byo-sip-trunk
// registration, release, the webhooks of a number and the import of the
// numbers owned at a provider. Provider credentials come from creds.
package numbers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/creds"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/clients"
)

var (
	// ErrNumberOwned: the number is already registered (by any organization).
	ErrNumberOwned = errors.New("phone number already registered")
	// ErrAssistantNotFound: the assistant is not one of the organization's.
	ErrAssistantNotFound = errors.New("assistant not found")
	// ErrTrunkNotFound: the SIP trunk is not one of the organization's.
	ErrTrunkNotFound = errors.New("SIP trunk not found")
	// ErrNumberNotFound: the number is not one of the organization's.
	ErrNumberNotFound = errors.New("phone number not found")
	// ErrProviderMismatch: the provider named does not own the number.
	ErrProviderMismatch = errors.New("the number belongs to another provider")
	// ErrNoPublicURL: PUBLIC_BASE_URL is needed to point provider webhooks at us.
	ErrNoPublicURL = errors.New("PUBLIC_BASE_URL is not configured, so provider webhooks cannot point at sipbridge")
	// ErrVoiceOnly: the operation needs a hosted provider.
	ErrVoiceOnly = errors.New("byo-sip-trunk numbers have no provider account (voice only)")
)

// DefaultTrunkFinder finds the trunk a byo-sip-trunk number goes on when
// the purchase names none (the organization's default trunk, else its
// highest-priority one, else its copy of the environment's; an error when it
// has none). The trunk service implements it; app wires it.
type DefaultTrunkFinder interface {
	DefaultFor(ctx context.Context, orgID int64) (*db.SIPTrunk, error)
}

// Options configures the phone-number service.
type Options struct {
	PublicBaseURL  string
	ProviderConfig provider.Config
	// Env is the environment level of credential resolution.
	Env provider.Credentials
	Log *slog.Logger
	// Now is the clock (default time.Now): purchase_details.date_created
	// when the provider's answer has none (Vonage, byo-sip-trunk).
	Now func() time.Time
}

// Service buys, registers, releases and configures phone numbers.
type Service struct {
	store  *db.Store
	trunks DefaultTrunkFinder
	creds  *creds.Resolver
	opts   Options
}

// New returns the phone-number service; trunks places byo-sip-trunk numbers
// registered without a trunk.
func New(store *db.Store, trunks DefaultTrunkFinder, opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.PublicBaseURL = strings.TrimRight(opts.PublicBaseURL, "/")
	return &Service{store: store, trunks: trunks, creds: creds.New(store, opts.Env), opts: opts}
}

// Creds is the credential resolver the service uses.
func (n *Service) Creds() *creds.Resolver { return n.creds }

// client builds a provider client for number management: the
// organization's complete credentials for that provider, else the
// environment's (creds.Messaging).
func (n *Service) client(ctx context.Context, orgID int64, name string) (provider.Provider, error) {
	org, err := n.store.GetOrg(ctx, orgID)
	if err != nil {
		return nil, err
	}
	c, _, err := n.creds.For(org, nil, name, creds.Messaging)
	if err != nil {
		return nil, err
	}
	return clients.New(name, c, n.opts.ProviderConfig)
}

// Search lists numbers available at a provider.
func (n *Service) Search(ctx context.Context, orgID int64, name string, q provider.SearchQuery) ([]provider.AvailableNumber, error) {
	if name == db.ProviderBYOSIP {
		return nil, ErrVoiceOnly
	}
	p, err := n.client(ctx, orgID, name)
	if err != nil {
		return nil, err
	}
	return p.SearchNumbers(ctx, q)
}

// PurchaseInput is a validated purchase (or byo-sip-trunk registration).
type PurchaseInput struct {
	PhoneNumber        string
	Provider           string
	CountryCode        string
	AssistantID        string
	FriendlyName       string
	MessagingProfileID string
	SIPTrunkID         string
}

// PurchaseResult is what a purchase did.
type PurchaseResult struct {
	Number  *db.PhoneNumber
	Details map[string]any
}

// WebhookURLs are the provider webhooks sipbridge points a number of the
// provider at (none for byo-sip-trunk: calls come over the trunk).
func (n *Service) WebhookURLs(name string) (voice, sms string, err error) {
	if n.opts.PublicBaseURL == "" {
		return "", "", ErrNoPublicURL
	}
	b := n.opts.PublicBaseURL
	switch name {
	case provider.NameTwilio:
		return b + "/twiml", b + "/webhooks/sms/twilio", nil
	case provider.NameTelnyx:
		return b + "/telnyx-webhook", b + "/webhooks/sms/telnyx", nil
	case provider.NameVonage:
		return b + "/vonage-webhook", b + "/webhooks/sms/vonage", nil
	}
	return "", "", nil
}

// Purchase buys the number at its provider, points its webhooks at
// sipbridge and records it; byo-sip-trunk records it on a trunk. A failed
// purchase leaves no record; a record that cannot be saved after a
// successful purchase is released again at the provider.
func (n *Service) Purchase(ctx context.Context, orgID int64, in PurchaseInput) (*PurchaseResult, error) {
	if owner, owned, err := n.store.NumberOwner(ctx, in.PhoneNumber); err != nil {
		return nil, err
	} else if owned {
		n.opts.Log.Info("purchase refused: number already registered", "org_id", orgID, "owner_org_id", owner, "phone_number", in.PhoneNumber)
		return nil, ErrNumberOwned
	}
	rec := &db.PhoneNumber{OrgID: orgID, PhoneNumber: in.PhoneNumber, Provider: in.Provider, CountryCode: in.CountryCode,
		FriendlyName: in.FriendlyName, IsActive: true, CapVoice: true}
	if err := n.attach(ctx, orgID, in, rec); err != nil {
		return nil, err
	}
	res := &PurchaseResult{Number: rec, Details: map[string]any{}}
	if in.Provider == db.ProviderBYOSIP {
		return n.register(ctx, orgID, res)
	}
	return n.buy(ctx, orgID, in, res)
}

// attach checks the assistant and the trunk a purchase names and puts them
// on the record.
func (n *Service) attach(ctx context.Context, orgID int64, in PurchaseInput, rec *db.PhoneNumber) error {
	if in.AssistantID != "" {
		if _, err := n.store.GetAssistant(ctx, orgID, in.AssistantID); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return ErrAssistantNotFound
			}
			return err
		}
		id := in.AssistantID
		rec.AssistantID = &id
	}
	if in.SIPTrunkID != "" {
		if _, err := n.store.GetTrunk(ctx, orgID, in.SIPTrunkID); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return ErrTrunkNotFound
			}
			return err
		}
		id := in.SIPTrunkID
		rec.SIPTrunkID = &id
	}
	return nil
}

// register records a byo-sip-trunk number on its trunk: the one named, else
// the organization's default (DefaultTrunkFinder).
func (n *Service) register(ctx context.Context, orgID int64, res *PurchaseResult) (*PurchaseResult, error) {
	rec := res.Number
	if rec.SIPTrunkID == nil {
		t, err := n.trunks.DefaultFor(ctx, orgID)
		if err != nil {
			return nil, err
		}
		rec.SIPTrunkID = &t.ID
	}
	res.Details["sip_trunk_id"] = *rec.SIPTrunkID
	res.Details["date_created"] = n.opts.Now().UTC().Format(time.RFC3339)
	if err := n.store.SaveNumber(ctx, rec); err != nil {
		if errors.Is(err, db.ErrConflict) {
			return nil, ErrNumberOwned
		}
		return nil, err
	}
	return res, nil
}

// buy buys the number at its provider with its webhooks pointed at
// sipbridge and records it, releasing it again when the record fails.
func (n *Service) buy(ctx context.Context, orgID int64, in PurchaseInput, res *PurchaseResult) (*PurchaseResult, error) {
	rec := res.Number
	voiceURL, smsURL, err := n.WebhookURLs(in.Provider)
	if err != nil {
		return nil, err
	}
	p, err := n.client(ctx, orgID, in.Provider)
	if err != nil {
		return nil, err
	}
	req := provider.PurchaseRequest{PhoneNumber: in.PhoneNumber, CountryCode: in.CountryCode, FriendlyName: in.FriendlyName,
		VoiceURL: voiceURL, SMSURL: smsURL, MessagingProfileID: in.MessagingProfileID}
	if in.Provider == provider.NameTelnyx {
		org, err := n.store.GetOrg(ctx, orgID)
		if err != nil {
			return nil, err
		}
		req.ConnectionID = firstString(org.Settings.TelnyxConnectionID, envTelnyx(n.opts.Env).ConnectionID)
		if req.MessagingProfileID == "" {
			req.MessagingProfileID = org.Settings.TelnyxMessagingProfID
		}
	}
	bought, err := p.Purchase(ctx, req)
	if err != nil {
		if bought.ProviderID == "" {
			return nil, err
		}
		// Paid for but not fully configured (Vonage buy then update): keep
		// the record so the number is not lost, and report the error.
		n.opts.Log.Warn("number bought but its webhooks were not configured", "org_id", orgID, "phone_number", in.PhoneNumber, "err", err)
	}
	rec.ProviderID = bought.ProviderID
	for k, v := range bought.Details {
		res.Details[k] = v
	}
	if d, _ := res.Details["date_created"].(string); d == "" {
		res.Details["date_created"] = n.opts.Now().UTC().Format(time.RFC3339)
	}
	if saveErr := n.store.SaveNumber(ctx, rec); saveErr != nil {
		n.opts.Log.Error("purchased number not recorded; releasing it at the provider", "org_id", orgID, "phone_number", in.PhoneNumber, "err", saveErr)
		if relErr := p.Release(ctx, firstString(bought.ProviderID, in.PhoneNumber)); relErr != nil {
			n.opts.Log.Error("release after a failed record failed: release it by hand", "phone_number", in.PhoneNumber, "err", relErr)
		}
		if errors.Is(saveErr, db.ErrConflict) {
			return nil, ErrNumberOwned
		}
		return nil, saveErr
	}
	return res, err
}

func envTelnyx(c provider.Credentials) provider.TelnyxCreds {
	if c.Telnyx == nil {
		return provider.TelnyxCreds{}
	}
	return *c.Telnyx
}

func firstString(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// numberOf returns the organization's record of an E.164 number.
func (n *Service) numberOf(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, error) {
	return Lookup(ctx, n.store, orgID, e164)
}

// Lookup returns the organization's record of an E.164 number, active or
// not; ErrNumberNotFound when it has none.
func Lookup(ctx context.Context, store *db.Store, orgID int64, e164 string) (*db.PhoneNumber, error) {
	recs, _, err := store.ListNumbers(ctx, orgID, db.NumberFilter{Exact: e164}, db.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNumberNotFound
	}
	return &recs[0], nil
}

// Release gives the number back to its provider and deletes the record.
func (n *Service) Release(ctx context.Context, orgID int64, e164, providerName string) (*db.PhoneNumber, error) {
	rec, err := n.numberOf(ctx, orgID, e164)
	if err != nil {
		return nil, err
	}
	if providerName != "" && providerName != rec.Provider {
		return nil, ErrProviderMismatch
	}
	if rec.Provider != db.ProviderBYOSIP {
		p, err := n.client(ctx, orgID, rec.Provider)
		if err != nil {
			return nil, err
		}
		if err := p.Release(ctx, firstString(rec.ProviderID, rec.PhoneNumber)); err != nil && !errors.Is(err, provider.ErrNotFound) {
			return nil, err
		}
	}
	if err := n.store.DeleteNumber(ctx, orgID, rec.ID); err != nil {
		return nil, err
	}
	return rec, nil
}

// Webhooks reads the number's webhooks at its provider.
func (n *Service) Webhooks(ctx context.Context, orgID int64, e164 string) (*db.PhoneNumber, provider.Webhooks, error) {
	rec, err := n.numberOf(ctx, orgID, e164)
	if err != nil {
		return nil, provider.Webhooks{}, err
	}
	if rec.Provider == db.ProviderBYOSIP {
		return rec, provider.Webhooks{}, ErrVoiceOnly
	}
	p, err := n.client(ctx, orgID, rec.Provider)
	if err != nil {
		return nil, provider.Webhooks{}, err
	}
	w, err := p.GetWebhooks(ctx, firstString(rec.ProviderID, rec.PhoneNumber))
	return rec, w, err
}

// WebhookUpdate changes a number's webhooks.
type WebhookUpdate struct {
	VoiceURL   string // empty: leave alone
	EnableSMS  bool   // point SMS at sipbridge and mark the number SMS-capable
	DisableSMS bool   // remove the provider's SMS webhook and mark the number not SMS-capable
}

// SetWebhooks updates the number's webhooks at its provider.
func (n *Service) SetWebhooks(ctx context.Context, orgID int64, e164 string, u WebhookUpdate) (*db.PhoneNumber, provider.Webhooks, error) {
	rec, err := n.numberOf(ctx, orgID, e164)
	if err != nil {
		return nil, provider.Webhooks{}, err
	}
	if rec.Provider == db.ProviderBYOSIP {
		return nil, provider.Webhooks{}, ErrVoiceOnly
	}
	p, err := n.client(ctx, orgID, rec.Provider)
	if err != nil {
		return nil, provider.Webhooks{}, err
	}
	w := provider.Webhooks{VoiceURL: u.VoiceURL, ClearSMS: u.DisableSMS}
	if u.EnableSMS {
		_, sms, err := n.WebhookURLs(rec.Provider)
		if err != nil {
			return nil, provider.Webhooks{}, err
		}
		w.SMSURL = sms
	}
	id := firstString(rec.ProviderID, rec.PhoneNumber)
	if w != (provider.Webhooks{}) {
		if err := p.ConfigureWebhooks(ctx, id, w); err != nil {
			return nil, provider.Webhooks{}, err
		}
	}
	if u.EnableSMS || u.DisableSMS {
		rec.CapSMS = u.EnableSMS
		if err := n.store.SaveNumber(ctx, rec); err != nil {
			return nil, provider.Webhooks{}, err
		}
	}
	got, err := p.GetWebhooks(ctx, id)
	return rec, got, err
}

// Sync imports the numbers the organization owns at the providers it has
// credentials for (organization level only: the environment's account is the
// platform's, not the organization's). Numbers already registered are skipped.
func (n *Service) Sync(ctx context.Context, orgID int64) (int, error) {
	org, err := n.store.GetOrg(ctx, orgID)
	if err != nil {
		return 0, err
	}
	oc, err := n.creds.Organization(org)
	if err != nil {
		return 0, err
	}
	synced := 0
	for _, name := range []string{provider.NameTwilio, provider.NameTelnyx, provider.NameVonage} {
		c := oc.Only(name)
		if c == (provider.Credentials{}) {
			continue
		}
		p, err := clients.New(name, c, n.opts.ProviderConfig)
		if err != nil {
			return synced, err
		}
		owned, err := p.ListOwned(ctx)
		if err != nil {
			return synced, fmt.Errorf("%s: %w", name, err)
		}
		for _, o := range owned {
			if _, taken, err := n.store.NumberOwner(ctx, o.PhoneNumber); err != nil {
				return synced, err
			} else if taken {
				continue
			}
			rec := &db.PhoneNumber{OrgID: orgID, PhoneNumber: o.PhoneNumber, Provider: name, ProviderID: o.ProviderID,
				FriendlyName: o.FriendlyName, CountryCode: o.CountryCode, IsActive: true,
				CapVoice: o.Capabilities.Voice, CapSMS: o.Capabilities.SMS, CapMMS: o.Capabilities.MMS}
			if err := n.store.SaveNumber(ctx, rec); err != nil {
				if errors.Is(err, db.ErrConflict) {
					continue
				}
				return synced, err
			}
			synced++
		}
	}
	return synced, nil
}

// Package creds decides which provider credentials sipbridge uses: the one
// place holding the rule, for the API's resolved_provider, hosted calls,
// number management, SMS sending and webhook verification.
//
// # The rule
//
// Credentials exist at three levels, most specific first: the assistant's
// own (Twilio, Telnyx), the organization's, and the environment's (the
// platform's, from TWILIO_*, TELNYX_*, VONAGE_*).
//
//   - Traffic of an assistant (a hosted call, a message sent from or
//     received on a number of the assistant): for the number's provider X,
//     the first of assistant, organization, environment whose X credentials
//     are complete for the purpose wins. Incomplete credentials at a level
//     are skipped, never half-used.
//   - Without an assistant (managing the organization's numbers, a webhook
//     about a number without one): organization, then environment.
//   - Purpose Voice needs what places and controls calls (Twilio account SID
//     and auth token, Telnyx API key and connection id, Vonage application id
//     and private key); Messaging what sends messages and manages numbers
//     (Twilio SID and token, Telnyx API key, Vonage API key and secret).
//   - resolved_provider (Resolver.Voice): the first level holding complete
//     voice credentials for any provider, Telnyx before Twilio before Vonage
//     within it. So when it names X at level L, a call on an X number of that
//     assistant uses exactly level L's X credentials: no level before L has
//     complete credentials for anything.
//   - A webhook is verified with the key (Twilio auth token, Telnyx public
//     key, Vonage signature secret) of the first of the same levels that has
//     one.
package creds

import (
	"context"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
)

// Credential levels, most specific first.
const (
	LevelAssistant    = "assistant"
	LevelOrganization = "organization"
	LevelEnvironment  = "environment"
)

// Purpose is what the credentials are for; it decides when a level's
// credentials are complete.
type Purpose int

const (
	// Voice: place, answer, hang up and transfer calls.
	Voice Purpose = iota
	// Messaging: send messages and manage numbers.
	Messaging
)

// Store is what the resolver reads: the organization and the sealed
// secrets of organizations and assistants.
type Store interface {
	GetOrg(ctx context.Context, id int64) (*db.Organization, error)
	OrgSecrets(org *db.Organization) (db.OrgSecrets, error)
	AssistantSecrets(a *db.Assistant) (db.AssistantSecrets, error)
}

// Level is the credentials found at one level.
type Level struct {
	// Name is LevelAssistant, LevelOrganization or LevelEnvironment.
	Name  string
	Creds provider.Credentials
}

// Resolver applies the rule to the store's organizations and assistants
// and the environment's credentials.
type Resolver struct {
	store Store
	env   provider.Credentials
}

// New returns the resolver; env is the environment level.
func New(store Store, env provider.Credentials) *Resolver {
	return &Resolver{store: store, env: env}
}

// Env returns the environment level's credentials.
func (r *Resolver) Env() provider.Credentials { return r.env }

// Levels assembles the levels in order: the assistant's (when a is not nil),
// the organization's (when org is not nil), the environment's.
func (r *Resolver) Levels(org *db.Organization, a *db.Assistant) ([]Level, error) {
	var out []Level
	if a != nil {
		c, err := r.assistant(a)
		if err != nil {
			return nil, err
		}
		out = append(out, Level{LevelAssistant, c})
	}
	if org != nil {
		c, err := r.Organization(org)
		if err != nil {
			return nil, err
		}
		out = append(out, Level{LevelOrganization, c})
	}
	return append(out, Level{LevelEnvironment, r.env}), nil
}

// Organization assembles the organization's own credentials (no
// environment fallback); a provider is nil when it has nothing for it.
func (r *Resolver) Organization(org *db.Organization) (provider.Credentials, error) {
	sec, err := r.store.OrgSecrets(org)
	if err != nil {
		return provider.Credentials{}, err
	}
	st := org.Settings
	var c provider.Credentials
	if st.TwilioAccountSID != "" || sec.TwilioAuthToken != "" {
		c.Twilio = &provider.TwilioCreds{AccountSID: st.TwilioAccountSID, AuthToken: sec.TwilioAuthToken}
	}
	if sec.TelnyxAPIKey != "" || st.TelnyxConnectionID != "" || st.TelnyxPublicKey != "" || st.TelnyxMessagingProfID != "" {
		c.Telnyx = &provider.TelnyxCreds{APIKey: sec.TelnyxAPIKey, ConnectionID: st.TelnyxConnectionID, PublicKey: st.TelnyxPublicKey, MessagingProfileID: st.TelnyxMessagingProfID}
	}
	if st.VonageAPIKey != "" || sec.VonageAPISecret != "" || st.VonageApplicationID != "" || sec.VonageSignatureSecret != "" {
		c.Vonage = &provider.VonageCreds{APIKey: st.VonageAPIKey, APISecret: sec.VonageAPISecret, ApplicationID: st.VonageApplicationID,
			PrivateKey: sec.VonagePrivateKey, SignatureSecret: sec.VonageSignatureSecret}
	}
	return c, nil
}

// assistant assembles the assistant's own credentials (Twilio, Telnyx).
func (r *Resolver) assistant(a *db.Assistant) (provider.Credentials, error) {
	sec, err := r.store.AssistantSecrets(a)
	if err != nil {
		return provider.Credentials{}, err
	}
	var c provider.Credentials
	if a.Config.TwilioAccountSID != "" || sec.TwilioAuthToken != "" {
		c.Twilio = &provider.TwilioCreds{AccountSID: a.Config.TwilioAccountSID, AuthToken: sec.TwilioAuthToken}
	}
	if sec.TelnyxAPIKey != "" || a.Config.TelnyxConnectionID != "" {
		c.Telnyx = &provider.TelnyxCreds{APIKey: sec.TelnyxAPIKey, ConnectionID: a.Config.TelnyxConnectionID}
	}
	return c, nil
}

// Voice tells which provider and level the assistant's voice calls use when
// its number's provider is the one named (resolved_provider): see the
// package rule. ok is false when no level has complete voice credentials.
func (r *Resolver) Voice(ctx context.Context, a *db.Assistant) (name, level string, ok bool, err error) {
	org, err := r.store.GetOrg(ctx, a.OrgID)
	if err != nil {
		return "", "", false, err
	}
	levels, err := r.Levels(org, a)
	if err != nil {
		return "", "", false, err
	}
	name, level, ok = PickVoice(levels)
	return name, level, ok, nil
}

// For returns the credentials (the named provider's alone) and the level
// used for traffic of the organization through that provider: the first of
// the assistant (when a is not nil), the organization (when org is not nil)
// and the environment whose credentials are complete for the purpose.
// Nothing complete is a *provider.Error of kind ErrInvalidCredentials.
func (r *Resolver) For(org *db.Organization, a *db.Assistant, name string, p Purpose) (provider.Credentials, string, error) {
	levels, err := r.Levels(org, a)
	if err != nil {
		return provider.Credentials{}, "", err
	}
	c, level, ok := Pick(levels, name, p)
	if !ok {
		what := "voice"
		if p == Messaging {
			what = "messaging"
		}
		return c, "", &provider.Error{Provider: name, Kind: provider.ErrInvalidCredentials,
			Message: "no complete " + name + " " + what + " credentials for the " + levelNames(levels)}
	}
	return c, level, nil
}

// WebhookKey returns the key verifying the named provider's webhooks (Twilio
// auth token, Telnyx public key, Vonage signature secret) from the first of
// the levels (as For) that has one; "" when none has.
func (r *Resolver) WebhookKey(org *db.Organization, a *db.Assistant, name string) (key, level string, err error) {
	levels, err := r.Levels(org, a)
	if err != nil {
		return "", "", err
	}
	key, level = PickWebhookKey(levels, name)
	return key, level, nil
}

func levelNames(levels []Level) string {
	s := ""
	for i, l := range levels {
		switch {
		case i == 0:
		case i == len(levels)-1:
			s += " or "
		default:
			s += ", "
		}
		s += l.Name
	}
	return s
}

// PickVoice is the resolved_provider rule on assembled levels: the first
// level holding complete voice credentials for any provider wins; within a
// level Telnyx comes before Twilio, then Vonage.
func PickVoice(levels []Level) (name, level string, ok bool) {
	for _, l := range levels {
		for _, name := range []string{provider.NameTelnyx, provider.NameTwilio, provider.NameVonage} {
			if l.Creds.VoiceReady(name) {
				return name, l.Name, true
			}
		}
	}
	return "", "", false
}

// Pick is the traffic rule on assembled levels: the named provider's
// credentials of the first level where they are complete for the purpose.
func Pick(levels []Level, name string, p Purpose) (provider.Credentials, string, bool) {
	for _, l := range levels {
		ready := l.Creds.VoiceReady(name)
		if p == Messaging {
			ready = l.Creds.MessagingReady(name)
		}
		if ready {
			return l.Creds.Only(name), l.Name, true
		}
	}
	return provider.Credentials{}, "", false
}

// PickWebhookKey is the webhook rule on assembled levels: the named
// provider's key of the first level that has one.
func PickWebhookKey(levels []Level, name string) (key, level string) {
	for _, l := range levels {
		k := ""
		switch {
		case name == provider.NameTwilio && l.Creds.Twilio != nil:
			k = l.Creds.Twilio.AuthToken
		case name == provider.NameTelnyx && l.Creds.Telnyx != nil:
			k = l.Creds.Telnyx.PublicKey
		case name == provider.NameVonage && l.Creds.Vonage != nil:
			k = l.Creds.Vonage.SignatureSecret
		}
		if k != "" {
			return k, l.Name
		}
	}
	return "", ""
}

package provider

import "strings"

// Credential levels, most specific first.
const (
	LevelAssistant    = "assistant"
	LevelOrganization = "organization"
	LevelEnvironment  = "environment"
)

// TwilioCreds authenticate against the Twilio REST API.
type TwilioCreds struct {
	AccountSID string
	AuthToken  string
}

// TelnyxCreds authenticate against the Telnyx API v2.
type TelnyxCreds struct {
	APIKey string
	// ConnectionID is the Call Control connection used to place calls and
	// assigned to purchased numbers.
	ConnectionID string
	// PublicKey (base64 Ed25519) verifies Telnyx webhooks.
	PublicKey string
	// MessagingProfileID is assigned to purchased numbers and used to send.
	MessagingProfileID string
}

// VonageCreds authenticate against the Vonage APIs.
type VonageCreds struct {
	// APIKey and APISecret authenticate the Numbers and SMS APIs.
	APIKey    string
	APISecret string
	// ApplicationID and PrivateKey (PEM, RSA) sign the JWTs of the Voice
	// and Messages APIs.
	ApplicationID string
	PrivateKey    string
	// SignatureSecret verifies signed webhooks.
	SignatureSecret string
}

// Credentials holds the credentials of one level (assistant, organization
// or environment); nil means none for that provider.
type Credentials struct {
	Twilio *TwilioCreds
	Telnyx *TelnyxCreds
	Vonage *VonageCreds
}

// Level is the credentials found at one level, for ResolveVoice.
type Level struct {
	// Name is LevelAssistant, LevelOrganization or LevelEnvironment.
	Name  string
	Creds Credentials
}

func set(s string) bool { return strings.TrimSpace(s) != "" }

// voiceReady: enough to place and control calls.
func (c *TwilioCreds) voiceReady() bool { return c != nil && set(c.AccountSID) && set(c.AuthToken) }
func (c *TelnyxCreds) voiceReady() bool { return c != nil && set(c.APIKey) && set(c.ConnectionID) }
func (c *VonageCreds) voiceReady() bool {
	return c != nil && set(c.ApplicationID) && set(c.PrivateKey)
}

// messagingReady: enough to send messages and manage numbers.
func (c *TwilioCreds) messagingReady() bool { return c.voiceReady() }
func (c *TelnyxCreds) messagingReady() bool { return c != nil && set(c.APIKey) }
func (c *VonageCreds) messagingReady() bool {
	return c != nil && set(c.APIKey) && set(c.APISecret)
}

// ResolveVoice picks the provider for voice: the first level (in the order
// given, normally assistant, organization, environment) that holds complete
// voice credentials wins; within a level Telnyx comes before Twilio, then
// Vonage. Complete means: Telnyx API key and connection id, Twilio account
// SID and auth token, Vonage application id and private key. ok is false
// when no level has any.
func ResolveVoice(levels ...Level) (provider, level string, ok bool) {
	for _, l := range levels {
		switch {
		case l.Creds.Telnyx.voiceReady():
			return NameTelnyx, l.Name, true
		case l.Creds.Twilio.voiceReady():
			return NameTwilio, l.Name, true
		case l.Creds.Vonage.voiceReady():
			return NameVonage, l.Name, true
		}
	}
	return "", "", false
}

// ResolveSMS picks the credentials to send a message from a number: the
// number's own provider (NameTwilio, NameTelnyx, NameVonage), with the
// organization's credentials for it when complete, else the environment's.
// The result holds only that provider's credentials; level is
// LevelOrganization or LevelEnvironment. ok is false when neither level has
// complete credentials for the provider, or the provider sends no messages
// (a SIP trunk).
func ResolveSMS(numberProvider string, org, env Credentials) (creds Credentials, level string, ok bool) {
	for _, l := range []Level{{LevelOrganization, org}, {LevelEnvironment, env}} {
		switch numberProvider {
		case NameTwilio:
			if l.Creds.Twilio.messagingReady() {
				return Credentials{Twilio: l.Creds.Twilio}, l.Name, true
			}
		case NameTelnyx:
			if l.Creds.Telnyx.messagingReady() {
				return Credentials{Telnyx: l.Creds.Telnyx}, l.Name, true
			}
		case NameVonage:
			if l.Creds.Vonage.messagingReady() {
				return Credentials{Vonage: l.Creds.Vonage}, l.Name, true
			}
		}
	}
	return Credentials{}, "", false
}

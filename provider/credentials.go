package provider

import "strings"

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

// VoiceReady reports whether c holds credentials for the named provider
// complete enough to place and control calls: Telnyx API key and connection
// id, Twilio account SID and auth token, Vonage application id and private
// key.
func (c Credentials) VoiceReady(name string) bool {
	switch name {
	case NameTwilio:
		return c.Twilio.voiceReady()
	case NameTelnyx:
		return c.Telnyx.voiceReady()
	case NameVonage:
		return c.Vonage.voiceReady()
	}
	return false
}

// MessagingReady reports whether c holds credentials for the named provider
// complete enough to send messages and manage numbers: Twilio account SID
// and auth token, Telnyx API key, Vonage API key and secret.
func (c Credentials) MessagingReady(name string) bool {
	switch name {
	case NameTwilio:
		return c.Twilio.messagingReady()
	case NameTelnyx:
		return c.Telnyx.messagingReady()
	case NameVonage:
		return c.Vonage.messagingReady()
	}
	return false
}

// Only returns c with the named provider's credentials alone.
func (c Credentials) Only(name string) Credentials {
	switch name {
	case NameTwilio:
		return Credentials{Twilio: c.Twilio}
	case NameTelnyx:
		return Credentials{Telnyx: c.Telnyx}
	case NameVonage:
		return Credentials{Vonage: c.Vonage}
	}
	return Credentials{}
}

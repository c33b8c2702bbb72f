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

// VoiceReady: account SID and auth token, enough to place and control calls.
func (c *TwilioCreds) VoiceReady() bool { return c != nil && set(c.AccountSID) && set(c.AuthToken) }

// VoiceReady: API key and connection id.
func (c *TelnyxCreds) VoiceReady() bool { return c != nil && set(c.APIKey) && set(c.ConnectionID) }

// VoiceReady: application id and private key.
func (c *VonageCreds) VoiceReady() bool {
	return c != nil && set(c.ApplicationID) && set(c.PrivateKey)
}

// MessagingReady: enough to send messages and manage numbers (the voice
// credentials).
func (c *TwilioCreds) MessagingReady() bool { return c.VoiceReady() }

// MessagingReady: the API key.
func (c *TelnyxCreds) MessagingReady() bool { return c != nil && set(c.APIKey) }

// MessagingReady: API key and secret.
func (c *VonageCreds) MessagingReady() bool {
	return c != nil && set(c.APIKey) && set(c.APISecret)
}

// VoiceReady reports whether c holds credentials for the named provider
// complete enough to place and control calls: Telnyx API key and connection
// id, Twilio account SID and auth token, Vonage application id and private
// key.
func (c Credentials) VoiceReady(name string) bool {
	switch name {
	case NameTwilio:
		return c.Twilio.VoiceReady()
	case NameTelnyx:
		return c.Telnyx.VoiceReady()
	case NameVonage:
		return c.Vonage.VoiceReady()
	}
	return false
}

// MessagingReady reports whether c holds credentials for the named provider
// complete enough to send messages and manage numbers: Twilio account SID
// and auth token, Telnyx API key, Vonage API key and secret.
func (c Credentials) MessagingReady(name string) bool {
	switch name {
	case NameTwilio:
		return c.Twilio.MessagingReady()
	case NameTelnyx:
		return c.Telnyx.MessagingReady()
	case NameVonage:
		return c.Vonage.MessagingReady()
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

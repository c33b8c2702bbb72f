// Package provider is what the platform knows of the hosted telephony
// providers that sit beside the SIP path (Twilio, Telnyx and Vonage: number
// search and purchase, number webhooks, SMS/MMS, provider-hosted calls),
// whichever one it is: the [Provider] interface and its types, the
// credentials, the errors and their classes, the HTTP configuration, the
// SMS segment count, the replay cache of signed webhooks, and [BYOSIPTrunk],
// a SIP trunk that only registers numbers the customer already owns.
//
// Each client lives in a package of its own (provider/twilio,
// provider/telnyx, provider/vonage: client, numbers, messages, voice
// answers, webhook signatures, error mapping); provider/clients builds one
// by name. The smaller interfaces ([NumberSearcher], [NumberManager],
// [Messenger], [CallController]) let consumers ask for only what they use.
// Errors wrap one sentinel ([ErrNumberUnavailable],
// [ErrInsufficientBalance], ...) inside a [*Error] that carries the
// provider's own code and message.
//
// What makes credentials complete is here ([Credentials.VoiceReady],
// [Credentials.MessagingReady]); which level is used is the creds package's
// rule.
//
// HTTP behaviour shared by all clients (see [Config]): the base URL of each
// API comes from configuration, each attempt has a timeout, and only
// idempotent requests (GET, PUT, DELETE) are retried, with a short capped
// backoff, on network errors, 5xx and 429 (honouring Retry-After up to a
// bound). A purchase or a send is a POST and is never sent twice.
package provider

import "context"

// Provider names, as stored with a phone number and reported as resolved_provider.
const (
	NameTwilio = "twilio"
	NameTelnyx = "telnyx"
	NameVonage = "vonage"
	NameSIP    = "sip"
)

// Provider is everything the platform asks of a provider. Consumers should
// depend on the smallest of the interfaces below that covers their needs.
type Provider interface {
	// Name is one of NameTwilio, NameTelnyx, NameVonage, NameSIP.
	Name() string
	NumberSearcher
	NumberManager
	Messenger
	CallController
}

// NumberSearcher finds numbers that can be bought.
type NumberSearcher interface {
	SearchNumbers(ctx context.Context, q SearchQuery) ([]AvailableNumber, error)
}

// NumberManager buys, configures, lists and releases numbers.
type NumberManager interface {
	// Purchase buys req.PhoneNumber and points its webhooks at ours. It is a
	// POST and is never retried. When ProviderID is set in the result the
	// number is bought, even if err is not nil (a follow-up step failed).
	Purchase(ctx context.Context, req PurchaseRequest) (Purchased, error)
	// Release gives a number back. numberOrID is an E.164 number or the
	// provider's id for it.
	Release(ctx context.Context, numberOrID string) error
	// ConfigureWebhooks points a number (E.164 or provider id) at the given
	// webhooks. Empty fields are left unchanged.
	ConfigureWebhooks(ctx context.Context, numberOrID string, w Webhooks) error
	// GetWebhooks reads the webhooks a number currently points at.
	GetWebhooks(ctx context.Context, numberOrID string) (Webhooks, error)
	// ListOwned lists the numbers of the account.
	ListOwned(ctx context.Context) ([]OwnedNumber, error)
}

// Messenger sends SMS and MMS.
type Messenger interface {
	// SendMessage sends one message. It is a POST and is never retried.
	SendMessage(ctx context.Context, m Message) (SentMessage, error)
}

// CallController places and controls provider-hosted calls.
type CallController interface {
	// CreateCall places an outbound call and returns the provider's call id.
	// It is a POST and is never retried.
	CreateCall(ctx context.Context, c Call) (string, error)
	// Hangup ends a call.
	Hangup(ctx context.Context, callID string) error
	// Transfer moves a call to a phone number (E.164) or a sip: URI.
	Transfer(ctx context.Context, callID, to string) error
}

// DTMFSender presses keys on a live call (RFC 2833 toward the far end).
// Telnyx and Vonage clients have it; Twilio has no such request (only a
// TwiML <Play digits>, which would replace the call's media stream).
type DTMFSender interface {
	// SendDTMF sends digits (0-9 * # and, where the provider allows,
	// A-D) on the call.
	SendDTMF(ctx context.Context, callID, digits string) error
}

// SearchQuery filters a number search. Fields a provider cannot filter on are
// ignored by it (documented on each client).
type SearchQuery struct {
	// CountryCode is the ISO 3166-1 alpha-2 country ("US"). Required.
	CountryCode string
	// AreaCode is the national destination code ("415").
	AreaCode string
	// Contains is a digit pattern the number must contain.
	Contains string
	// Locality is a city name.
	Locality string
	// Region is a state or province code ("CA").
	Region string
	// Limit caps the number of results; 0 means the provider's default.
	Limit int
}

// Capabilities says what a number can do.
type Capabilities struct {
	Voice bool `json:"voice"`
	SMS   bool `json:"sms"`
	MMS   bool `json:"mms"`
}

// AvailableNumber is one search result.
type AvailableNumber struct {
	// PhoneNumber is in E.164 ("+14155550100").
	PhoneNumber  string       `json:"phone_number"`
	Locality     string       `json:"locality,omitempty"`
	Region       string       `json:"region,omitempty"`
	CountryCode  string       `json:"country_code"`
	Capabilities Capabilities `json:"capabilities"`
	// MonthlyCost is the provider's price as a decimal string, empty when the
	// provider does not say (Twilio's search does not).
	MonthlyCost string `json:"monthly_cost,omitempty"`
	// Currency of MonthlyCost ("USD", "EUR"), empty when unknown.
	Currency string `json:"currency,omitempty"`
}

// PurchaseRequest buys one number and configures where it sends its traffic.
type PurchaseRequest struct {
	// PhoneNumber is the E.164 number to buy, as returned by SearchNumbers.
	PhoneNumber string
	// CountryCode is the ISO country of the number. Vonage needs it; the
	// others ignore it.
	CountryCode string
	// FriendlyName labels the number (Twilio FriendlyName, Telnyx
	// customer_reference); Vonage ignores it.
	FriendlyName string
	// VoiceURL receives inbound calls (Twilio VoiceUrl). Vonage takes a sip:
	// or tel: target here, or the application (answer_url) when it is a URL.
	VoiceURL string
	// SMSURL receives inbound messages (Twilio SmsUrl, Vonage moHttpUrl).
	SMSURL string
	// StatusCallbackURL receives call status events (Twilio StatusCallback,
	// Vonage voiceStatusCallback).
	StatusCallbackURL string
	// ConnectionID is the Telnyx Call Control / SIP connection for voice;
	// empty means the credentials' default.
	ConnectionID string
	// MessagingProfileID is the Telnyx messaging profile; empty means the
	// credentials' default.
	MessagingProfileID string
}

// Purchased is the result of a purchase.
type Purchased struct {
	// ProviderID identifies the number at the provider: the Twilio
	// IncomingPhoneNumber SID, the E.164 number for Telnyx (its order id is in
	// Details) and Vonage.
	ProviderID string `json:"provider_id"`
	// Details holds provider-specific facts worth keeping (order id, status).
	Details map[string]any `json:"details,omitempty"`
}

// Webhooks is where a number sends its traffic. Which fields apply depends
// on the provider: Telnyx routes through ConnectionID and MessagingProfileID
// (the URLs live on the connection and the profile), Twilio and Vonage take
// URLs.
type Webhooks struct {
	VoiceURL           string `json:"voice_url,omitempty"`
	VoiceMethod        string `json:"voice_method,omitempty"`
	SMSURL             string `json:"sms_url,omitempty"`
	SMSMethod          string `json:"sms_method,omitempty"`
	StatusCallbackURL  string `json:"status_callback_url,omitempty"`
	ConnectionID       string `json:"connection_id,omitempty"`
	MessagingProfileID string `json:"messaging_profile_id,omitempty"`
	// ApplicationID is the Vonage application handling the number.
	ApplicationID string `json:"application_id,omitempty"`
	// ClearSMS removes the inbound-SMS webhook (Twilio SmsUrl="", Telnyx
	// messaging_profile_id="", Vonage moHttpUrl=""); SMSURL is then ignored.
	ClearSMS bool `json:"-"`
}

// OwnedNumber is a number of the account.
type OwnedNumber struct {
	PhoneNumber  string       `json:"phone_number"`
	ProviderID   string       `json:"provider_id"`
	CountryCode  string       `json:"country_code,omitempty"`
	FriendlyName string       `json:"friendly_name,omitempty"`
	Capabilities Capabilities `json:"capabilities"`
	Webhooks     Webhooks     `json:"webhooks"`
}

// Message is one outbound SMS or MMS.
type Message struct {
	From string
	To   string
	Body string
	// MediaURLs makes it an MMS.
	MediaURLs []string
	// StatusCallback receives delivery status updates for this message.
	StatusCallback string
}

// SentMessage is the provider's acknowledgement of a message.
type SentMessage struct {
	ProviderMessageID string `json:"provider_message_id"`
	// Status is the provider's status word ("queued", "accepted", ...).
	Status string `json:"status"`
}

// Call is one outbound provider-hosted call. Set URL (the provider fetches
// call instructions there: TwiML, NCCO) or StreamURL (the call's audio is
// streamed to this websocket); URL wins when both are set.
type Call struct {
	From string
	To   string
	// URL returns call instructions (Twilio TwiML, Vonage answer_url). Telnyx
	// sends its Call Control events to URL when set.
	URL string
	// StreamURL is a ws:// or wss:// URL the call audio is streamed to.
	StreamURL string
	// StreamParams are passed to the stream (Twilio <Parameter>, Vonage
	// websocket headers, Telnyx client_state).
	StreamParams map[string]string
	// StatusCallback receives call status events.
	StatusCallback string
	// TimeoutSeconds is how long to ring; 0 means the provider's default.
	TimeoutSeconds int
	// ConnectionID overrides the Telnyx connection of the credentials.
	ConnectionID string
	// MachineDetection asks Twilio for answering machine detection
	// (MachineDetection: Enable, or DetectMessageEnd to hear the end of a
	// voicemail greeting), run asynchronously: the call's TwiML runs at
	// once and the result (AnsweredBy) is posted to AMDCallback. Other
	// providers ignore it.
	MachineDetection string
	AMDCallback      string
}

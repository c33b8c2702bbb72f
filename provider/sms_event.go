package provider

import ()

// SMS webhook events, as parsed from each provider's body.
const (
	SMSEventInbound = "inbound" // a customer's message to one of our numbers
	SMSEventStatus  = "status"  // a delivery-status callback for a message we sent
)

// Delivery states of SMSEvent.Status, our vocabulary.
const (
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// MaxMedia bounds the media URLs read from one webhook (SMSEvent.MediaURLs).
const MaxMedia = 10

// SMSEvent is one provider webhook about a message.
type SMSEvent struct {
	// Kind is SMSEventInbound or SMSEventStatus.
	Kind string
	// ProviderMessageID is the provider's id of the message.
	ProviderMessageID string
	// From and To are E.164 when the provider gave a number ("+" added
	// when the provider omits it).
	From, To  string
	Body      string
	MediaURLs []string
	// Status (status events): DeliverySent, DeliveryDelivered, DeliveryFailed,
	// or "" for an intermediate state that changes nothing.
	Status string
	// RawStatus is the provider's own status word.
	RawStatus string
	// Error is the provider's failure explanation (code and text).
	Error string
}

// OwnNumber is the number of ours the event is about: the recipient of an
// inbound message, the sender of a message whose status is reported. It
// selects the organization whose credentials verify the webhook.
func (e SMSEvent) OwnNumber() string {
	if e.Kind == SMSEventInbound {
		return e.To
	}
	return e.From
}

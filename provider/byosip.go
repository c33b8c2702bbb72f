package provider

import (
	"context"
	"strings"
)

// BYOSIPTrunk stands for numbers the customer already owns and routes to us
// over their own SIP trunk. There is nothing to buy, search or configure at
// a provider: calls run through FreeSWITCH (the controller originates them on
// the trunks) and messages are not carried. Only Register, which validates an
// owned number, and Release (nothing to give back) succeed; every other
// method returns ErrNotSupported.
type BYOSIPTrunk struct {
	trunkID string
}

var _ Provider = (*BYOSIPTrunk)(nil)

// NewBYOSIPTrunk returns the SIP trunk provider for one trunk (its id is
// recorded with the numbers it registers).
func NewBYOSIPTrunk(trunkID string) *BYOSIPTrunk { return &BYOSIPTrunk{trunkID: trunkID} }

// Name is NameSIP.
func (b *BYOSIPTrunk) Name() string { return NameSIP }

// Register accepts an owned E.164 number for this trunk. No request is
// made; ProviderID is the number.
func (b *BYOSIPTrunk) Register(_ context.Context, phoneNumber string) (Purchased, error) {
	phoneNumber = strings.TrimSpace(phoneNumber)
	if !IsE164(phoneNumber) {
		return Purchased{}, BadRequest(NameSIP, "phone number %q: want E.164", phoneNumber)
	}
	d := map[string]any{"registered": true}
	if b.trunkID != "" {
		d["trunk_id"] = b.trunkID
	}
	return Purchased{ProviderID: phoneNumber, Details: d}, nil
}

// SearchNumbers is not supported: a SIP trunk sells no numbers.
func (b *BYOSIPTrunk) SearchNumbers(context.Context, SearchQuery) ([]AvailableNumber, error) {
	return nil, NotSupported(NameSIP, "a SIP trunk has no number search")
}

// Purchase is not supported: use Register for an owned number.
func (b *BYOSIPTrunk) Purchase(context.Context, PurchaseRequest) (Purchased, error) {
	return Purchased{}, NotSupported(NameSIP, "a SIP trunk cannot buy numbers; register an owned number")
}

// Release succeeds: there is nothing to give back to a provider.
func (b *BYOSIPTrunk) Release(context.Context, string) error { return nil }

// ConfigureWebhooks is not supported: a trunk's calls are routed by
// FreeSWITCH, not by webhooks.
func (b *BYOSIPTrunk) ConfigureWebhooks(context.Context, string, Webhooks) error {
	return NotSupported(NameSIP, "SIP trunk numbers are routed by FreeSWITCH, not webhooks")
}

// GetWebhooks is not supported.
func (b *BYOSIPTrunk) GetWebhooks(context.Context, string) (Webhooks, error) {
	return Webhooks{}, NotSupported(NameSIP, "SIP trunk numbers have no webhooks")
}

// ListOwned is not supported: the trunk does not know the carrier's numbers.
func (b *BYOSIPTrunk) ListOwned(context.Context) ([]OwnedNumber, error) {
	return nil, NotSupported(NameSIP, "a SIP trunk cannot list the carrier's numbers")
}

// SendMessage is not supported.
func (b *BYOSIPTrunk) SendMessage(context.Context, Message) (SentMessage, error) {
	return SentMessage{}, NotSupported(NameSIP, "a SIP trunk carries no messages")
}

// CreateCall is not supported here: SIP calls are originated by the
// controller through FreeSWITCH.
func (b *BYOSIPTrunk) CreateCall(context.Context, Call) (string, error) {
	return "", NotSupported(NameSIP, "SIP trunk calls are originated through FreeSWITCH")
}

// Hangup is not supported here (FreeSWITCH call control).
func (b *BYOSIPTrunk) Hangup(context.Context, string) error {
	return NotSupported(NameSIP, "SIP trunk calls are controlled through FreeSWITCH")
}

// Transfer is not supported here (FreeSWITCH call control).
func (b *BYOSIPTrunk) Transfer(context.Context, string, string) error {
	return NotSupported(NameSIP, "SIP trunk calls are controlled through FreeSWITCH")
}

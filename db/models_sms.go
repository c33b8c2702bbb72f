package db

import "time"

// Message directions and states.
const (
	SMSOutbound = "outbound"
	SMSInbound  = "inbound"

	SMSQueued    = "queued"    // waiting for the worker (or for its next attempt)
	SMSSending   = "sending"   // claimed by a worker holding a lease
	SMSSent      = "sent"      // accepted by the provider
	SMSDelivered = "delivered" // the provider reported delivery
	SMSFailed    = "failed"    // permanent error, or the provider reported failure
	SMSCancelled = "cancelled" // cancelled while queued
	SMSReceived  = "received"  // an inbound message
)

// SMSMessage is one message, sent (the durable queue) or received.
type SMSMessage struct {
	ID             string `gorm:"primaryKey"`
	OrgID          int64  `gorm:"not null"`
	ConversationID string `gorm:"not null"`
	Direction      string `gorm:"not null"`
	AssistantID    *string
	FromNumber     string     `gorm:"not null"`
	ToNumber       string     `gorm:"not null"`
	Body           string     `gorm:"not null"`
	MediaURLs      StringList `gorm:"column:media_urls;type:text;not null"`
	Provider       string     `gorm:"not null"`
	// ProviderMessageID is the provider's id, written with status sent.
	ProviderMessageID string `gorm:"not null"`
	Status            string `gorm:"not null"`
	Error             string `gorm:"not null"`
	Segments          int    `gorm:"not null"`
	Encoding          string `gorm:"not null"`
	// IdempotencyKey is unique per organization (nil: none given).
	IdempotencyKey *string
	// RequestHash identifies the request that used IdempotencyKey.
	RequestHash   string `gorm:"not null"`
	Attempts      int    `gorm:"not null"`
	NextAttemptAt *time.Time
	LeaseOwner    string `gorm:"not null"`
	LeaseUntil    *time.Time
	SentAt        *time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (SMSMessage) TableName() string { return "sms_messages" }

// SMSConversation groups the messages between one of the organization's
// numbers and one customer number.
type SMSConversation struct {
	ID              string `gorm:"primaryKey"`
	OrgID           int64  `gorm:"not null"`
	AssistantNumber string `gorm:"not null"`
	CustomerNumber  string `gorm:"not null"`
	AssistantID     *string
	MessageCount    int       `gorm:"not null"`
	LastMessageAt   time.Time `gorm:"not null"`
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (SMSConversation) TableName() string { return "sms_conversations" }

// SMSOptOut records that a customer asked one sender number to stop.
type SMSOptOut struct {
	OrgID          int64  `gorm:"primaryKey"`
	SenderNumber   string `gorm:"primaryKey"`
	CustomerNumber string `gorm:"primaryKey"`
	Keyword        string `gorm:"not null"`
	CreatedAt      time.Time
}

func (SMSOptOut) TableName() string { return "sms_opt_outs" }

// Forward states.
const (
	ForwardPending   = "pending"
	ForwardSending   = "sending"
	ForwardDelivered = "delivered"
	ForwardFailed    = "failed"
)

// SMSForward is one delivery of an inbound message to an assistant's
// sms_webhook_url (the outbox). Payload is the exact body posted on every
// attempt.
type SMSForward struct {
	ID            string `gorm:"primaryKey"`
	OrgID         int64  `gorm:"not null"`
	MessageID     string `gorm:"not null"`
	AssistantID   string `gorm:"not null"`
	URL           string `gorm:"column:url;not null"`
	Payload       string `gorm:"not null"`
	Status        string `gorm:"not null"`
	Attempts      int    `gorm:"not null"`
	LastError     string `gorm:"not null"`
	NextAttemptAt time.Time
	LeaseOwner    string `gorm:"not null"`
	LeaseUntil    *time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (SMSForward) TableName() string { return "sms_forwards" }

// SMSWebhookSecret is the key signing what is forwarded to one assistant.
type SMSWebhookSecret struct {
	AssistantID string `gorm:"primaryKey"`
	OrgID       int64  `gorm:"not null"`
	SecretEnc   string `gorm:"not null"` // context "sms_webhook_secrets.secret:<assistant id>"
	CreatedAt   time.Time
}

func (SMSWebhookSecret) TableName() string { return "sms_webhook_secrets" }

package db

import "time"

// Call statuses.
const (
	CallRinging    = "ringing"
	CallInProgress = "in-progress"
	CallCompleted  = "completed"
	CallFailed     = "failed"
	CallRefused    = "refused"
)

// Call directions.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// Call is the record of one call, inbound or outbound, kept for every call
// including refused ones. CallSID is the FreeSWITCH channel UUID for SIP
// calls (what fs_cli's `show channels` and uuid_* commands take) or the
// provider's call id for provider-hosted calls.
type Call struct {
	ID            string  `gorm:"primaryKey"`
	OrgID         int64   `gorm:"not null"`
	CallSID       string  `gorm:"column:call_sid;not null"`
	SIPCallID     string  `gorm:"column:sip_call_id;not null"`
	AssistantID   *string `gorm:"column:assistant_id"`
	PhoneNumberID *string `gorm:"column:phone_number_id"`
	TrunkID       *string `gorm:"column:trunk_id"`
	Provider      string  `gorm:"not null"` // sip | twilio | telnyx | vonage
	Direction     string  `gorm:"not null"`
	FromNumber    string  `gorm:"not null"`
	ToNumber      string  `gorm:"not null"`
	// ResolvedDID is the called number as resolved from the SIP headers, and
	// DIDSource the header it came from (diversion, history-info, …).
	ResolvedDID string `gorm:"column:resolved_did;not null"`
	DIDSource   string `gorm:"column:did_source;not null"`
	Status      string `gorm:"not null"`
	// HangupCause is FreeSWITCH's (NORMAL_CLEARING, UNALLOCATED_NUMBER, …);
	// SIPStatus the SIP answer a refused call got; Reason our explanation.
	HangupCause     string `gorm:"not null"`
	SIPStatus       int    `gorm:"column:sip_status;not null"`
	Reason          string `gorm:"not null"`
	StartedAt       time.Time
	AnsweredAt      *time.Time
	EndedAt         *time.Time
	DurationSeconds int    `gorm:"not null"`
	RecordingPath   string `gorm:"not null"`
	RecordingBytes  int64  `gorm:"not null"`
	// Node is the FreeSWITCH node (FS_NODES name) that carries a SIP call
	// ("" for a hosted call).
	Node string `gorm:"not null"`
	// Replica is the sipbridge replica (REPLICA_NAME) holding a hosted
	// call in its memory ("" for a SIP call and without replicas).
	Replica   string `gorm:"not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (Call) TableName() string { return "calls" }

// CallEvent is one step of a call's timeline (routed, answered,
// stream_connected, transfer_requested, refer_accepted, hangup, …).
type CallEvent struct {
	ID     int64     `gorm:"primaryKey;autoIncrement"`
	CallID string    `gorm:"not null"`
	OrgID  int64     `gorm:"not null"`
	At     time.Time `gorm:"not null"`
	Type   string    `gorm:"not null"`
	Detail JSONMap   `gorm:"type:text;not null"`
}

func (CallEvent) TableName() string { return "call_events" }

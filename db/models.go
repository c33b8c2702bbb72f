package db

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Organization is a tenant. Its numeric ID appears in FreeSWITCH names
// (gateway o12_zadarma_main belongs to organization 12).
type Organization struct {
	ID             int64       `gorm:"primaryKey;autoIncrement"`
	Name           string      `gorm:"not null"`
	DefaultCountry string      `gorm:"not null"`
	Settings       OrgSettings `gorm:"type:text;not null"`
	// SecretsEnc is OrgSecrets as JSON, sealed by the keyring (context "organizations.secrets:<id>").
	SecretsEnc string `gorm:"not null"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (Organization) TableName() string { return "organizations" }

// OrgSettings are the organization's non-secret telephony settings.
type OrgSettings struct {
	TwilioAccountSID      string         `json:"twilio_account_sid,omitempty"`
	TelnyxConnectionID    string         `json:"telnyx_connection_id,omitempty"`
	TelnyxPublicKey       string         `json:"telnyx_public_key,omitempty"`
	TelnyxMessagingProfID string         `json:"telnyx_messaging_profile_id,omitempty"`
	VonageAPIKey          string         `json:"vonage_api_key,omitempty"`
	VonageApplicationID   string         `json:"vonage_application_id,omitempty"`
	SIPGateway            string         `json:"sip_gateway,omitempty"`
	SIPUsername           string         `json:"sip_username,omitempty"`
	SIPTrunkConfig        SIPTrunkConfig `json:"sip_trunk_config"`
	CallLimits            CallLimits     `json:"call_limits"`
}

// CallLimits are the organization's safety limits, checked before any
// originate (toll-fraud protection).
type CallLimits struct {
	// MaxConcurrentCalls caps live calls, inbound and outbound, when a new
	// outbound call starts (0: the platform's DEFAULT_MAX_CONCURRENT_CALLS).
	MaxConcurrentCalls int `json:"max_concurrent_calls"`
	// CallsPerSecond caps new outbound calls per second (0: the platform's
	// DEFAULT_CALLS_PER_SECOND).
	CallsPerSecond float64 `json:"calls_per_second"`
	// OutboundCountries are the ISO 3166-1 alpha-2 countries outbound calls,
	// transfers to numbers and messages may reach. Empty: the organization's
	// default country only; ["*"]: any country.
	OutboundCountries []string `json:"outbound_countries,omitempty"`
	// AllowNumberTypes are the costly number classes (premium_rate,
	// shared_cost, satellite) calls, transfers and messages may reach;
	// empty: none of them.
	AllowNumberTypes []string `json:"allow_number_types,omitempty"`
}

// SIPTrunkConfig is the organization-level SIP trunk configuration.
type SIPTrunkConfig struct {
	SIPDomain                  string `json:"sip_domain,omitempty"`
	InboundEnabled             bool   `json:"inbound_enabled"`
	OutboundLeadingPlusEnabled bool   `json:"outbound_leading_plus_enabled"`
	AuthType                   string `json:"auth_type,omitempty"` // credentials | ip
	AuthUsername               string `json:"auth_username,omitempty"`
}

// OrgSecrets are the organization's secret credentials (sealed at rest).
type OrgSecrets struct {
	TwilioAuthToken       string `json:"twilio_auth_token,omitempty"`
	TelnyxAPIKey          string `json:"telnyx_api_key,omitempty"`
	VonageAPISecret       string `json:"vonage_api_secret,omitempty"`
	VonagePrivateKey      string `json:"vonage_private_key,omitempty"`
	VonageSignatureSecret string `json:"vonage_signature_secret,omitempty"`
	SIPPassword           string `json:"sip_password,omitempty"`
	SIPAuthPassword       string `json:"sip_auth_password,omitempty"`
}

// APIKey authenticates API callers of one organization. Only the SHA-256 of
// the key is stored; Prefix ("sb_" and the first 6 characters) lets operators
// tell keys apart.
type APIKey struct {
	ID         string `gorm:"primaryKey"`
	OrgID      int64  `gorm:"not null"`
	Name       string `gorm:"not null"`
	Prefix     string `gorm:"not null"`
	Hash       string `gorm:"not null"`
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

func (APIKey) TableName() string { return "api_keys" }

// Assistant is a voice/SMS AI assistant reached over websockets and webhooks.
type Assistant struct {
	ID                     string          `gorm:"primaryKey"`
	OrgID                  int64           `gorm:"not null"`
	Name                   string          `gorm:"not null"`
	StreamURL              string          `gorm:"not null"`
	SMSWebhookURL          string          `gorm:"column:sms_webhook_url;not null"`
	Config                 AssistantConfig `gorm:"type:text;not null"`
	SecretsEnc             string          `gorm:"not null"` // AssistantSecrets, context "assistants.secrets:<id>"
	FallbackTransferNumber string          `gorm:"not null"`
	RecordingEnabled       bool            `gorm:"not null"`
	WelcomeMessage         string          `gorm:"not null"`
	// AnswerMode is when an inbound call is answered: AnswerAssistantReady
	// or AnswerEarlyRingback.
	AnswerMode string `gorm:"not null"`
	// WelcomeAudio is a WAV file under WELCOME_AUDIO_DIR ("" none) that
	// FreeSWITCH plays at the answer, before the assistant's audio.
	WelcomeAudio string  `gorm:"not null"`
	Metadata     JSONMap `gorm:"type:text;not null"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (Assistant) TableName() string { return "assistants" }

// Answer modes of an assistant's inbound calls.
const (
	// AnswerAssistantReady answers once the assistant's stream is up (the
	// caller hears ringing from its own side until then).
	AnswerAssistantReady = "assistant_ready"
	// AnswerEarlyRingback sends early media (183 with SDP) with a ringback
	// tone while the assistant connects, then answers.
	AnswerEarlyRingback = "early_ringback"
)

// AssistantConfig holds the assistant's non-secret provider settings and
// its media format.
type AssistantConfig struct {
	TwilioAccountSID   string `json:"twilio_account_sid,omitempty"`
	TelnyxConnectionID string `json:"telnyx_connection_id,omitempty"`
	// AudioFormat is what the assistant's media messages carry: "" (the
	// default, mulaw_8k) or "l16_16k".
	AudioFormat string `json:"audio_format,omitempty"`
}

// AssistantSecrets holds the assistant's own provider secrets.
type AssistantSecrets struct {
	TwilioAuthToken string `json:"twilio_auth_token,omitempty"`
	TelnyxAPIKey    string `json:"telnyx_api_key,omitempty"`
}

// SIPTrunk is a carrier or PBX connection rendered as a FreeSWITCH gateway
// plus an ACL list, both named GatewayName.
type SIPTrunk struct {
	ID               string     `gorm:"primaryKey"`
	OrgID            int64      `gorm:"not null"`
	Name             string     `gorm:"not null"`
	GatewayName      string     `gorm:"not null"`
	Gateway          string     `gorm:"not null"`
	Username         string     `gorm:"not null"`
	PasswordEnc      string     `gorm:"not null"` // context "sip_trunks.password:<id>"
	Priority         int        `gorm:"not null"`
	Enabled          bool       `gorm:"not null"`
	Register         bool       `gorm:"not null"`
	Realm            string     `gorm:"not null"`
	Proxy            string     `gorm:"not null"`
	Transport        string     `gorm:"not null"`
	FromUser         string     `gorm:"not null"`
	FromDomain       string     `gorm:"not null"`
	CallerIDInFrom   bool       `gorm:"not null"`
	ExpireSeconds    int        `gorm:"not null"`
	RetrySeconds     int        `gorm:"not null"`
	PingSeconds      int        `gorm:"not null"`
	AllowedAddresses StringList `gorm:"type:text;not null"`
	Codecs           StringList `gorm:"type:text;not null"`
	Provider         string     `gorm:"not null"`
	// TransferMode is how a call that came in on this trunk is moved to a
	// phone number: "bridge" (out through the trunks) or "refer" (a SIP
	// REFER back to the carrier or PBX, Refer-To from ReferToTemplate,
	// e.g. "tel:{e164}" or "sip:{e164}@pbx.example.com").
	TransferMode    string `gorm:"not null"`
	ReferToTemplate string `gorm:"not null"`
	// Source is who owns the trunk's settings: "" (the SIP trunks API),
	// TrunkSourceOrganization (PUT /organizations/{id}: the organization's
	// default trunk) or TrunkSourceEnvironment (SIP_GATEWAY/SIP_USERNAME/
	// SIP_PASSWORD, the default of an organization without a trunk).
	Source string `gorm:"not null"`
	// InboundDisabled refuses the trunk's inbound calls (480).
	InboundDisabled bool `gorm:"not null"`
	// RingTimeoutSeconds is how long this trunk's leg of an outbound call,
	// a bridged transfer or a fallback rings before the next trunk is tried
	// (5–120); 0: not set, the platform's LEG_TIMEOUT (default 30 s).
	RingTimeoutSeconds int    `gorm:"not null"`
	SRTP               string `gorm:"column:srtp;not null"` // off | optional | mandatory (SDES)
	CreatedAt          time.Time
	UpdatedAt          time.Time
	Status             *TrunkStatus `gorm:"foreignKey:TrunkID;references:ID"`
}

func (SIPTrunk) TableName() string { return "sip_trunks" }

// Trunk sources (SIPTrunk.Source).
const (
	TrunkSourceAPI          = ""
	TrunkSourceOrganization = "organization"
	TrunkSourceEnvironment  = "environment"
)

// TrunkStatus is what the reconciler and FreeSWITCH report about a trunk,
// written apart from the trunk record itself.
type TrunkStatus struct {
	TrunkID        string `gorm:"primaryKey"`
	OrgID          int64  `gorm:"not null"`
	SyncState      string `gorm:"not null"` // pending | applied | error
	SyncMessage    string `gorm:"not null"`
	AppliedAt      *time.Time
	GatewayState   string `gorm:"not null"` // REGED, FAILED, NOREG, DOWN, ...
	PingStatus     string `gorm:"not null"`
	LastStatusCode int    `gorm:"not null"`
	UpdatedAt      time.Time
}

func (TrunkStatus) TableName() string { return "sip_trunk_status" }

// Phone number providers.
const (
	ProviderTwilio = "twilio"
	ProviderTelnyx = "telnyx"
	ProviderVonage = "vonage"
	ProviderBYOSIP = "byo-sip-trunk"
)

// Providers lists the valid phone number providers.
var Providers = []string{ProviderTwilio, ProviderTelnyx, ProviderVonage, ProviderBYOSIP}

// PhoneNumber is a DID owned by one organization (unique across all of them).
type PhoneNumber struct {
	ID                  string     `gorm:"primaryKey"`
	OrgID               int64      `gorm:"not null"`
	PhoneNumber         string     `gorm:"not null"`
	Provider            string     `gorm:"not null"`
	ProviderID          string     `gorm:"not null"`
	FriendlyName        string     `gorm:"not null"`
	CountryCode         string     `gorm:"not null"`
	AssistantID         *string    `gorm:"column:assistant_id"`
	OutboundAssistantID *string    `gorm:"column:outbound_assistant_id"`
	SIPTrunkID          *string    `gorm:"column:sip_trunk_id"`
	CapVoice            bool       `gorm:"not null"`
	CapSMS              bool       `gorm:"column:cap_sms;not null"`
	CapMMS              bool       `gorm:"column:cap_mms;not null"`
	AllowedCountryCodes StringList `gorm:"type:text;not null"`
	IsActive            bool       `gorm:"not null"`
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

func (PhoneNumber) TableName() string { return "phone_numbers" }

// StringList is a []string stored as a JSON array in a text column.
type StringList []string

func (l StringList) Value() (driver.Value, error) { return jsonValue(l, "[]") }
func (l *StringList) Scan(v any) error {
	if s, ok := v.(string); ok && scanASCIIList(s, l) {
		return nil
	}
	return jsonScan(v, l)
}

// scanASCIIList reads the compact JSON arrays Value writes when every
// string is printable ASCII with nothing to escape (addresses, codecs)
// without encoding/json; it reports false, having set nothing, otherwise.
func scanASCIIList(s string, l *StringList) bool {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	out := StringList{}
	for rest := s[1 : len(s)-1]; rest != ""; {
		end := strings.IndexByte(rest[min(1, len(rest)):], '"') + 1
		if rest[0] != '"' || end < 1 || strings.ContainsFunc(rest[1:end], func(r rune) bool { return r < 0x20 || r > 0x7e || r == '\\' }) {
			return false
		}
		out, rest = append(out, rest[1:end]), rest[end+1:]
		if rest != "" && (rest[0] != ',' || len(rest) == 1) {
			return false
		}
		rest = strings.TrimPrefix(rest, ",")
	}
	*l = out
	return true
}

// JSONMap is a free-form JSON object stored in a text column.
type JSONMap map[string]any

func (m JSONMap) Value() (driver.Value, error) { return jsonValue(m, "{}") }
func (m *JSONMap) Scan(v any) error            { return jsonScan(v, m) }

func (s OrgSettings) Value() (driver.Value, error)     { return jsonValue(s, "{}") }
func (s *OrgSettings) Scan(v any) error                { return jsonScan(v, s) }
func (c AssistantConfig) Value() (driver.Value, error) { return jsonValue(c, "{}") }
func (c *AssistantConfig) Scan(v any) error            { return jsonScan(v, c) }

func jsonValue(v any, empty string) (driver.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return empty, nil
	}
	return string(b), nil
}

func jsonScan(v any, dst any) error {
	var b []byte
	switch t := v.(type) {
	case nil:
		return nil
	case string:
		b = []byte(t)
	case []byte:
		b = t
	default:
		return errors.New("db: unsupported JSON column type")
	}
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, dst)
}

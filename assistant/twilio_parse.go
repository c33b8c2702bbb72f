package assistant

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

var (
	// ErrMalformedMessage means a message is not a JSON object with a
	// string `event`, or lacks a field its event needs.
	ErrMalformedMessage = errors.New("assistant: malformed message")
	// ErrBadPayload means a media payload is not valid base64.
	ErrBadPayload = errors.New("assistant: media payload is not valid base64")
	// ErrUnknownEvent is matched (errors.Is) by every *UnknownEventError.
	ErrUnknownEvent = errors.New("assistant: unknown event")
)

// UnknownEventError reports a well-formed message whose event sipbridge does
// not handle. The stream skips such messages; errors.Is(err,
// ErrUnknownEvent) holds.
type UnknownEventError struct {
	Event string
}

func (e *UnknownEventError) Error() string {
	return fmt.Sprintf("assistant: unknown event %q", e.Event)
}

// Unwrap makes errors.Is(err, ErrUnknownEvent) true.
func (e *UnknownEventError) Unwrap() error { return ErrUnknownEvent }

// AssistantMessage is one message from the assistant, decoded. Which fields
// are set depends on Event.
type AssistantMessage struct {
	// Event is EventMedia, EventMark, EventClear, EventTransfer,
	// EventTransferComplete, EventTransferCancel, EventHangup or EventDTMF.
	Event string
	// StreamSID is the streamSid the assistant sent, if any (not checked).
	StreamSID string
	// Payload is the audio of a media message in the stream's format
	// (μ-law 8 kHz, or L16 LE 16 kHz with l16_16k), base64 decoded, never
	// empty.
	Payload []byte
	// Mark is the name of a mark message (never empty).
	Mark string
	// TransferTo is the target of a transfer: a sip: URI or a phone number
	// (never empty; not validated here).
	TransferTo string
	// TransferMode is a transfer's mode as sent ("" when absent; not
	// validated here: "", refer, bridge and warm are known).
	TransferMode string
	// Immediate is a hangup's "immediate": true hangs up at once, false
	// (the default) once the audio sent before the hangup has played.
	Immediate bool
	// Digits are the keys a dtmf message asks to press on the call, as
	// sent (never empty; not validated here: see call.CheckDTMFDigits).
	Digits string
}

// ParseAssistantMessage decodes one websocket text message from the
// assistant. It requires only what the event needs: media → a non-empty
// base64 media.payload (padded or not), mark → a non-empty mark.name,
// transfer → a non-empty transfer.to (and an optional string
// transfer.mode), dtmf → a non-empty string dtmf.digits; clear, hangup,
// transfer_complete and transfer_cancel need nothing (a
// hangup's optional immediate must be a boolean). Unknown
// members are ignored; member names are matched exactly. Errors wrap
// ErrMalformedMessage or ErrBadPayload, or are an *UnknownEventError.
func ParseAssistantMessage(data []byte) (AssistantMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return AssistantMessage{}, fmt.Errorf("%w: not a JSON object", ErrMalformedMessage)
	}
	var m AssistantMessage
	if err := stringMember(top, "event", &m.Event); err != nil || m.Event == "" {
		return AssistantMessage{}, fmt.Errorf("%w: no string event", ErrMalformedMessage)
	}
	if err := stringMember(top, "streamSid", &m.StreamSID); err != nil {
		return AssistantMessage{}, fmt.Errorf("%w: %s: streamSid is not a string", ErrMalformedMessage, m.Event)
	}
	switch m.Event {
	case EventMedia:
		var media struct {
			Payload string `json:"payload"`
		}
		if err := objectMember(top, "media", &media); err != nil {
			return AssistantMessage{}, fmt.Errorf("%w: media: %w", ErrMalformedMessage, err)
		}
		if media.Payload == "" {
			return AssistantMessage{}, fmt.Errorf("%w: media: empty payload", ErrMalformedMessage)
		}
		p, err := decodeBase64(media.Payload)
		if err != nil {
			return AssistantMessage{}, fmt.Errorf("%w: %w", ErrBadPayload, err)
		}
		if len(p) == 0 {
			return AssistantMessage{}, fmt.Errorf("%w: media: empty payload", ErrMalformedMessage)
		}
		m.Payload = p
	case EventMark:
		var mark struct {
			Name string `json:"name"`
		}
		if err := objectMember(top, "mark", &mark); err != nil {
			return AssistantMessage{}, fmt.Errorf("%w: mark: %w", ErrMalformedMessage, err)
		}
		if mark.Name == "" {
			return AssistantMessage{}, fmt.Errorf("%w: mark: empty name", ErrMalformedMessage)
		}
		m.Mark = mark.Name
	case EventTransfer:
		var tr struct {
			To   string `json:"to"`
			Mode string `json:"mode"`
		}
		if err := objectMember(top, "transfer", &tr); err != nil {
			return AssistantMessage{}, fmt.Errorf("%w: transfer: %w", ErrMalformedMessage, err)
		}
		if tr.To == "" {
			return AssistantMessage{}, fmt.Errorf("%w: transfer: empty to", ErrMalformedMessage)
		}
		m.TransferTo, m.TransferMode = tr.To, tr.Mode
	case EventDTMF:
		var d struct {
			Digits string `json:"digits"`
		}
		if err := objectMember(top, "dtmf", &d); err != nil {
			return AssistantMessage{}, fmt.Errorf("%w: dtmf: %w", ErrMalformedMessage, err)
		}
		if d.Digits == "" {
			return AssistantMessage{}, fmt.Errorf("%w: dtmf: empty digits", ErrMalformedMessage)
		}
		m.Digits = d.Digits
	case EventHangup:
		if raw, ok := top["immediate"]; ok {
			if err := json.Unmarshal(raw, &m.Immediate); err != nil {
				return AssistantMessage{}, fmt.Errorf("%w: hangup: immediate is not a boolean", ErrMalformedMessage)
			}
		}
	case EventClear, EventTransferComplete, EventTransferCancel:
	default:
		return AssistantMessage{}, &UnknownEventError{Event: m.Event}
	}
	return m, nil
}

// stringMember decodes top[key] into dst when present; a missing member
// leaves dst unchanged.
func stringMember(top map[string]json.RawMessage, key string, dst *string) error {
	raw, ok := top[key]
	if !ok {
		return nil
	}
	return json.Unmarshal(raw, dst)
}

var errMissingObject = errors.New("missing or not an object")

// objectMember decodes the JSON object top[key] into dst.
func objectMember(top map[string]json.RawMessage, key string, dst any) error {
	raw, ok := top[key]
	if !ok || len(raw) == 0 || raw[0] != '{' {
		return errMissingObject
	}
	return json.Unmarshal(raw, dst)
}

// decodeBase64 accepts standard base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	p, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		return p, nil
	}
	if len(s)%4 != 0 {
		if p, rawErr := base64.RawStdEncoding.DecodeString(s); rawErr == nil {
			return p, nil
		}
	}
	return nil, err
}

// StreamMessage is any message sipbridge sends to the assistant, decoded.
// sipbridge never parses these itself: ParseStreamMessage is for fake
// assistants in tests and for diagnostics. Exactly one of the pointers is
// set, matching Event (none for connected).
type StreamMessage struct {
	Event          string        `json:"event"`
	SequenceNumber string        `json:"sequenceNumber,omitempty"`
	StreamSID      string        `json:"streamSid,omitempty"`
	Protocol       string        `json:"protocol,omitempty"`
	Version        string        `json:"version,omitempty"`
	Start          *StartPayload `json:"start,omitempty"`
	Media          *MediaPayload `json:"media,omitempty"`
	DTMF           *DTMFPayload  `json:"dtmf,omitempty"`
	Mark           *MarkPayload  `json:"mark,omitempty"`
	Stop           *StopPayload  `json:"stop,omitempty"`
	// Transfer is set on transfer_failed and transfer_answered (no reason).
	Transfer *TransferFailedPayload `json:"transfer,omitempty"`
}

// ParseStreamMessage decodes one message of the sipbridge → assistant
// direction and checks that the object its event needs is present. Errors
// wrap ErrMalformedMessage or are an *UnknownEventError.
func ParseStreamMessage(data []byte) (StreamMessage, error) {
	var m StreamMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return StreamMessage{}, fmt.Errorf("%w: %w", ErrMalformedMessage, err)
	}
	var missing bool
	switch m.Event {
	case EventConnected:
		missing = m.Protocol == ""
	case EventStart:
		missing = m.Start == nil
	case EventMedia:
		missing = m.Media == nil
	case EventDTMF:
		missing = m.DTMF == nil
	case EventMark:
		missing = m.Mark == nil
	case EventStop:
		missing = m.Stop == nil
	case EventTransferFailed, EventTransferAnswered:
		missing = m.Transfer == nil
	case "":
		return StreamMessage{}, fmt.Errorf("%w: no event", ErrMalformedMessage)
	default:
		return StreamMessage{}, &UnknownEventError{Event: m.Event}
	}
	if missing {
		return StreamMessage{}, fmt.Errorf("%w: %s without its %s object", ErrMalformedMessage, m.Event, m.Event)
	}
	return m, nil
}

// Audio decodes the payload of a media message (μ-law, or L16 bytes).
func (m StreamMessage) Audio() ([]byte, error) {
	if m.Media == nil {
		return nil, fmt.Errorf("%w: not a media message", ErrMalformedMessage)
	}
	p, err := decodeBase64(m.Media.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return p, nil
}

package assistant

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Twilio Media Streams messages, with the field names and shapes of
// https://www.twilio.com/docs/voice/media-streams/websocket-messages.
// sipbridge plays the part of Twilio: it sends connected / start / media /
// dtmf / mark / stop and receives media / mark / clear (plus the sipbridge
// extensions transfer and hangup). sequenceNumber, chunk and timestamp are
// strings on the wire, as Twilio sends them.

// Protocol constants of the `connected` and `start` messages.
const (
	TwilioProtocol     = "Call"
	TwilioVersion      = "1.0.0"
	TwilioEncoding     = "audio/x-mulaw"
	TwilioSampleRate   = 8000
	TwilioChannels     = 1
	TwilioTrackInbound = "inbound"
	// EncodingL16 and SampleRateL16 announce the wideband format.
	EncodingL16   = "audio/l16"
	SampleRateL16 = 16000
	// TwilioDTMFTrack is the track name of dtmf messages ("inbound_track").
	TwilioDTMFTrack = "inbound_track"
)

// Event names of the protocol.
const (
	EventConnected = "connected"
	EventStart     = "start"
	EventMedia     = "media"
	EventDTMF      = "dtmf"
	EventMark      = "mark"
	EventStop      = "stop"
	EventClear     = "clear"
	// EventTransfer and EventHangup are sipbridge extensions an assistant
	// may send: {"event":"transfer","transfer":{"to":"…"}}, {"event":"hangup"}
	// (after the audio sent before it has played) or
	// {"event":"hangup","immediate":true} (at once).
	// A transfer may name its mode: {"event":"transfer","transfer":{"to":"…",
	// "mode":"warm"}} ("" lets sipbridge choose, or refer, bridge, warm).
	EventTransfer = "transfer"
	EventHangup   = "hangup"
	// EventTransferComplete and EventTransferCancel end a warm transfer
	// whose target has answered (the assistant was told with
	// EventTransferAnswered): {"event":"transfer_complete"} bridges the
	// caller to the target and releases the assistant;
	// {"event":"transfer_cancel"} hangs the target up and gives the caller
	// back to the assistant (which gets transfer_failed, reason cancelled).
	EventTransferComplete = "transfer_complete"
	EventTransferCancel   = "transfer_cancel"
	// EventTransferAnswered is the sipbridge extension sent to the
	// assistant when the target of its warm transfer answered: from then on
	// the assistant hears the target and talks to it, the caller hears the
	// hold audio. {"event":"transfer_answered","transfer":{"to":"…"}}
	EventTransferAnswered = "transfer_answered"
	// EventDTMF is also sent by the assistant (a sipbridge extension) to
	// press keys on the call: {"event":"dtmf","dtmf":{"digits":"12#"}}.
	// EventTransferFailed is the sipbridge extension sent to the assistant
	// when a transfer it (or the API) asked for did not reach anyone: the
	// caller is still on the line, talking to the assistant again.
	// {"event":"transfer_failed","transfer":{"to":"…","reason":"…"}}
	EventTransferFailed = "transfer_failed"
	// EventAMD is the sipbridge extension that tells the assistant of an
	// outbound call placed with amd: true what answered it:
	// {"event":"amd","amd":{"result":"machine","ms":2340}}, and with
	// amd_action wait_beep a second time once the voicemail's beep has
	// ended (beep true) or none came (beep false).
	EventAMD = "amd"
)

// ConnectedMessage is the first message of a stream.
type ConnectedMessage struct {
	Event    string `json:"event"`
	Protocol string `json:"protocol"`
	Version  string `json:"version"`
}

// StartMessage describes the stream; it follows `connected`.
type StartMessage struct {
	Event          string       `json:"event"`
	SequenceNumber string       `json:"sequenceNumber"`
	Start          StartPayload `json:"start"`
	StreamSID      string       `json:"streamSid"`
}

// StartPayload is the `start` object of a StartMessage.
type StartPayload struct {
	StreamSID        string            `json:"streamSid"`
	AccountSID       string            `json:"accountSid"`
	CallSID          string            `json:"callSid"`
	Tracks           []string          `json:"tracks"`
	CustomParameters map[string]string `json:"customParameters"`
	MediaFormat      MediaFormat       `json:"mediaFormat"`
}

// MediaFormat is the audio of the `media` messages, both ways: μ-law
// 8000 Hz mono (the default, as Twilio sends it), or with the assistant's
// audio_format l16_16k, 16-bit linear PCM little endian at 16000 Hz mono
// ("audio/l16").
type MediaFormat struct {
	Encoding   string `json:"encoding"`
	SampleRate int    `json:"sampleRate"`
	Channels   int    `json:"channels"`
}

// MediaMessage carries 20 ms of caller audio.
type MediaMessage struct {
	Event          string       `json:"event"`
	SequenceNumber string       `json:"sequenceNumber"`
	Media          MediaPayload `json:"media"`
	StreamSID      string       `json:"streamSid"`
}

// MediaPayload is the `media` object of a MediaMessage; Payload is base64
// audio in the stream's MediaFormat.
type MediaPayload struct {
	Track     string `json:"track"`
	Chunk     string `json:"chunk"`
	Timestamp string `json:"timestamp"`
	Payload   string `json:"payload"`
}

// DTMFMessage reports a key the caller pressed.
type DTMFMessage struct {
	Event          string      `json:"event"`
	StreamSID      string      `json:"streamSid"`
	SequenceNumber string      `json:"sequenceNumber"`
	DTMF           DTMFPayload `json:"dtmf"`
}

// DTMFPayload is the `dtmf` object of a DTMFMessage.
type DTMFPayload struct {
	Track string `json:"track"`
	Digit string `json:"digit"`
}

// MarkMessage echoes a mark of the assistant once the audio before it has
// played to the caller.
type MarkMessage struct {
	Event          string      `json:"event"`
	StreamSID      string      `json:"streamSid"`
	SequenceNumber string      `json:"sequenceNumber"`
	Mark           MarkPayload `json:"mark"`
}

// MarkPayload is the `mark` object of a MarkMessage.
type MarkPayload struct {
	Name string `json:"name"`
}

// TransferFailedMessage tells the assistant that a transfer did not
// happen and the caller is back with it.
type TransferFailedMessage struct {
	Event          string                `json:"event"`
	StreamSID      string                `json:"streamSid"`
	SequenceNumber string                `json:"sequenceNumber"`
	Transfer       TransferFailedPayload `json:"transfer"`
}

// TransferFailedPayload is the `transfer` object of a
// TransferFailedMessage: the target asked for and why it failed.
type TransferFailedPayload struct {
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// TransferAnsweredMessage tells the assistant that the target of its warm
// transfer answered: its stream now carries the target's audio.
type TransferAnsweredMessage struct {
	Event          string          `json:"event"`
	StreamSID      string          `json:"streamSid"`
	SequenceNumber string          `json:"sequenceNumber"`
	Transfer       TransferPayload `json:"transfer"`
}

// TransferPayload is the `transfer` object of a TransferAnsweredMessage.
type TransferPayload struct {
	To string `json:"to"`
}

// AMDMessage reports answering machine detection on an outbound call.
type AMDMessage struct {
	Event          string     `json:"event"`
	StreamSID      string     `json:"streamSid"`
	SequenceNumber string     `json:"sequenceNumber"`
	AMD            AMDPayload `json:"amd"`
}

// AMDPayload is the `amd` object of an AMDMessage: the result (human,
// machine or unknown) and MS, the milliseconds of the callee's audio heard
// when it was decided; Beep is set on the wait_beep report (true: the beep
// has just ended, false: none came), nil on the decision.
type AMDPayload struct {
	Result string `json:"result"`
	Beep   *bool  `json:"beep,omitempty"`
	MS     int    `json:"ms"`
}

// StopMessage ends the stream.
type StopMessage struct {
	Event          string      `json:"event"`
	SequenceNumber string      `json:"sequenceNumber"`
	StreamSID      string      `json:"streamSid"`
	Stop           StopPayload `json:"stop"`
}

// StopPayload is the `stop` object of a StopMessage.
type StopPayload struct {
	AccountSID string `json:"accountSid"`
	CallSID    string `json:"callSid"`
}

// An assistant's audio_format: what its `media` messages carry, both ways.
const (
	AudioMulaw8k = "mulaw_8k" // μ-law 8 kHz (the default)
	AudioL16k16  = "l16_16k"  // 16-bit linear PCM LE 16 kHz: the full band of a wideband call
)

// ValidAudioFormat reports whether f is an audio_format ("" is the
// default, mulaw_8k).
func ValidAudioFormat(f string) bool { return f == "" || f == AudioMulaw8k || f == AudioL16k16 }

// FormatOf returns the start message's mediaFormat of an audio_format.
func FormatOf(audioFormat string) MediaFormat {
	if audioFormat == AudioL16k16 {
		return MediaFormat{Encoding: EncodingL16, SampleRate: SampleRateL16, Channels: TwilioChannels}
	}
	return MediaFormat{Encoding: TwilioEncoding, SampleRate: TwilioSampleRate, Channels: TwilioChannels}
}

// Keys of the customParameters sipbridge sets in `start`.
const (
	ParamFrom = "from"
	ParamTo   = "to"
	// ParamFromNumber and ParamToNumber repeat From and To under the names
	// some runtimes read (Pipecat's runner: from_number, to_number).
	ParamFromNumber = "from_number"
	ParamToNumber   = "to_number"
	ParamCallID     = "call_id"
	// ParamCallSID is the call's id at the switch or provider: the
	// FreeSWITCH channel UUID of a SIP call, the provider's call id of a
	// hosted one (the record's call_sid).
	ParamCallSID        = "call_sid"
	ParamAssistantID    = "assistant_id"
	ParamDirection      = "direction"
	ParamWelcomeMessage = "welcome_message"
	// ParamResumed is "true" in the start of a call a new sipbridge
	// process took over (a restart with the call up): the conversation
	// goes on, and no welcome message is given.
	ParamResumed = "resumed"
)

// StartInfo is what the `start` message tells the assistant about the call.
type StartInfo struct {
	// StreamSID identifies the stream; empty means "MZ" + 32 random hex
	// digits, the shape of a Twilio stream SID.
	StreamSID string
	// AccountSID is reported as start.accountSid and stop.accountSid; empty
	// means "AC" + 32 zeros. Call control sets the organization's account
	// SID on sipbridge's Twilio-compatible call-control route
	// (call.TwilioAccountSID).
	AccountSID string
	// CallSID is reported as start.callSid; empty means "CA" + the 32 hex
	// digits of CallID when CallID is a UUID, else "CA" + random hex.
	CallSID string
	// CallID is sipbridge's call id, the id of the call's record in the
	// API (customParameters.call_id).
	CallID string
	// From and To are the caller and called numbers (E.164 when known).
	From, To string
	// AssistantID is sipbridge's id of the assistant.
	AssistantID string
	// Direction is "inbound" or "outbound".
	Direction string
	// WelcomeMessage is the greeting the assistant should speak first.
	WelcomeMessage string
	// AudioFormat is the assistant's audio_format: AudioMulaw8k (also
	// when empty) or AudioL16k16. It sets start.mediaFormat; the caller
	// and the assistant then send media in that format.
	AudioFormat string
	// Extra holds further custom parameters, e.g. the INVITE's X- headers
	// by header name. The named fields above win over Extra on a clash.
	Extra map[string]string
}

// CustomParameters returns the start message's customParameters: Extra,
// then the named fields that are not empty.
func (s StartInfo) CustomParameters() map[string]string {
	p := make(map[string]string, len(s.Extra)+6)
	for k, v := range s.Extra {
		p[k] = v
	}
	for k, v := range map[string]string{
		ParamFrom:           s.From,
		ParamTo:             s.To,
		ParamFromNumber:     s.From,
		ParamToNumber:       s.To,
		ParamCallID:         s.CallID,
		ParamAssistantID:    s.AssistantID,
		ParamDirection:      s.Direction,
		ParamWelcomeMessage: s.WelcomeMessage,
	} {
		if v != "" {
			p[k] = v
		}
	}
	return p
}

// withDefaults fills the SIDs that were left empty.
func (s StartInfo) withDefaults() StartInfo {
	if s.StreamSID == "" {
		s.StreamSID = "MZ" + hex32(uuid.New())
	}
	if s.AccountSID == "" {
		s.AccountSID = "AC" + strings.Repeat("0", 32)
	}
	if s.CallSID == "" {
		if id, err := uuid.Parse(s.CallID); err == nil {
			s.CallSID = "CA" + hex32(id)
		} else {
			s.CallSID = "CA" + hex32(uuid.New())
		}
	}
	return s
}

func hex32(id uuid.UUID) string {
	return strings.ReplaceAll(id.String(), "-", "")
}

func (s StartInfo) connectedMessage() ConnectedMessage {
	return ConnectedMessage{Event: EventConnected, Protocol: TwilioProtocol, Version: TwilioVersion}
}

func (s StartInfo) startMessage(seq int64) StartMessage {
	return StartMessage{
		Event:          EventStart,
		SequenceNumber: strconv.FormatInt(seq, 10),
		Start: StartPayload{
			StreamSID:        s.StreamSID,
			AccountSID:       s.AccountSID,
			CallSID:          s.CallSID,
			Tracks:           []string{TwilioTrackInbound},
			CustomParameters: s.CustomParameters(),
			MediaFormat:      FormatOf(s.AudioFormat),
		},
		StreamSID: s.StreamSID,
	}
}

// appendMediaMessage appends a `media` message to dst without going through
// encoding/json (it runs 50 times a second per call). streamSIDJSON is the
// stream SID already encoded as a JSON string (with quotes).
func appendMediaMessage(dst []byte, seq, chunk, timestampMS int64, audio []byte, streamSIDJSON []byte) []byte {
	dst = append(dst, `{"event":"media","sequenceNumber":"`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `","media":{"track":"inbound","chunk":"`...)
	dst = strconv.AppendInt(dst, chunk, 10)
	dst = append(dst, `","timestamp":"`...)
	dst = strconv.AppendInt(dst, timestampMS, 10)
	dst = append(dst, `","payload":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, audio)
	dst = append(dst, `"},"streamSid":`...)
	dst = append(dst, streamSIDJSON...)
	return append(dst, '}')
}

// jsonString encodes s as a JSON string literal.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

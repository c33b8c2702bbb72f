package hosted

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
)

// The three media websocket formats sipbridge accepts on /streams, decoded
// into one event type.
//
//   - Twilio Media Streams (text JSON): connected, start (customParameters,
//     streamSid), media (base64 μ-law 8 kHz), dtmf, mark (the echo of ours),
//     stop.
//   - Telnyx media streaming (text JSON; Telnyx's media streaming AsyncAPI
//     "Stream call media over WebSocket", read 2026-12): connected, start
//     (stream_id, start.call_control_id, client_state, media_format
//     {encoding, sample_rate, channels}), media (media.payload base64 RTP
//     payload without headers in the start frame's encoding; track inbound
//     or outbound), dtmf (dtmf.digit), mark (mark.name, the echo of ours),
//     stop, error. sipbridge asks for stream_codec PCMU, which Telnyx
//     transcodes from PCMA only: a call in G722, OPUS, AMR-WB or L16 keeps
//     its own codec, named in media_format.encoding.
//   - Vonage Voice websocket: one text JSON first ({"event":
//     "websocket:connected", "content-type": …, plus the NCCO headers}),
//     text {"event":"websocket:dtmf","digit":…}, then binary frames of raw
//     L16 little-endian 16 kHz (640 bytes per 20 ms).

type streamEventKind int

const (
	evIgnore streamEventKind = iota
	evStart
	evMedia
	evDTMF
	evMark
	evStop
	evClosed // the websocket broke or closed (reader only)
)

type streamEvent struct {
	kind streamEventKind
	// audio is μ-law 8 kHz (Twilio, Telnyx) or L16 16 kHz (Vonage) as
	// parsed; the reader converts Vonage's to μ-law.
	audio    []byte
	l16      bool // audio is Vonage's L16 16 kHz, kept for an l16_16k assistant
	digit    string
	mark     string
	encoding string // evStart (Telnyx): media_format.encoding, upper case
	streamID string
	callSID  string
	params   map[string]string
	err      error // evClosed: why
}

var errStreamMessage = errors.New("malformed provider stream message")

// validDigit: one DTMF key.
func validDigit(d string) bool {
	return len(d) == 1 && strings.Contains("0123456789*#ABCDabcd", d)
}

// validMark: a mark name we can pass on (ours come from the assistant).
func validMark(m string) bool { return m != "" && len(m) <= 256 && printable(m) }

// parseTwilioStream decodes a Twilio Media Streams message.
func parseTwilioStream(data []byte) (streamEvent, error) {
	m, err := assistant.ParseStreamMessage(data)
	if err != nil {
		if errors.Is(err, assistant.ErrUnknownEvent) {
			return streamEvent{kind: evIgnore}, nil
		}
		return streamEvent{}, fmt.Errorf("%w: %w", errStreamMessage, err)
	}
	switch m.Event {
	case assistant.EventStart:
		return streamEvent{kind: evStart, streamID: cmp.Or(m.Start.StreamSID, m.StreamSID), callSID: m.Start.CallSID,
			params: m.Start.CustomParameters}, nil
	case assistant.EventMedia:
		if m.Media.Track != "" && m.Media.Track != assistant.TwilioTrackInbound {
			return streamEvent{kind: evIgnore}, nil
		}
		audio, err := m.Audio()
		if err != nil {
			return streamEvent{}, fmt.Errorf("%w: %w", errStreamMessage, err)
		}
		return streamEvent{kind: evMedia, audio: audio}, nil
	case assistant.EventDTMF:
		if !validDigit(m.DTMF.Digit) {
			return streamEvent{}, fmt.Errorf("%w: dtmf without a valid digit", errStreamMessage)
		}
		return streamEvent{kind: evDTMF, digit: m.DTMF.Digit}, nil
	case assistant.EventMark:
		if !validMark(m.Mark.Name) {
			return streamEvent{}, fmt.Errorf("%w: mark without a valid name", errStreamMessage)
		}
		return streamEvent{kind: evMark, mark: m.Mark.Name}, nil
	case assistant.EventStop:
		return streamEvent{kind: evStop}, nil
	}
	return streamEvent{kind: evIgnore}, nil
}

// parseTelnyxStream decodes a Telnyx media streaming message.
func parseTelnyxStream(data []byte) (streamEvent, error) {
	var m struct {
		Event    string `json:"event"`
		StreamID string `json:"stream_id"`
		Start    *struct {
			CallControlID    string            `json:"call_control_id"`
			ClientState      string            `json:"client_state"`
			CustomParameters map[string]string `json:"custom_parameters"`
			MediaFormat      *struct {
				Encoding string `json:"encoding"`
			} `json:"media_format"`
		} `json:"start"`
		Media *struct {
			Track   string `json:"track"`
			Payload string `json:"payload"`
		} `json:"media"`
		DTMF *struct {
			Digit string `json:"digit"`
		} `json:"dtmf"`
		Mark *struct {
			Name string `json:"name"`
		} `json:"mark"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return streamEvent{}, fmt.Errorf("%w: %v", errStreamMessage, err)
	}
	switch m.Event {
	case "start":
		ev := streamEvent{kind: evStart, streamID: m.StreamID}
		if m.Start != nil {
			ev.callSID, ev.params = m.Start.CallControlID, m.Start.CustomParameters
			if mf := m.Start.MediaFormat; mf != nil {
				ev.encoding = strings.ToUpper(strings.TrimSpace(mf.Encoding))
			}
		}
		return ev, nil
	case "media":
		if m.Media == nil || m.Media.Payload == "" {
			return streamEvent{}, fmt.Errorf("%w: media without payload", errStreamMessage)
		}
		if m.Media.Track != "" && m.Media.Track != "inbound" {
			return streamEvent{kind: evIgnore}, nil
		}
		audio, err := base64.StdEncoding.DecodeString(m.Media.Payload)
		if err != nil {
			return streamEvent{}, fmt.Errorf("%w: media payload: %v", errStreamMessage, err)
		}
		return streamEvent{kind: evMedia, audio: audio}, nil
	case "dtmf":
		if m.DTMF == nil || !validDigit(m.DTMF.Digit) {
			return streamEvent{}, fmt.Errorf("%w: dtmf without a valid digit", errStreamMessage)
		}
		return streamEvent{kind: evDTMF, digit: m.DTMF.Digit}, nil
	case "mark":
		if m.Mark == nil || !validMark(m.Mark.Name) {
			return streamEvent{}, fmt.Errorf("%w: mark without a valid name", errStreamMessage)
		}
		return streamEvent{kind: evMark, mark: m.Mark.Name}, nil
	case "stop":
		return streamEvent{kind: evStop}, nil
	case "":
		return streamEvent{}, fmt.Errorf("%w: no event", errStreamMessage)
	}
	return streamEvent{kind: evIgnore}, nil // connected, error, future events
}

// parseVonageStream decodes a Vonage websocket message: binary frames are
// L16 audio (an even number of bytes), text frames JSON events.
func parseVonageStream(binary bool, data []byte) (streamEvent, error) {
	if binary {
		if len(data) == 0 || len(data)%2 != 0 {
			return streamEvent{}, fmt.Errorf("%w: L16 frame of %d bytes", errStreamMessage, len(data))
		}
		return streamEvent{kind: evMedia, audio: data}, nil
	}
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return streamEvent{}, fmt.Errorf("%w: not a JSON object", errStreamMessage)
	}
	event, _ := top["event"].(string)
	switch event {
	case "websocket:connected":
		params := map[string]string{}
		for k, v := range top {
			if s, ok := v.(string); ok && k != "event" {
				params[k] = s
			}
		}
		return streamEvent{kind: evStart, params: params}, nil
	case "websocket:dtmf":
		digit, _ := top["digit"].(string)
		if digit == "" {
			if d, ok := top["dtmf"].(map[string]any); ok {
				digit, _ = d["digit"].(string)
			}
		}
		if !validDigit(digit) {
			return streamEvent{}, fmt.Errorf("%w: dtmf without a valid digit", errStreamMessage)
		}
		return streamEvent{kind: evDTMF, digit: digit}, nil
	}
	return streamEvent{kind: evIgnore}, nil
}

// telnyxStreamCodec is the codec sipbridge asks Telnyx to stream in
// (stream_codec) and assumes until a start frame names another.
const telnyxStreamCodec = "PCMU"

// telnyxCodecSupported: the encodings whose payloads reach the assistant
// (G.711 both ways; the assistant speaks μ-law).
func telnyxCodecSupported(enc string) bool { return enc == "PCMU" || enc == "PCMA" }

// telnyxToMulaw turns one Telnyx media payload in encoding enc into μ-law
// (in place for PCMA); ok is false for an encoding sipbridge does not
// decode, whose audio must not reach the assistant as noise.
func telnyxToMulaw(enc string, payload []byte) (ulaw []byte, ok bool) {
	switch enc {
	case "PCMU":
		return payload, true
	case "PCMA":
		audio.AlawToMulaw(payload)
		return payload, true
	}
	return nil, false
}

package call

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/db"
)

// AssistantSink is what a call path does with its assistant's messages:
// the FreeSWITCH path plays through its pipe or files and transfers by
// REFER or bridge, a hosted path sends to the provider's stream and API.
type AssistantSink interface {
	// Event appends to the call's timeline.
	Event(typ string, detail db.JSONMap)
	// PlayMedia queues μ-law 8 kHz audio behind what is queued.
	PlayMedia(ulaw []byte)
	// Mark queues a mark behind the audio; it is echoed to the assistant
	// once that audio has played.
	Mark(name string)
	// Clear drops the queued audio (the marks behind it are echoed).
	Clear()
	// Transfer starts the transfer the assistant asked for (mode as sent:
	// "", refer, bridge or warm); an error means it was refused before
	// anything was tried: the conversation goes on.
	Transfer(to string, mode TransferMode) error
	// EndWarmTransfer is the assistant's transfer_complete (complete) or
	// transfer_cancel of its warm transfer; with none whose target has
	// answered it is logged and the call goes on.
	EndWarmTransfer(complete bool)
	// TransferRefused tells the assistant (and the log) that its transfer
	// was refused.
	TransferRefused(to string, err error)
	// Hangup ends the call: at once, or once the audio sent before has
	// played.
	Hangup(immediate bool)
	// SendDTMF presses keys on the call (digits already checked by
	// CheckDTMFDigits); an error means they were not sent.
	SendDTMF(digits string) error
	// DTMFRefused logs, once, that the assistant's dtmf was not sent.
	DTMFRefused(digits string, err error)
}

// MaxDTMFDigits bounds the digits of one dtmf message of an assistant.
const MaxDTMFDigits = 32

// ErrBadDTMF means an assistant's dtmf message asked for keys no phone
// has, or too many at once.
var ErrBadDTMF = errors.New("invalid dtmf digits")

// ErrDTMFUnsupported means the call's path cannot send DTMF.
var ErrDTMFUnsupported = errors.New("sending dtmf is not supported on this call")

// CheckDTMFDigits returns the keys an assistant asked to press, upper
// case: 1 to MaxDTMFDigits of 0-9 * # A-D (a-d are taken as A-D, as the
// caller's own keys are reported).
func CheckDTMFDigits(digits string) (string, error) {
	if n := len(digits); n == 0 || n > MaxDTMFDigits {
		return "", fmt.Errorf("%w: %d digits, want 1 to %d", ErrBadDTMF, n, MaxDTMFDigits)
	}
	up := strings.ToUpper(digits)
	for i := 0; i < len(up); i++ {
		if !strings.ContainsRune("0123456789*#ABCD", rune(up[i])) {
			return "", fmt.Errorf("%w: %q is not one of 0-9 * # A-D", ErrBadDTMF, digits[i:i+1])
		}
	}
	return up, nil
}

// HandleAssistantMessage is the one dispatch of an assistant's message
// (media, mark, clear, transfer, transfer_complete, transfer_cancel, hangup,
// dtmf), for both paths. Requests the
// assistant makes are written to the timeline here, before the path acts.
func HandleAssistantMessage(m assistant.AssistantMessage, s AssistantSink) {
	switch m.Event {
	case assistant.EventMedia:
		s.PlayMedia(m.Payload)
	case assistant.EventMark:
		s.Mark(m.Mark)
	case assistant.EventClear:
		s.Clear()
	case assistant.EventTransfer:
		detail := db.JSONMap{"to": m.TransferTo, "by": "assistant"}
		if m.TransferMode != "" {
			detail["mode"] = m.TransferMode
		}
		s.Event(EventTransferRequested, detail)
		mode := TransferMode(m.TransferMode)
		var err error = ErrUnknownTransferMode
		if mode.Known() {
			err = s.Transfer(m.TransferTo, mode)
		}
		if err != nil {
			s.TransferRefused(m.TransferTo, err)
		}
	case assistant.EventTransferComplete, assistant.EventTransferCancel:
		s.EndWarmTransfer(m.Event == assistant.EventTransferComplete)
	case assistant.EventHangup:
		s.Event(EventHangupRequested, db.JSONMap{"by": "assistant", "immediate": m.Immediate})
		s.Hangup(m.Immediate)
	case assistant.EventDTMF:
		sendDTMF(m.Digits, s)
	}
}

// sendDTMF presses the keys of a dtmf message: dtmf_sent with the digits,
// or dtmf_refused with the reason (the call goes on either way).
func sendDTMF(asked string, s AssistantSink) {
	digits, err := CheckDTMFDigits(asked)
	if err == nil {
		err = s.SendDTMF(digits)
	}
	if err != nil {
		if len(asked) > 2*MaxDTMFDigits {
			asked = asked[:2*MaxDTMFDigits] + "…"
		}
		s.DTMFRefused(asked, err)
		s.Event(EventDTMFRefused, db.JSONMap{"digits": asked, "reason": err.Error()})
		return
	}
	s.Event(EventDTMFSent, db.JSONMap{"digits": digits})
}

// XHeaders returns an inbound call's X- headers by name, from the channel
// variables FreeSWITCH gives them (variable_sip_h_X-…): the context a PBX
// or carrier passes along, which the assistant gets as customParameters.
func XHeaders(headers map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range headers {
		if name, ok := strings.CutPrefix(k, "variable_sip_h_"); ok && len(name) > 2 && (name[0] == 'X' || name[0] == 'x') && name[1] == '-' {
			out[name] = v
		}
	}
	return out
}

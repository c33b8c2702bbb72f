package call

import (
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
	// Transfer starts the transfer the assistant asked for; an error means
	// it was refused before anything was tried: the conversation goes on.
	Transfer(to string) error
	// TransferRefused tells the assistant (and the log) that its transfer
	// was refused.
	TransferRefused(to string, err error)
	// Hangup ends the call: at once, or once the audio sent before has
	// played.
	Hangup(immediate bool)
}

// HandleAssistantMessage is the one dispatch of an assistant's message
// (media, mark, clear, transfer, hangup), for both paths. Requests the
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
		s.Event(EventTransferRequested, db.JSONMap{"to": m.TransferTo, "by": "assistant"})
		if err := s.Transfer(m.TransferTo); err != nil {
			s.TransferRefused(m.TransferTo, err)
		}
	case assistant.EventHangup:
		s.Event(EventHangupRequested, db.JSONMap{"by": "assistant", "immediate": m.Immediate})
		s.Hangup(m.Immediate)
	}
}

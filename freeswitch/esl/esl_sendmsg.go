package esl

import (
	"fmt"
	"strconv"
	"strings"
)

// SendMsg is a call command for "sendmsg <uuid>" (inbound) or "sendmsg"
// (outbound, the socket's own channel). Build it with [Execute] or
// [Hangup], or fill the fields.
type SendMsg struct {
	// Command is call-command: "execute" or "hangup" (also "unicast",
	// "nomedia", ... sent as is).
	Command string
	// App is execute-app-name (e.g. "answer", "playback", "park").
	App string
	// Arg is execute-app-arg. An argument with a line break is sent as a
	// text/plain body instead of a header, as FreeSWITCH allows.
	Arg string
	// Loops is the loops header (repeat count); 0 omits it.
	Loops int
	// EventLock makes FreeSWITCH run queued applications one after the
	// other (event-lock: true).
	EventLock bool
	// EventUUID (Event-UUID) is echoed as Application-UUID in the
	// CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE events of this execute.
	EventUUID string
	// HangupCause is hangup-cause for Command "hangup" (e.g. "NORMAL_CLEARING").
	HangupCause string
}

// Execute returns a SendMsg that runs app with arg, with event-lock set.
func Execute(app, arg string) SendMsg {
	return SendMsg{Command: "execute", App: app, Arg: arg, EventLock: true}
}

// Hangup returns a SendMsg that hangs the channel up with cause (empty: the
// FreeSWITCH default, NORMAL_CLEARING).
func Hangup(cause string) SendMsg {
	return SendMsg{Command: "hangup", HangupCause: cause}
}

// wire returns the header lines and body of the message, in the order
// FreeSWITCH documents them.
func (m SendMsg) wire() ([]header, string, error) {
	if m.Command == "" {
		return nil, "", fmt.Errorf("%w: sendmsg without call-command", ErrInvalid)
	}
	for _, v := range []string{m.Command, m.App, m.EventUUID, m.HangupCause} {
		if !validLine(v) {
			return nil, "", fmt.Errorf("%w: sendmsg header value %q has CR or LF", ErrInvalid, v)
		}
	}
	if m.Command == "execute" && m.App == "" {
		return nil, "", fmt.Errorf("%w: sendmsg execute without application", ErrInvalid)
	}
	hdrs := make([]header, 0, 6)
	hdrs = append(hdrs, header{"call-command", m.Command})
	if m.App != "" {
		hdrs = append(hdrs, header{"execute-app-name", m.App})
	}
	body := ""
	if m.Arg != "" {
		if strings.ContainsAny(m.Arg, "\r\n") {
			body = m.Arg
			hdrs = append(hdrs, header{"content-type", "text/plain"})
		} else {
			hdrs = append(hdrs, header{"execute-app-arg", m.Arg})
		}
	}
	if m.Loops > 0 {
		hdrs = append(hdrs, header{"loops", strconv.Itoa(m.Loops)})
	}
	if m.HangupCause != "" {
		hdrs = append(hdrs, header{"hangup-cause", m.HangupCause})
	}
	if m.EventLock {
		hdrs = append(hdrs, header{"event-lock", "true"})
	}
	if m.EventUUID != "" {
		hdrs = append(hdrs, header{"Event-UUID", m.EventUUID})
	}
	return hdrs, body, nil
}

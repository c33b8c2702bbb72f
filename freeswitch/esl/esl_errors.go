// Package esl is a FreeSWITCH Event Socket (ESL) library.
//
// Inbound mode: [Client] dials mod_event_socket, authenticates, subscribes
// to events (always as text/event-json) and keeps the connection alive: it
// checks liveness, reconnects with capped exponential backoff, subscribes
// again and calls the OnConnect hook after every (re)connect so the caller
// can resync. Commands are [Client.API] (synchronous api), [Client.BGAPI]
// (bgapi with our own Job-UUID, waits for the BACKGROUND_JOB event) and
// [Client.SendMsg] (call control: execute an application, hang up).
//
// Outbound mode: [Server] accepts the connections FreeSWITCH opens for
// `socket <addr> async full` in the dialplan and runs an [OutboundHandler]
// per call with an [OutboundConn].
//
// Wire rules the package relies on (checked against recordings of a real
// FreeSWITCH 1.11): replies to commands (command/reply, api/response) arrive
// in the order the commands were sent on one connection, so each connection
// keeps a FIFO of waiting callers; events are demultiplexed by Content-Type.
// A reply that starts with "-ERR" becomes a [*CommandError] for that caller
// only; it never closes the connection. Some failures start with "+OK"
// (reloadxml, rescan): the text is returned as is, callers interpret it.
package esl

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of them (use
// errors.Is).
var (
	// ErrAuth means FreeSWITCH refused the password (reply "-ERR invalid").
	ErrAuth = errors.New("esl: authentication failed")
	// ErrCommand is matched by every [*CommandError]: FreeSWITCH answered a
	// command with a reply starting with "-ERR".
	ErrCommand = errors.New("esl: command failed")
	// ErrClosed means the connection is gone (closed locally, EOF, read or
	// write error, failed liveness check). Pending callers get it.
	ErrClosed = errors.New("esl: connection closed")
	// ErrDisconnected means FreeSWITCH sent text/disconnect-notice and the
	// connection was closed. It wraps ErrClosed.
	ErrDisconnected = fmt.Errorf("%w: disconnected by FreeSWITCH", ErrClosed)
	// ErrNotConnected is returned at once by [Client] calls made while no
	// connection is up (no waiting for a reconnect).
	ErrNotConnected = errors.New("esl: not connected")
	// ErrProtocol means a frame could not be parsed (bad header line,
	// bad Content-Length, truncated body, oversized frame).
	ErrProtocol = errors.New("esl: protocol error")
	// ErrInvalid means an argument cannot be sent safely (empty command,
	// CR or LF inside a command line or header value).
	ErrInvalid = errors.New("esl: invalid argument")
)

// CommandError is a "-ERR ..." reply to one command. It matches ErrCommand.
type CommandError struct {
	// Command is the command verb and its arguments as sent ("api
	// uuid_kill <uuid>"); secrets (the auth password) are never included.
	Command string
	// Reply is the reply text exactly as FreeSWITCH sent it (Reply-Text of
	// a command/reply, the body of an api/response or BACKGROUND_JOB).
	Reply string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("esl: %s: %s", e.Command, strings.TrimRight(e.Reply, "\r\n"))
}

// Is makes errors.Is(err, ErrCommand) true.
func (e *CommandError) Is(target error) bool { return target == ErrCommand }

// isErrReply reports whether a reply text is a FreeSWITCH failure ("-ERR").
func isErrReply(text string) bool { return strings.HasPrefix(text, "-ERR") }

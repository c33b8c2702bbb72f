// Package call is the call model both voice paths share: the FreeSWITCH
// path (call/sip) and the hosted-provider path (call/hosted) implement
// Path; this package holds what they have in common — the request and
// result of placing a call, the call errors with their HTTP answer, the
// call state and its allowed transitions, the timeline's event names, the
// status callbacks, the organization's limits, the registry of live calls
// and the one handler of the assistant's messages.
package call

import (
	"context"
	"strings"

	"github.com/sipbridge/sipbridge/db"
)

// Path is one way calls are carried: FreeSWITCH and its SIP trunks, or a
// provider's call API and media stream.
type Path interface {
	Initiator
	Controls
	// Active returns the number of live calls.
	Active() int
	// Drain refuses new calls and waits until the live ones have ended or
	// ctx is done.
	Drain(ctx context.Context) error
	// Close ends every call and waits for their goroutines.
	Close()
}

// Controls are what the API does to a live call.
type Controls interface {
	// Hangup ends a live call of the organization; an outbound call still
	// ringing is cancelled. ErrCallNotFound when the path has no such call.
	Hangup(ctx context.Context, orgID int64, callID string) error
	// Transfer moves a live call of the organization to a sip: URI or an
	// E.164 number.
	Transfer(ctx context.Context, orgID int64, callID, to string, mode TransferMode) error
}

// Chooser picks the path that carries a call, once, from its record: a
// call on a SIP trunk (provider "" or "sip") is the FreeSWITCH path's, any
// other the hosted path's. Nil paths are not configured: their calls are
// not live here (ErrCallNotFound).
type Chooser struct {
	SIP, Hosted Controls
}

// For returns the path of a call whose record names provider.
func (c Chooser) For(provider string) (Controls, error) {
	p := c.SIP
	if provider != "" && provider != "sip" {
		p = c.Hosted
	}
	if p == nil {
		return nil, ErrCallNotFound
	}
	return p, nil
}

// Hangup ends the organization's call rec on the path that carries it (the
// API, the Twilio-compatible route and the console come here).
func (c Chooser) Hangup(ctx context.Context, orgID int64, rec *db.Call) error {
	p, err := c.For(rec.Provider)
	if err != nil {
		return err
	}
	return p.Hangup(ctx, orgID, rec.ID)
}

// Transfer moves the organization's call rec, like Hangup.
func (c Chooser) Transfer(ctx context.Context, orgID int64, rec *db.Call, to string, mode TransferMode) error {
	p, err := c.For(rec.Provider)
	if err != nil {
		return err
	}
	// The target is refused before the path records or queues anything
	// (each path parses it again where it uses it).
	if _, err := ParseTransferTarget(to); err != nil {
		return err
	}
	return p.Transfer(ctx, orgID, rec.ID, to, mode)
}

// Initiator places outbound calls: the part of a Path the SIP path hands
// a provider-hosted number's call to (with InitiateRequest.Resolved set).
type Initiator interface {
	Initiate(ctx context.Context, req InitiateRequest) (*InitiateResult, error)
}

// TransferMode is how a transfer leaves the call: "" lets the path decide
// (a REFER when the trunk allows, else a bridge), TransferRefer,
// TransferBridge or TransferWarm (the caller on hold while the assistant
// briefs the target, then bridged: SIP trunk calls only).
type TransferMode string

// Transfer modes (the API's mode, the assistant's transfer.mode).
const (
	TransferAuto   TransferMode = ""
	TransferRefer  TransferMode = "refer"
	TransferBridge TransferMode = "bridge"
	TransferWarm   TransferMode = "warm"
)

// Known tells whether m is one of the transfer modes.
func (m TransferMode) Known() bool {
	switch m {
	case TransferAuto, TransferRefer, TransferBridge, TransferWarm:
		return true
	}
	return false
}

// What answering machine detection does once it has decided
// (InitiateRequest.AMDAction; "" is AMDNone).
const (
	AMDNone     = "none"      // tell the assistant only
	AMDHangup   = "hangup"    // a machine is hung up
	AMDWaitBeep = "wait_beep" // a machine: tell the assistant again when its beep has ended
)

// AMDActions are the amd_action values, in the API's order.
var AMDActions = []string{AMDNone, AMDHangup, AMDWaitBeep}

// AMDHangupReason is the record's reason for a call amd_action hangup
// ended (SIP and hosted calls alike).
const AMDHangupReason = "answering machine detected (amd_action hangup)"

// InitiateRequest is an outbound call to place.
type InitiateRequest struct {
	OrgID          int64
	To, From       string // E.164
	AssistantID    string // optional: the number's outbound, then inbound assistant
	WelcomeMessage string
	Agenda         string
	Variables      map[string]string
	// StatusCallback, when set, is an https URL (checked against the
	// address policy by the caller) that receives the call's ringing,
	// answered, completed and failed events, signed with the assistant's
	// webhook secret.
	StatusCallback string
	// Wait: answer once the call is answered or has failed on every trunk
	// (scripts); otherwise once it is placed.
	Wait bool
	// AMD runs answering machine detection on the callee's audio once the
	// call is answered (SIP trunks; Twilio's and Telnyx's own on their
	// numbers; a Vonage number's call refuses it with ErrAMDHosted);
	// AMDAction says what a machine does (AMDActions).
	AMD       bool
	AMDAction string

	// Resolved is what the caller already looked up (the organization, the
	// from-number and the assistant): a path that receives a call another
	// path routed (a hosted number's call through the calls API) uses it
	// instead of looking them up again. Nil: the path resolves them.
	Resolved *Resolved
}

// Resolved is an outbound call's organization, from-number and assistant.
type Resolved struct {
	Org       *db.Organization
	Number    *db.PhoneNumber
	Assistant *db.Assistant
}

// InitiateResult is the placed call.
type InitiateResult struct {
	CallID  string // calls.id
	CallSID string // the FreeSWITCH channel UUID (or the provider's call id)
	// Ringing is true when the call was placed but not answered yet: the
	// record, the timeline and the status callback tell the rest.
	Ringing bool
}

// DialError means every trunk failed; Attempts hold each one's cause.
type DialError struct {
	Cause    string
	Attempts []DialAttempt
}

func (e *DialError) Error() string {
	var parts []string
	for _, a := range e.Attempts {
		parts = append(parts, a.Trunk+": "+a.Cause)
	}
	return "every trunk failed (" + strings.Join(parts, ", ") + ")"
}

// DialAttempt is one trunk an originate tried: its cause ("ANSWER" for the
// trunk that answered, "NOT_TRIED" for one no channel was made for) and
// how long it rang.
type DialAttempt struct {
	TrunkID     string  `json:"trunk_id"`
	Trunk       string  `json:"trunk"`
	Gateway     string  `json:"gateway"`
	Cause       string  `json:"cause"`
	RingSeconds float64 `json:"ring_seconds"`
	Leg         string  `json:"leg,omitempty"`
}

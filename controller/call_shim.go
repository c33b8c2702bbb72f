package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/route"
)

// The call model moved to package call; these names keep the files still
// in controller (the hosted path) compiling until they move too.

// Call errors (call/errors.go).
var (
	ErrCallNotFound           = call.ErrCallNotFound
	ErrBadStreamToken         = call.ErrBadStreamToken
	ErrNotAnswered            = call.ErrNotAnswered
	ErrDraining               = call.ErrDraining
	ErrBadNumber              = call.ErrBadNumber
	ErrNoAssistant            = call.ErrNoAssistant
	ErrSwitchUnavailable      = call.ErrSwitchUnavailable
	ErrCallCancelled          = call.ErrCallCancelled
	ErrNotSIPNumber           = call.ErrNotSIPNumber
	ErrNoCallbackSecret       = call.ErrNoCallbackSecret
	ErrNoEnabledTrunk         = call.ErrNoEnabledTrunk
	ErrTooManyCalls           = call.ErrTooManyCalls
	ErrCallRateExceeded       = call.ErrCallRateExceeded
	ErrCountryNotAllowed      = call.ErrCountryNotAllowed
	ErrNumberTypeNotAllowed   = call.ErrNumberTypeNotAllowed
	ErrTransferAddressRefused = call.ErrTransferAddressRefused
	ErrBadTransferTarget      = call.ErrBadTransferTarget
	ErrNoReferTemplate        = call.ErrNoReferTemplate
	ErrBadTransferMode        = call.ErrBadTransferMode
	ErrTransferInProgress     = call.ErrTransferInProgress
	ErrBadSIPURI              = call.ErrBadSIPURI
	// ErrNoPublicURL is the numbers service's.
	ErrNoPublicURL = numbers.ErrNoPublicURL
)

// Call model types (call/path.go, call/status.go, call/limits.go).
type (
	InitiateRequest       = call.InitiateRequest
	InitiateResult        = call.InitiateResult
	DialError             = call.DialError
	DialAttempt           = call.DialAttempt
	StatusCallbackOptions = call.StatusCallbackOptions
	CallStatus            = call.StatusEvent
	PlatformLimits        = call.PlatformLimits
	SIPURI                = call.SIPURI
)

// Status callback events.
const (
	StatusRinging   = call.StatusRinging
	StatusAnswered  = call.StatusAnswered
	StatusCompleted = call.StatusCompleted
	StatusFailed    = call.StatusFailed
)

// Destination rules and SIP URIs (call/limits.go, call/sipuri.go,
// call/transfer_target.go).
var (
	NumberTypes           = call.NumberTypes
	CheckDestination      = call.CheckDestination
	ParseSIPURI           = call.ParseSIPURI
	CheckReferTemplate    = call.CheckReferTemplate
	ReferTemplateHostPort = call.ReferTemplateHostPort
	ApplyReferTemplate    = call.ApplyReferTemplate
)

// statusNotifier wraps call.Notifier; a nil one does nothing. failed is
// told about an event given up on (the call's timeline).
type statusNotifier struct {
	n      *call.Notifier
	failed func(event, err string)
}

func newStatusNotifier(ctx context.Context, wg *sync.WaitGroup, opts StatusCallbackOptions, policy *netpolicy.Policy, url, secret, callID string, log *slog.Logger) *statusNotifier {
	n := call.NewNotifier(ctx, wg, opts, policy, url, secret, callID, log)
	if n == nil {
		return nil
	}
	w := &statusNotifier{n: n}
	n.OnFailed(func(event, err string) {
		if w.failed != nil {
			w.failed(event, err)
		}
	})
	return w
}

func (n *statusNotifier) notify(st CallStatus) {
	if n != nil {
		n.n.Notify(st)
	}
}

func callStatusOf(event string, rec *db.Call, now time.Time) CallStatus {
	return call.StatusOf(event, rec, now)
}

func newToken() string                                { return call.NewToken() }
func tokenEqual(a, b string) bool                     { return call.TokenEqual(a, b) }
func waitBounded(wg *sync.WaitGroup, d time.Duration) { call.WaitBounded(wg, d) }

func addressPolicy(p *netpolicy.Policy) netpolicy.Policy { return call.AddressPolicy(p) }

func checkTransferHost(ctx context.Context, p netpolicy.Policy, hostPort string) error {
	return call.CheckTransferHost(ctx, p, hostPort)
}

type transferTarget struct{ sipURI, hostPort, e164 string }

func parseTransferTarget(to string) (transferTarget, error) {
	t, err := call.ParseTransferTarget(to)
	return transferTarget{sipURI: t.SIPURI, hostPort: t.HostPort, e164: t.E164}, err
}

func e164User(uri string) string { return call.E164User(uri) }

// Refusal is route.Refusal for the hosted files (a type of this package:
// they write its literals unkeyed).
type Refusal struct {
	SIPStatus int
	Cause     string
	Reason    string
}

// Refusals of inbound calls (route/route.go).
var (
	RefuseUnknownNumber  = Refusal(route.RefuseUnknownNumber)
	RefuseNoAssistant    = Refusal(route.RefuseNoAssistant)
	RefuseCountryBlocked = Refusal(route.RefuseCountryBlocked)
)

func callerCountry(number, defaultCountry string) string {
	return route.CallerCountry(number, defaultCountry)
}

// StreamConn is a media websocket (call/media.go).
type StreamConn = call.StreamConn

// TwilioAccountSID moved to call/twilio_compat.go.
func TwilioAccountSID(orgID int64) string { return call.TwilioAccountSID(orgID) }

// HostedDialer is Hosted.Initiate's form; HostedInitiator adapts it to
// call.Initiator, what the SIP path hands a hosted number's call to.
type HostedDialer interface {
	Initiate(ctx context.Context, org *db.Organization, number *db.PhoneNumber, a *db.Assistant, req InitiateRequest) (*InitiateResult, error)
}

type hostedInitiator struct{ h HostedDialer }

// HostedInitiator returns h as a call.Initiator (req.Resolved is set by
// the SIP path).
func HostedInitiator(h HostedDialer) call.Initiator { return hostedInitiator{h} }

func (i hostedInitiator) Initiate(ctx context.Context, req call.InitiateRequest) (*call.InitiateResult, error) {
	r := req.Resolved
	if r == nil {
		return nil, call.ErrNoAssistant
	}
	return i.h.Initiate(ctx, r.Org, r.Number, r.Assistant, req)
}

// causeUnavailable is the hangup cause of a call refused for now (503).
const causeUnavailable = "NORMAL_TEMPORARY_FAILURE"

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

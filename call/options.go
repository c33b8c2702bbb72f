package call

import (
	"log/slog"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/netpolicy"
)

// Options are what both voice paths are given alike; sip.CallsOptions and
// hosted.Options embed them, and each path's constructor applies
// WithDefaults.
type Options struct {
	// AssistantConnectTimeout bounds the websocket to the assistant
	// (default 1.5 s: with the hangup or transfer after it, a caller whose
	// assistant is unreachable is dealt with within 2 s).
	AssistantConnectTimeout time.Duration
	// DialOptions are passed to assistant.Dial (tests: clock, timeouts).
	DialOptions []assistant.DialOption
	// AddressPolicy decides which addresses the assistant's stream_url may
	// reach; the websocket is dialled through it (nil: netpolicy.Default(),
	// no loopback, link-local or metadata address). Status callbacks are
	// posted through it too.
	AddressPolicy *netpolicy.Policy
	// StatusCallbacks shape the delivery of outbound calls' status_callback.
	StatusCallbacks StatusCallbackOptions
	// Registry counts the path's live calls (a drain waits for them) and
	// knows each one's organization and path (nil: one of the path's own).
	// Shared by both paths, a drain of either waits for the calls of both.
	Registry *Registry
	Log      *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultAssistantConnectTimeout is Options.AssistantConnectTimeout's
// default.
const DefaultAssistantConnectTimeout = 1500 * time.Millisecond

// WithDefaults returns o with its unset fields at their defaults.
func (o Options) WithDefaults() Options {
	if o.AssistantConnectTimeout <= 0 {
		o.AssistantConnectTimeout = DefaultAssistantConnectTimeout
	}
	if o.Registry == nil {
		o.Registry = NewRegistry()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

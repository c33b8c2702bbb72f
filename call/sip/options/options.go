// Package options holds what configures the FreeSWITCH path's call control
// (sip.CallsOptions) and its defaults.
package options

import (
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/route"
)

// What becomes of the live calls when sipbridge stops (SHUTDOWN_CALLS).
const (
	// ShutdownHangup hangs them up (the default).
	ShutdownHangup = "hangup"
	// ShutdownHandoff leaves the answered ones up, their records in
	// progress, for the next sipbridge to adopt (Calls.Adopt).
	ShutdownHandoff = "handoff"
)

// Options configure call control (sip.CallsOptions): what both paths are given
// (call.Options: the assistant's connect timeout, the address policy,
// status callbacks, the registry of live calls, log, clock) and what is
// the FreeSWITCH path's own.
type Options struct {
	call.Options
	// StreamWSBase is how FreeSWITCH reaches sipbridge's websocket
	// (STREAM_WS_BASE, default ws://127.0.0.1:8080). The stream URL is
	// <base>/fs/stream/<call id>/?token=<per-call token>.
	StreamWSBase string
	// PlaybackDir, when set, is where each call's playback pipe is made
	// (<dir>/<call id>.PCMU): the assistant's audio is played gaplessly
	// through it (call/sip/pipe). FreeSWITCH must open the same path, so
	// it runs on the same host. Empty: the audio is played as files
	// written by mod_audio_stream (any host, with gaps between files).
	PlaybackDir string
	// RecordingsDir is where FreeSWITCH writes call recordings
	// (<dir>/<call id>.wav); sipbridge reads them from the same path.
	RecordingsDir string
	// WelcomeAudioDir holds the assistants' welcome_audio files, which
	// FreeSWITCH plays from the same path.
	WelcomeAudioDir string
	// HoldAudio is what a caller on hold hears during a warm transfer: a
	// file FreeSWITCH plays (TRANSFER_HOLD_AUDIO) or a tone_stream:// path;
	// "" is transfer.DefaultHold, a ringback tone.
	HoldAudio string
	// StreamConnectTimeout is how long mod_audio_stream may take to open
	// its websocket to us after uuid_audio_stream start (default 3 s).
	StreamConnectTimeout time.Duration
	// ChannelCheck is how often a live call asks FreeSWITCH whether its
	// channel still exists (default 30 s): a hangup whose events were lost
	// must not leave the call open.
	ChannelCheck time.Duration
	// SwitchLostAfter is how long FreeSWITCH may stay unreachable, with the
	// call's media stream from it closed too, before the call is taken as
	// lost with the switch and its record closed (default 2 min; it is
	// closed at once if the switch comes back without the channel).
	SwitchLostAfter time.Duration
	// HeartBeat is STREAM_HEART_BEAT in seconds (default 15).
	HeartBeat int
	// Profile is the sofia profile of the trunks (FS_PROFILE).
	Profile string
	// LegTimeout is each trunk's ring time when a call is bridged out
	// (default 30 s).
	LegTimeout time.Duration
	// Hosted places outbound calls from numbers hosted at Twilio, Telnyx or
	// Vonage (nil: such calls are refused with call.ErrNotSIPNumber).
	Hosted call.Initiator
	// Routing is inbound routing's: ImplicitACL (trunk.Sync.ResolvedACL,
	// so routing sees every trunk whose ACL list holds a caller's address;
	// unset: the IP literals among its gateway and proxy only) and the
	// trusted SIP front (SIP_PROXIES) whose header carries the source.
	Routing route.Options
	// DefaultLimits are the platform's max_concurrent_calls and
	// calls_per_second for organizations that set 0 (DEFAULT_MAX_CONCURRENT_CALLS,
	// DEFAULT_CALLS_PER_SECOND); 0 here: no platform cap.
	DefaultLimits call.PlatformLimits
	// ShutdownCalls is what stopping does to the live calls (SHUTDOWN_CALLS):
	// ShutdownHangup ("" too) or ShutdownHandoff.
	ShutdownCalls string
	// OnFrame, when set, is told how long each caller frame took from its
	// arrival on the mod_audio_stream websocket to its `media` message being
	// written to the assistant (metrics, benchmarks).
	OnFrame func(time.Duration)
	// Node is the name of the FreeSWITCH node this call control drives
	// (FS_NODES), written to each call's record (calls.node).
	Node string
	// Limits are the organizations' call limits and admission locks, shared
	// by the call controls of several nodes so that a limit holds across
	// them (nil: this call control's own).
	Limits *call.Limits
}

// WithDefaults fills what o leaves unset.
func (o Options) WithDefaults() Options {
	if o.StreamWSBase == "" {
		o.StreamWSBase = "ws://127.0.0.1:8080"
	}
	o.StreamWSBase = strings.TrimRight(o.StreamWSBase, "/")
	o.Options = o.Options.WithDefaults()
	if o.StreamConnectTimeout <= 0 {
		o.StreamConnectTimeout = 3 * time.Second
	}
	if o.HeartBeat <= 0 {
		o.HeartBeat = 15
	}
	if o.ChannelCheck <= 0 {
		o.ChannelCheck = 30 * time.Second
	}
	if o.SwitchLostAfter <= 0 {
		o.SwitchLostAfter = 2 * time.Minute
	}
	if o.Profile == "" {
		o.Profile = "external"
	}
	if o.LegTimeout <= 0 {
		o.LegTimeout = 30 * time.Second
	}
	return o
}

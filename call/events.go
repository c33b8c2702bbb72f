package call

// Timeline event names: every entry a call's timeline (GET
// /api/v1/calls/{call_id}/events) can hold, written by either path. The
// string is the wire name and never changes; the constant says what it
// means.
const (
	// Routing and answer.
	EventRouted           = "routed"  // inbound call matched a number and an assistant
	EventRefused          = "refused" // inbound call turned away (no route, policy, limits)
	EventAnswered         = "answered"
	EventEarlyMedia       = "early_media"      // inbound: pre-answered (183) with a ringback tone (answer_mode early_ringback)
	EventWelcomeAudio     = "welcome_audio"    // the assistant's welcome_audio file plays from the answer (skipped: its reason)
	EventAnswerRequested  = "answer_requested" // hosted: the provider was asked to answer
	EventAnswerFailed     = "answer_failed"
	EventDialing          = "dialing"           // outbound: the originate or provider request left
	EventDialAttempt      = "dial_attempt"      // outbound: one trunk tried, its cause
	EventDialFailed       = "dial_failed"       // outbound: no trunk (or the provider) took the call
	EventPlaced           = "placed"            // outbound: the call rings
	EventProviderAccepted = "provider_accepted" // hosted outbound: the provider took the request

	// Media and assistant.
	EventAdopted                  = "adopted"    // a starting sipbridge took over the live call: gap_ms since its last sign of life
	EventHandedOff                = "handed_off" // sipbridge stopped leaving the call up for the next one (SHUTDOWN_CALLS=handoff)
	EventStreamRequested          = "stream_requested"
	EventStreamConnected          = "stream_connected"
	EventStreamFailed             = "stream_failed"
	EventStreamStopped            = "stream_stopped"
	EventStreamCodecUnsupported   = "stream_codec_unsupported"
	EventPlaybackFiles            = "playback_files" // playback falls back from the pipe to files
	EventAssistantConnected       = "assistant_connected"
	EventAssistantUnreachable     = "assistant_unreachable"
	EventAssistantEnded           = "assistant_ended"
	EventAssistantDisconnected    = "assistant_disconnected"
	EventDTMF                     = "dtmf"         // the caller pressed a key
	EventDTMFSent                 = "dtmf_sent"    // the assistant's keys were pressed on the call
	EventDTMFRefused              = "dtmf_refused" // the assistant's keys were not (bad digits, the path)
	EventAMD                      = "amd"          // outbound with amd: what answered (human, machine, unknown), then wait_beep's beep
	EventRecordingStarted         = "recording_started"
	EventRecordingFailed          = "recording_failed"
	EventStatusCallbackFailed     = "status_callback_failed"
	EventHangupRequested          = "hangup_requested" // by the assistant or the API
	EventHangup                   = "hangup"
	EventProviderHangup           = "provider_hangup"
	EventLegHangup                = "leg_hangup" // a bridged leg ended
	EventBridged                  = "bridged"
	EventBridgeDialing            = "bridge_dialing"
	EventTransferRequested        = "transfer_requested" // by the assistant or the API
	EventTransferFailed           = "transfer_failed"
	EventTransferred              = "transferred"
	EventReferSent                = "refer_sent"
	EventReferNotify              = "refer_notify"
	EventReferAccepted            = "refer_accepted"
	EventReferFailed              = "refer_failed"
	EventFallbackNumberTransfer   = "fallback_transfer" // the assistant failed: its fallback_transfer_number is dialled
	EventReferDeclinedNowBridging = "transfer_fallback" // a REFER was declined: the target is bridged instead
	// A warm transfer: the caller on hold, the target dialled; once it
	// answers the assistant briefs it; then completed (caller and target
	// bridged) or cancelled (the caller back with the assistant).
	EventHoldStarted       = "hold_started"
	EventTargetAnswered    = "target_answered"
	EventTransferCompleted = "transfer_completed"
	EventTransferCancelled = "transfer_cancelled"
)

// Package audio is the call audio sipbridge handles itself: G.711 μ-law and
// A-law, L16, 16 ↔ 8 kHz resampling, the per-frame converter from
// mod_audio_stream's caller frames to an assistant's μ-law
// (FrameConverter), and the chunking of an assistant's audio into
// mod_audio_stream `streamAudio` files (Playback), with the parser of
// mod_audio_stream's play events.
//
// It imports nothing of sipbridge: the SIP path (call/sip, call/sip/pipe),
// the hosted path (call/hosted) and the echo assistant use it.
package audio

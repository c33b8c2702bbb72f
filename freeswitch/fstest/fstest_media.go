package fstest

import (
	"errors"
	"os"
	"strings"
	"unicode"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/media"
)

// The media side of a channel is freeswitch/fstest/media; here are the
// channels and the switch as it sees them, and its test accessors.

// ErrNoChannel means the uuid names no live channel.
var ErrNoChannel = errors.New("fstest: no such channel")

// ErrBadDTMF means a digit FreeSWITCH would not queue.
var ErrBadDTMF = errors.New("fstest: invalid DTMF digit")

// mediaAPI adds the media commands to the api table.
func (s *Switch) mediaAPI(m map[string]apiFunc) {
	m["uuid_setvar"] = s.apiSetvar
	m["uuid_getvar"] = s.apiGetvar
	m["uuid_send_dtmf"] = s.apiSendDTMF
	for name, f := range s.media.API() {
		m[name] = func(b *batch, args string) string { return f(b, args) }
	}
}

// mediaHost is the Switch as the media side sees it.
type mediaHost struct{ s *Switch }

func (h mediaHost) Channel(id string) (media.Channel, bool) {
	ch, ok := h.s.channel(id)
	if !ok {
		return nil, false
	}
	return mediaChan{h.s, ch}, true
}

func (h mediaHost) NewEvent(name, subclass string, extra ...hdr) *event {
	return h.s.newEvent(name, subclass, extra...)
}

func (h mediaHost) Publish(e *event)              { h.s.publish(e) }
func (h mediaHost) Go(f func()) bool              { return h.s.goTimerOK(f) }
func (h mediaHost) Done() <-chan struct{}         { return h.s.done }
func (h mediaHost) TempDir() (string, error)      { return h.s.tempDir() }
func (h mediaHost) Unsupported(cmd string) string { return h.s.unsupported(cmd) }

// mediaChan is a channel as the media side sees it.
type mediaChan struct {
	s  *Switch
	ch *channel
}

func (c mediaChan) UUID() string                      { return c.ch.uuid }
func (c mediaChan) CallerAudio() func([]int16)        { return c.ch.callerAudio }
func (c mediaChan) Var(name string) (string, bool)    { return c.s.getVar(c.ch, name) }
func (c mediaChan) SetVar(name string, value *string) { c.s.setVar(c.ch, name, value) }
func (c mediaChan) VarTrue(name string) bool          { return c.s.varTrue(c.ch, name) }
func (c mediaChan) Event(name, subclass string, extra map[string]any, body string, withVars bool) *event {
	return c.s.eventFromMap(c.s.mediaHeaders(c.ch, name, subclass, extra, withVars), body)
}

// Channel events of the media side: the channel's headers and variables
// and the state of an executing (parked) channel, then extra (after the
// standard headers, sorted, as Emit does), then the body.
func (s *Switch) mediaEvent(b *batch, ch *channel, name, subclass string, extra map[string]any, body string) {
	s.fire(b, s.eventFromMap(s.mediaHeaders(ch, name, subclass, extra, true), body))
}

func (s *Switch) mediaHeaders(ch *channel, name, subclass string, extra map[string]any, withVars bool) map[string]any {
	h := map[string]any{"Event-Name": name, "Unique-ID": ch.uuid, "Channel-Call-UUID": ch.uuid, "Call-Direction": "inbound",
		"Channel-State": "CS_EXECUTE", "Channel-State-Number": "4", "Channel-HIT-Dialplan": "true"}
	if subclass != "" {
		h["Event-Subclass"] = subclass
	}
	s.chans.mu.Lock()
	if ch.answered {
		h["Channel-Call-State"], h["Answer-State"] = "ACTIVE", "answered"
		for k, v := range map[string]string{"Channel-Read-Codec-Name": "PCMU", "Channel-Read-Codec-Rate": "8000",
			"Channel-Read-Codec-Bit-Rate": "64000", "Channel-Write-Codec-Name": "PCMU", "Channel-Write-Codec-Rate": "8000",
			"Channel-Write-Codec-Bit-Rate": "64000"} {
			h[k] = v
		}
	} else {
		h["Channel-Call-State"], h["Answer-State"] = "RINGING", "ringing"
	}
	if ch.hangingUp != "" {
		h["Channel-State"], h["Channel-State-Number"], h["Answer-State"] = "CS_HANGUP", "10", "hangup"
		h["Channel-Call-State"], h["Hangup-Cause"] = ch.hangingUp, ch.hangupCause
	}
	for k, v := range ch.vars {
		if withVars || !strings.HasPrefix(k, "variable_") {
			h[k] = v
		}
	}
	s.chans.mu.Unlock()
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// Media events are fired where the recordings show them (Event-Calling-*).
func init() {
	for k, v := range map[string]eslserver.Site{
		"MEDIA_BUG_START":              {"switch_core_media_bug.c", "switch_core_media_bug_add", "1014"},
		"MEDIA_BUG_STOP":               {"switch_core_media_bug.c", "switch_core_media_bug_destroy", "84"},
		"PLAYBACK_START":               {"switch_ivr_play_say.c", "switch_ivr_play_file", "1649"},
		"PLAYBACK_STOP":                {"switch_ivr_play_say.c", "switch_ivr_play_file", "2023"},
		"PRIVATE_COMMAND":              {"switch_ivr.c", "switch_ivr_parse_next_event", "804"},
		"COMMAND":                      {"switch_ivr_async.c", "switch_ivr_broadcast", "5732"},
		"RECORD_START":                 {"switch_ivr_async.c", "record_callback", "1482"},
		"RECORD_STOP":                  {"switch_ivr_async.c", "send_record_stop_event", "1241"},
		"DTMF":                         {"switch_channel.c", "switch_channel_dequeue_dtmf", "678"}, // not recorded: FreeSWITCH master
		"mod_audio_stream::connect":    {"mod_audio_stream.c", "responseHandler", "16"},
		"mod_audio_stream::disconnect": {"mod_audio_stream.c", "responseHandler", "16"},
		"mod_audio_stream::error":      {"mod_audio_stream.c", "responseHandler", "16"},
		"mod_audio_stream::json":       {"mod_audio_stream.c", "responseHandler", "16"},
		"mod_audio_stream::play":       {"mod_audio_stream.c", "responseHandler", "16"},
	} {
		callSites[k] = v
	}
}

// tempDir is where mod_audio_stream writes the files of streamAudio
// (Options.TempDir; by default a directory made on first use and removed
// by Close).
func (s *Switch) tempDir() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.TempDir != "" {
		return s.o.TempDir, nil
	}
	if s.tmpDir == "" {
		d, err := os.MkdirTemp("", "fstest-temp-")
		if err != nil {
			return "", err
		}
		s.tmpDir = d
	}
	return s.tmpDir, nil
}

func (s *Switch) removeTempDir() {
	s.mu.Lock()
	d := s.tmpDir
	s.tmpDir = ""
	s.mu.Unlock()
	if d != "" {
		os.RemoveAll(d)
	}
}

// SendDTMF makes the caller press digits (RFC 2833 telephone-events, as
// the recordings' SDP offers): one DTMF event per digit with DTMF-Digit,
// DTMF-Duration (2000 samples, FreeSWITCH's default) and DTMF-Source RTP,
// the headers switch_channel_dequeue_dtmf adds. Digits are 0-9 * # A-D
// (and a-d, sent upper-case); anything else is refused before any event.
// During a playback a digit of playback_terminators (default "*") breaks
// it, as the playback application does.
func (s *Switch) SendDTMF(uuid, digits string) error {
	ch, ok := s.channel(uuid)
	if !ok {
		return ErrNoChannel
	}
	up := strings.ToUpper(digits)
	for _, d := range up {
		if !strings.ContainsRune("0123456789*#ABCD", d) {
			return ErrBadDTMF
		}
	}
	for _, d := range up {
		s.mediaEvent(nil, ch, "DTMF", "", map[string]any{"DTMF-Digit": string(d), "DTMF-Duration": "2000", "DTMF-Source": "RTP"}, "")
		s.media.DTMF(mediaChan{s, ch}, d)
	}
	return nil
}

// StreamFrames counts the binary frames the channel's streams sent to
// their websockets so far (also after the hangup).
func (s *Switch) StreamFrames(uuid string) int { return s.media.StreamFrames(uuid) }

// Heard is what the caller heard of the playbacks, 8 kHz samples in
// order, from the first frame played until nothing plays or waits: the
// silence between queued broadcasts (Options.BroadcastGap) and the
// silence padding a stall of a pipe are in it, the time the channel is
// idle is not. A break cuts a file where it was.
func (s *Switch) Heard(uuid string) []int16 { return s.media.Heard(uuid) }

// PlaybackStalls counts the frames a .PCMU/.PCMA playback (a named pipe)
// could not fill while its writer was still there: on a real switch each
// is a read that blocks the channel's media thread (the caller hears a
// gap, the caller's own audio stops), here they are played padded with
// silence. Also after the hangup.
func (s *Switch) PlaybackStalls(uuid string) int { return s.media.PlaybackStalls(uuid) }

// Playbacks lists the files whose playback started (PLAYBACK_START), in
// order.
func (s *Switch) Playbacks(uuid string) []string { return s.media.Playbacks(uuid) }

// BreakStream drops the websocket of the channel's stream as a network
// failure would (no close frame). mod_audio_stream then gets libwsc's IO
// error: CUSTOM ::error {"code":1,"error":"Connection closed without
// WebSocket CLOSE (abnormal EOF)"} and MEDIA_BUG_STOP; no ::disconnect, no
// reconnect. False when no stream is connected.
func (s *Switch) BreakStream(uuid string) bool { return s.media.BreakStream(uuid) }

// WAVCaller returns an InboundCall.CallerAudio that plays a WAV file (16-bit
// PCM, any rate, channels mixed) as the caller's voice at 16 kHz, looped,
// at the real-time pace mod_audio_stream sends it.
func WAVCaller(path string) (func(dst []int16), error) { return media.WAVCaller(path) }

// apiSendDTMF is uuid_send_dtmf <uuid> <digits>, as mod_commands answers
// it: digits go out to the far end (no DTMF event on the channel); what is
// no key (is_dtmf) is skipped, "@ms" sets a duration, more than 99
// characters or no key at all fail.
func (s *Switch) apiSendDTMF(_ *batch, args string) string {
	id, digits, _ := strings.Cut(args, " ")
	if id == "" || digits == "" {
		return "-USAGE: <uuid> <dtmf_data>\n"
	}
	ch, ok := s.channel(id)
	if !ok {
		return "-ERR Cannot locate session!\n"
	}
	s.chans.mu.Lock()
	down := ch.hangingUp != ""
	s.chans.mu.Unlock()
	var sent []byte
	for _, part := range strings.Split(strings.TrimPrefix(digits, "~"), "+") {
		part, _, _ = strings.Cut(part, "@")
		for _, d := range []byte(part) {
			if strings.IndexByte("0123456789*#ABCDabcdWwFf", d) >= 0 {
				sent = append(sent, byte(unicode.ToUpper(rune(d))))
			}
		}
	}
	if down || len(digits) > 99 || len(sent) == 0 {
		return "-ERR Operation failed\n"
	}
	s.mu.Lock()
	if s.sentDTMF == nil {
		s.sentDTMF = map[string]string{}
	}
	s.sentDTMF[id] += string(sent)
	s.mu.Unlock()
	return "+OK " + id + " sent DTMF " + digits + ".\n"
}

// SentDTMF returns the digits uuid_send_dtmf sent to the channel's far
// end so far, in order (also after the hangup).
func (s *Switch) SentDTMF(uuid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sentDTMF[uuid]
}

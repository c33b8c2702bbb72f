package media

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/dialstring"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
)

// Playback to the caller: uuid_broadcast and uuid_break, as recorded
// (audio-stream-mono-8k, -stereo-16k, -during-playback) and as
// mod_commands.c / switch_ivr_async.c (switch_ivr_broadcast) /
// switch_ivr.c (switch_ivr_parse_event) do it:
//
//   - uuid_broadcast <uuid> <path> [aleg|bleg|holdb|both] answers
//     "+OK Message sent" and queues a private "execute playback" command
//     with lead-frames 5: CHANNEL_EXECUTE (playback), PLAYBACK_START; when
//     the file is played out PLAYBACK_STOP (done), CHANNEL_EXECUTE_COMPLETE
//     (FILE PLAYED) and PRIVATE_COMMAND. Broadcasts queue: private events
//     run one after the other, each after its own lead frames;
//   - a file that cannot be opened: CHANNEL_EXECUTE, then at once
//     CHANNEL_EXECUTE_COMPLETE with Application-Response FILE NOT FOUND
//     and PRIVATE_COMMAND; no PLAYBACK_START or _STOP (switch_ivr_play_file
//     returns before them) — the reply is "+OK Message sent" all the same;
//   - uuid_break <uuid> [all] answers "+OK"; the current playback stops on
//     the next frame with PLAYBACK_STOP (break) — still FILE PLAYED;
//     "all" also drops the queued broadcasts (flush_private_events),
//     without it the next queued one plays.
//
// Timing, as measured on FreeSWITCH 1.11.1 (2026-12, a sipp caller sending
// a 440 Hz PCMU tone, uuid_audio_stream mono 16k to a websocket that kept
// every frame, uuid_record with RECORD_STEREO, five 300 ms .r8 files
// broadcast back to back), and modelled frame by frame:
//
//   - the gap (Options.BroadcastGap, default 100 ms): a broadcast whose
//     turn comes reads its 5 lead frames with nothing written to the
//     caller, PLAYBACK_START comes on the last of them, the audio on the
//     frame after. Measured: the recording's played channel held each
//     300 ms file, then 100.2 ms of silence (two runs: 4 × 100.2 ms; one
//     on a loaded machine 100/140/100/140 ms); over ESL PLAYBACK_STOP →
//     next PLAYBACK_START took 91–152 ms, and uuid_broadcast → the first
//     PLAYBACK_START 104–122 ms (the audio-stream-during-playback
//     recording: 121 ms). The caller hears that silence (Heard has it
//     between queued broadcasts); a stereo/mixed stream sends nothing in
//     it, as nothing is written;
//   - the caller's audio at each PLAYBACK_START (Options.PlaybackCallerMute,
//     default 40 ms): the caller's frames go on every 20 ms (to
//     mod_audio_stream, to uuid_record) but the first two after
//     PLAYBACK_START are zeros, and that audio is lost (the tone's phase
//     goes on after them, nothing is delayed). Measured: 39.6 ms of zeros
//     in the mono 16k frames at each of 10 starts (twice 19.4 ms), the
//     same 40 ms on the recording's caller channel, at the FIFO's start
//     too; the audio-stream-ws-during-playback log shows it as well
//     (frames ≈0 at 2168 and 2188 ms). A caller-side measurement through
//     an assistant runtime saw ~30 ms of silence per file (530 ms in 17
//     gaps), the same loss seen after resampling. Nothing happens at
//     PLAYBACK_STOP;
//   - a .PCMU/.PCMA path (also a named pipe) plays as it is read, 160
//     bytes a frame, with stalls when a writer falls behind
//     (fstest_pipe.go);
//   - a tone_stream:// path plays its tones like a file (fstest_tone.go);
//   - PRIVATE_COMMAND is fired after every broadcast, as the recordings
//     show; a real switch sometimes does not deliver it after a playback
//     that played out (never after a named pipe's, about one time in
//     three after a WAV's: e2e TestConformance), so do not wait for it.
//
// Files: raw .r8/.r16/.r24/.r32/.r48/.r64 (L16 at that rate) and
// RIFF/WAVE PCM 16-bit of any rate and channel count (mixed down) are read
// whole when the playback starts; .pcmu and .pcma (any case: G.711 at
// 8 kHz) are read as they play (fstest_pipe.go). Other formats (mp3, ogg),
// and a named pipe of any other extension, count as not found. Only the
// a-leg is emulated (no bridge): bleg/holdb alone queue nothing.

const leadFrames = 5 // switch_ivr_broadcast: "lead-frames" 5

// queued is a broadcast waiting: the private COMMAND event
// switch_ivr_broadcast made (it becomes the PRIVATE_COMMAND event).
type queued struct {
	path string
	cmd  *eslserver.Event
	lead int // frames read with nothing written before it starts
}

// playing is the playback in progress.
type playing struct {
	cmd     *eslserver.Event
	path    string
	appUUID string
	native  int               // the file's rate (playback_samples count in it)
	samples []int16           // 8 kHz mono (nil for a native file)
	loop    bool              // samples repeat until a break (tone_stream loops=-1)
	file    *audiofile.Native // a .PCMU/.PCMA file or FIFO, read as it plays
	pos     int
}

// apiBroadcast is uuid_broadcast (mod_commands.c uuid_broadcast_function).
func (md *Media) apiBroadcast(_ Batch, args string) string {
	argv := dialstring.SeparateBlank(args, 4)
	if len(argv) < 2 {
		return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
	}
	ch, ok := md.h.Channel(argv[0])
	if !ok {
		return "-ERR invalid uuid\n"
	}
	aleg := true
	if len(argv) > 2 {
		f := strings.ToLower(argv[2])
		aleg = strings.Contains(f, "aleg") || strings.Contains(f, "both")
	}
	path := argv[1]
	if app, arg, ok := strings.Cut(path, "::"); ok {
		if app != "playback" {
			return md.h.Unsupported("uuid_broadcast " + app + "::")
		}
		path = arg
	}
	if !aleg {
		return "+OK Message sent\n"
	}
	cmd := md.h.NewEvent("COMMAND", "", eslserver.Header{Name: "call-command", Value: "execute"}, eslserver.Header{Name: "execute-app-name", Value: "playback"},
		eslserver.Header{Name: "execute-app-arg", Value: path}, eslserver.Header{Name: "event-lock", Value: "true"}, eslserver.Header{Name: "lead-frames", Value: strconv.Itoa(leadFrames)})
	m := md.of(ch)
	m.mu.Lock()
	m.queue = append(m.queue, &queued{path, cmd, md.gap})
	m.startLoopLocked()
	m.mu.Unlock()
	return "+OK Message sent\n"
}

// ExecutePlayback is `sendmsg <uuid>` with call-command execute,
// execute-app-name playback (mod_event_socket queues it as a private
// event, as uuid_broadcast does): the same queue, PLAYBACK_START, _STOP
// and CHANNEL_EXECUTE_COMPLETE, but no lead frames, so the file's audio
// is on the channel's next frame. It reports false for an unknown channel.
func (md *Media) ExecutePlayback(id, path string, lock bool) bool {
	ch, ok := md.h.Channel(id)
	if !ok {
		return false
	}
	hs := []eslserver.Header{{Name: "call-command", Value: "execute"}, {Name: "execute-app-name", Value: "playback"},
		{Name: "execute-app-arg", Value: path}}
	if lock {
		hs = append(hs, eslserver.Header{Name: "event-lock", Value: "true"})
	}
	m := md.of(ch)
	m.mu.Lock()
	m.queue = append(m.queue, &queued{path, md.h.NewEvent("COMMAND", "", hs...), 0})
	m.startLoopLocked()
	m.mu.Unlock()
	return true
}

// apiBreak is uuid_break (mod_commands.c break_function).
func (md *Media) apiBreak(_ Batch, args string) string {
	if args == "" {
		return "-USAGE: <uuid> [all]\n"
	}
	id, flag, _ := strings.Cut(args, " ")
	ch, ok := md.h.Channel(id)
	if !ok {
		return "-ERR No such channel!\n"
	}
	m := md.of(ch)
	m.mu.Lock()
	if strings.Contains(flag, "all") {
		m.queue, m.lead, m.leading = nil, 0, false
	}
	m.breakIt = m.cur != nil
	m.mu.Unlock()
	return "+OK\n"
}

// heldLocked tells whether the playback in progress reads a named pipe
// that is empty while a writer holds it open: a real switch's read()
// blocks the channel's session thread there (switch_ivr_play_file checks
// CF_BREAK between two reads only) until a byte arrives or the last writer
// closes it.
func (m *chanMedia) heldLocked() bool {
	p := m.cur
	return p != nil && p.file != nil && p.file.Blocked()
}

// playFrameLocked advances the playback by one frame: a pending break
// first, then the queue (the gap, PLAYBACK_START), then 20 ms of the
// file. It returns what the caller hears in this frame (nil, false:
// nothing is written to the caller).
func (m *chanMedia) playFrameLocked(b Batch) ([]int16, bool) {
	out, ok := m.nextFrameLocked(b)
	if m.cur == nil && len(m.queue) == 0 {
		m.inRun, m.gapHeard = false, 0 // idle: no gap to hear
	}
	return out, ok
}

func (m *chanMedia) nextFrameLocked(b Batch) ([]int16, bool) {
	if m.cur != nil && m.breakIt {
		m.finishLocked(b, "break")
	}
	m.breakIt = false
	if m.cur == nil && len(m.queue) > 0 {
		// The broadcast's turn: its lead frames (BroadcastGap) are read
		// with nothing written, PLAYBACK_START comes on the last of them
		// and the audio on the frame after.
		if !m.leading {
			m.leading, m.lead = true, m.queue[0].lead
		}
		if m.lead > 0 {
			m.lead--
		}
		if m.lead > 0 {
			return m.silentLocked()
		}
		m.leading = false
		q := m.queue[0]
		m.queue = m.queue[1:]
		m.startLocked(b, q)
		if q.lead > 0 || m.cur == nil {
			return m.silentLocked()
		}
	}
	p := m.cur
	if p == nil {
		return nil, false
	}
	if p.file != nil {
		out, used, stalled, done := p.file.Frame()
		if done {
			m.finishLocked(b, "done")
			return m.silentLocked()
		}
		if stalled {
			m.stalls++
		}
		p.pos += used
		m.hearLocked(out)
		return out, true
	}
	out := make([]int16, Samples8k)
	var n int
	if p.loop {
		for n < len(out) { // audiofile.ToneStream never loops an empty script
			n += copy(out[n:], p.samples[(p.pos+n)%len(p.samples):])
		}
	} else {
		n = copy(out, p.samples[p.pos:])
	}
	m.hearLocked(out[:n])
	p.pos += n
	if !p.loop && p.pos >= len(p.samples) {
		m.finishLocked(b, "done")
	}
	return out, true
}

// silentLocked is a frame with nothing written to the caller: between
// two playbacks the caller hears it as silence.
func (m *chanMedia) silentLocked() ([]int16, bool) {
	if m.inRun {
		m.gapHeard += Samples8k
	}
	return nil, false
}

// hearLocked adds played audio to Heard, after the silence heard since the
// playback before.
func (m *chanMedia) hearLocked(pcm []int16) {
	m.heard = append(m.heard, make([]int16, m.gapHeard)...)
	m.heard = append(m.heard, pcm...)
	m.inRun, m.gapHeard = true, 0
}

func (m *chanMedia) startLocked(b Batch, q *queued) {
	md, ch, path := m.md, m.ch, q.path
	app := uuid.NewString()
	for k, v := range map[string]string{"current_application": "playback", "current_application_data": path,
		"current_loop": "1", "total_loops": "1"} {
		ch.SetVar(k, &v)
	}
	md.event(b, ch, "CHANNEL_EXECUTE", "", map[string]any{"Application": "playback", "Application-Data": path, "Application-UUID": app}, "")
	p := &playing{cmd: q.cmd, path: path, appUUID: app, native: 8000}
	var err error
	switch ext := strings.ToLower(filepath.Ext(path)); {
	case strings.HasPrefix(path, audiofile.ToneStreamPrefix):
		var ok bool
		if p.samples, p.loop, ok = audiofile.ToneStream(strings.TrimPrefix(path, audiofile.ToneStreamPrefix)); !ok {
			err = audiofile.ErrFormat
		}
	case ext == ".pcmu" || ext == ".pcma":
		p.file, err = audiofile.OpenNative(path, ext == ".pcma")
	case audiofile.IsFIFO(path):
		err = audiofile.ErrFormat // only native files are read as they play
	default:
		p.samples, p.native, err = audiofile.Load(path)
	}
	if err != nil {
		md.log.Info("fstest: playback file not found", "path", path, "err", err)
		m.completeLocked(b, q.cmd, path, app, "FILE NOT FOUND")
		return
	}
	m.cur = p
	m.started = append(m.started, path)
	m.muteLeft = md.mute // the caller's next frames are lost (switch_ivr_play_file's start)
	md.event(b, ch, "PLAYBACK_START", "", playbackHeaders(path, ""), "")
}

// finishLocked ends the current playback with status done or break.
func (m *chanMedia) finishLocked(b Batch, status string) {
	md, ch, p := m.md, m.ch, m.cur
	m.cur = nil
	if p.file != nil {
		p.file.Close()
	}
	in := p.pos * p.native / 8000
	for k, v := range map[string]string{"playback_last_offset_pos": strconv.Itoa(in), "playback_seconds": strconv.Itoa(in / p.native),
		"playback_ms": strconv.Itoa(in / (p.native / 1000)), "playback_samples": strconv.Itoa(in)} {
		ch.SetVar(k, &v)
	}
	md.event(b, ch, "PLAYBACK_STOP", "", playbackHeaders(p.path, status), "")
	m.completeLocked(b, p.cmd, p.path, p.appUUID, "FILE PLAYED")
}

// playbackHeaders are PLAYBACK_START's (status "") and PLAYBACK_STOP's:
// a path with a "<type>://" prefix adds Playback-File-Type (tone_stream
// on the real switch, e2e TestConformance).
func playbackHeaders(path, status string) map[string]any {
	h := map[string]any{"Playback-File-Path": path}
	if typ, _, ok := strings.Cut(path, "://"); ok && !strings.ContainsAny(typ, "/ ") {
		h["Playback-File-Type"] = typ
	}
	if status != "" {
		h["Playback-Status"] = status
	}
	return h
}

// completeLocked fires the end of the playback application and of the
// private command that ran it. PRIVATE_COMMAND is the COMMAND event of
// the broadcast re-fired (switch_ivr_parse_next_event): as recorded it
// keeps the COMMAND's own standard headers ("Event-Name":"COMMAND" first)
// and its command headers, then the standard headers of PRIVATE_COMMAND
// and the channel data without variables.
func (m *chanMedia) completeLocked(b Batch, cmd *eslserver.Event, path, app, response string) {
	md, ch := m.md, m.ch
	ch.SetVar("current_application_response", &response)
	md.event(b, ch, "CHANNEL_EXECUTE_COMPLETE", "", map[string]any{"Application": "playback", "Application-Data": path,
		"Application-Response": response, "Application-UUID": app}, "")
	ch.SetVar("current_loop", nil)
	ch.SetVar("total_loops", nil)
	pc := ch.Event("PRIVATE_COMMAND", "", nil, "", false)
	pc.Headers = append(slices.Clip(cmd.Headers), pc.Headers...)
	pc.ID = "PRIVATE_COMMAND"
	md.fire(b, pc)
}

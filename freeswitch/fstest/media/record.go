package media

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiostream"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/dialstring"
)

// uuid_record (mod_commands.c session_record_function, switch_ivr_async.c
// record_callback), as recorded in record-start-stop.jsonl:
//
//   - start <path> [limit]: "+OK Success", then RECORD_START
//     (Record-File-Path) and MEDIA_BUG_START (session_record, target the
//     path) — the wire order of the recording: reply first, RECORD_START
//     before MEDIA_BUG_START;
//   - stop <path|all>: "+OK Success", then RECORD_STOP (Record-File-Path,
//     Record-Completion-Cause success-maxtime, as recorded for a plain
//     stop) and MEDIA_BUG_STOP; record_ms/_seconds/_samples/_file_size are
//     channel variables from then on, so every later event carries them;
//   - a limit in seconds stops it by itself the same way; a hangup stops it
//     inside the hangup sequence with no-input-timeout (record_callback's
//     cause for a hung-up channel without speech detection);
//   - a recording that got no frame is discarded (file removed,
//     RECORD_DISCARDED=true, empty-file).
//
// The file is a WAV, 8 kHz 16-bit: mono with the caller and what is played
// to the caller mixed, or, when RECORD_STEREO is true on the channel at
// start, stereo with the caller on the left and the played audio on the
// right. It is created at start and written out at stop.

const recordSyntax = "<uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]"

type recording struct {
	path   string
	stereo bool
	limit  int // frames, 0: none
	caller []int16
	played []int16
}

// add records one frame; true when the limit is reached.
func (r *recording) add(caller8, played []int16) bool {
	r.caller = append(r.caller, caller8...)
	if played == nil {
		played = make([]int16, len(caller8))
	}
	r.played = append(r.played, played...)
	return r.limit > 0 && len(r.caller) >= r.limit*Samples8k
}

// finish writes the WAV file; it returns the samples per channel and the
// file size.
func (r *recording) finish() (int, int, error) {
	n := len(r.caller)
	var data []byte
	if r.stereo {
		data = audiofile.WAV(8000, r.caller, r.played)
	} else {
		mixed := make([]int16, n)
		for i := range mixed {
			mixed[i] = clamp16(int(r.caller[i]) + int(r.played[i]))
		}
		data = audiofile.WAV(8000, mixed)
	}
	return n, len(data), os.WriteFile(r.path, data, 0o644)
}

// apiRecord is uuid_record.
func (md *Media) apiRecord(b Batch, args string) string {
	argv := dialstring.SeparateBlank(args, 5)
	if len(argv) < 3 || argv[0] == "" || argv[1] == "" || argv[2] == "" {
		return "-USAGE: " + recordSyntax + "\n"
	}
	ch, ok := md.h.Channel(argv[0])
	if !ok {
		return "-ERR Cannot locate session!\n"
	}
	m := md.of(ch)
	path := argv[2]
	switch argv[1] {
	case "start", "START", "Start":
	case "stop", "STOP", "Stop":
		m.mu.Lock()
		var recs []*recording
		for _, bug := range append([]string(nil), m.bugs...) {
			if r := m.records[bug]; r != nil && (path == "all" || bug == path) {
				recs = append(recs, r)
				delete(m.records, bug)
				m.dropBugLocked(bug)
			}
		}
		m.mu.Unlock()
		if len(recs) == 0 {
			return "-ERR Cannot stop record session!\n"
		}
		for _, r := range recs {
			md.stopRecording(b, ch, r, "success-maxtime")
		}
		return "+OK Success\n"
	case "pause", "resume", "mask", "unmask":
		return md.h.Unsupported("uuid_record " + argv[1])
	default:
		return "-USAGE: " + recordSyntax + "\n"
	}
	limit := 0
	if len(argv) > 3 {
		limit = audiostream.Atoi(argv[3])
	}
	f, err := os.Create(path)
	if err != nil {
		md.log.Info("fstest: uuid_record cannot open", "path", path, "err", err)
		return "-ERR Cannot record session!\n"
	}
	f.Close()
	r := &recording{path: path, stereo: ch.VarTrue("RECORD_STEREO"), limit: limit * 50}
	m.mu.Lock()
	if m.records[path] != nil {
		m.mu.Unlock()
		return "-ERR Cannot record session!\n"
	}
	m.records[path] = r
	m.bugs = append(m.bugs, path)
	m.startLoopLocked()
	m.mu.Unlock()
	md.event(b, ch, "RECORD_START", "", map[string]any{"Record-File-Path": path}, "")
	md.event(b, ch, "MEDIA_BUG_START", "", map[string]any{"Media-Bug-Function": "session_record", "Media-Bug-Target": path}, "")
	return "+OK Success\n"
}

// stopRecording finishes r (already detached) with RECORD_STOP and
// MEDIA_BUG_STOP.
func (md *Media) stopRecording(b Batch, ch Channel, r *recording, cause string) {
	samples, size, err := r.finish()
	if err != nil {
		md.log.Info("fstest: uuid_record write", "path", r.path, "err", err)
	}
	set := func(k, v string) { ch.SetVar(k, &v) }
	if samples == 0 {
		os.Remove(r.path)
		set("RECORD_DISCARDED", "true")
		cause = "empty-file"
	} else {
		set("record_file_size", strconv.Itoa(size))
	}
	set("record_samples", strconv.Itoa(samples))
	set("record_seconds", strconv.Itoa(samples/8000))
	set("record_ms", strconv.Itoa(samples/8))
	set("record_completion_cause", cause)
	md.event(b, ch, "RECORD_STOP", "", map[string]any{"Record-File-Path": r.path, "Record-Completion-Cause": cause}, "")
	md.event(b, ch, "MEDIA_BUG_STOP", "", map[string]any{"Media-Bug-Function": "session_record", "Media-Bug-Target": r.path}, "")
}

// apiBuglist is uuid_buglist (switch_core_media_bug_enumerate): the
// channel's media bugs in attach order, the stream's function audio_stream
// with no target, a recording's session_record with its path; an empty
// answer for an unknown channel.
func (md *Media) apiBuglist(_ Batch, args string) string {
	id, _, _ := strings.Cut(strings.TrimSpace(args), " ")
	if id == "" {
		return "-USAGE: <uuid>\n"
	}
	ch, ok := md.h.Channel(id)
	if !ok {
		return ""
	}
	m := md.of(ch)
	m.mu.Lock()
	bugs := slices.Clone(m.bugs)
	m.mu.Unlock()
	var sb strings.Builder
	sb.WriteString("<media-bugs>\n")
	for _, b := range bugs {
		fn, target := "session_record", b
		if b == streamBug {
			fn, target = streamBug, "N/A"
		}
		fmt.Fprintf(&sb, " <media-bug>\n  <function>%s</function>\n  <target>%s</target>\n  <thread-locked>0</thread-locked>\n </media-bug>\n", fn, target)
	}
	sb.WriteString("</media-bugs>\n")
	return sb.String()
}

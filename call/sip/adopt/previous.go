package adopt

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call/sip/pipe"
)

// unstickMax bounds how long StopPrevious feeds a previous process's
// playback pipe.
const unstickMax = time.Second

// StopPrevious stops, on an adopted call's channel, what the process that
// controlled it before left running: its mod_audio_stream fork and its
// playback (the hold tone, its playback pipe), before the new ones start.
//
// A previous process that is frozen rather than gone (a stalled VM past
// its lease) still holds its playback pipe open without writing into it:
// FreeSWITCH's read of the empty pipe holds the channel's media thread, so
// neither uuid_break nor the new fork would get through (the fork connects
// and receives no caller audio). The pipe is then fed silence until the
// broken playback lets go of it (pipe.Unstick): only when it is the call's
// own pipe (named after callID, in whichever replica's PLAYBACK_DIR), never
// another path the channel names.
func StopPrevious(sw Switch, uuid, callID string, log *slog.Logger) {
	run := func(cmd string) string { return runCmd(sw.API, cmd) }
	var playing string
	if run("uuid_getvar "+uuid+" current_application") == "playback" {
		playing = run("uuid_getvar " + uuid + " current_application_data")
	}
	// The stop removes the fork's media bug at once, then closes its
	// websocket: with a frozen peer the close handshake waits out
	// mod_audio_stream's 1 s before the stop answers. The new fork needs
	// only the bug gone (a start while it is attached fails), so the stop
	// runs in the background (bgapi: no Event Socket connection held up
	// meanwhile) while uuid_buglist tells when the bug is gone. It is sent
	// only while a fork is attached: a stop with none to remove could run
	// after the new start and remove the new fork (it names no fork).
	bugs := run("uuid_buglist " + uuid)
	listed := strings.HasPrefix(bugs, "<media-bugs>")
	var stopped chan struct{}
	if !listed || !StreamGone(bugs) {
		stopped = make(chan struct{})
		go func() { defer close(stopped); runCmd(sw.BGAPI, "uuid_audio_stream "+uuid+" stop") }()
	}
	run("uuid_break " + uuid + " all")
	if playing != "" && slices.Contains(pipe.Names(callID), filepath.Base(playing)) {
		fed, err := pipe.Unstick(playing, unstickMax)
		switch {
		case err != nil:
			log.Warn("the previous process's playback pipe still holds the channel", "err", err, "fed_ms", fed.Milliseconds())
		case fed > 0:
			log.Info("the previous process's playback pipe held the channel: fed silence until its playback stopped", "fed_ms", fed.Milliseconds())
		}
	}
	switch {
	case stopped == nil:
	case !listed: // no bug list to watch: the stop's own answer
		<-stopped
	default:
		for !StreamGone(run("uuid_buglist " + uuid)) {
			select {
			case <-stopped:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// Switch is the switch's api and bgapi commands.
type Switch interface {
	API
	BGAPI(ctx context.Context, cmd string) (string, error)
}

// runCmd runs one command (5 s at most): its answer trimmed, "" on error.
func runCmd(run func(context.Context, string) (string, error), cmd string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := run(ctx, cmd)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// StreamGone tells, from uuid_buglist's answer, that no mod_audio_stream
// media bug (function audio_stream) is attached to the channel; false
// when the answer is not a bug list.
func StreamGone(buglist string) bool {
	return strings.HasPrefix(buglist, "<media-bugs>") && !strings.Contains(buglist, "<function>audio_stream</function>")
}

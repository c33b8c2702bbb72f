package adopt

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// prevSwitch answers StopPrevious's commands: the channel's bug list (an
// audio_stream fork until the stop has run, when bugs says so), and the
// order of the commands; its stop runs stopDelay after it is sent.
type prevSwitch struct {
	mu        sync.Mutex
	cmds      []string
	fork      bool // an audio_stream bug is attached
	noList    bool // uuid_buglist answers no list (an older switch)
	stopDelay time.Duration
	playing   string // the path the channel plays
}

func (f *prevSwitch) API(_ context.Context, cmd string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, cmd)
	switch {
	case strings.HasSuffix(cmd, " current_application") && f.playing != "":
		return "playback", nil
	case strings.HasSuffix(cmd, " current_application_data"):
		return f.playing, nil
	case strings.HasPrefix(cmd, "uuid_buglist") && f.noList:
		return "-ERR no such command", nil
	case strings.HasPrefix(cmd, "uuid_buglist") && f.fork:
		return "<media-bugs><media-bug><function>audio_stream</function></media-bug></media-bugs>", nil
	case strings.HasPrefix(cmd, "uuid_buglist"):
		return "<media-bugs></media-bugs>", nil
	}
	return "", nil
}

func (f *prevSwitch) BGAPI(_ context.Context, cmd string) (string, error) {
	time.Sleep(f.stopDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, "bg "+cmd)
	f.fork = false
	return "+OK", nil
}

func (f *prevSwitch) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

// The previous process's fork is stopped only while one is attached: with
// none (a handoff stopped it), no stop is sent that could land after the
// new fork's start and remove it. With one, StopPrevious returns once the
// bug is gone; with no bug list to read, once the stop has answered.
func TestStopPreviousStopsOnlyAnAttachedFork(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	none := &prevSwitch{stopDelay: 50 * time.Millisecond}
	StopPrevious(none, "u1", "c1", log)
	time.Sleep(100 * time.Millisecond) // a stop sent in the background would be in by now
	if cmds := none.commands(); slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, "uuid_audio_stream") }) {
		t.Errorf("no fork attached: %q, want no stop", cmds)
	}

	attached := &prevSwitch{fork: true, stopDelay: 30 * time.Millisecond}
	StopPrevious(attached, "u1", "c1", log)
	attached.mu.Lock()
	still := attached.fork
	attached.mu.Unlock()
	if cmds := attached.commands(); !slices.Contains(cmds, "bg uuid_audio_stream u1 stop") || still {
		t.Errorf("a fork attached: %q, fork still attached at return %v; want its stop, and a return once it is gone", cmds, still)
	}

	unknown := &prevSwitch{noList: true, stopDelay: 30 * time.Millisecond}
	StopPrevious(unknown, "u1", "c1", log)
	if cmds := unknown.commands(); !slices.Contains(cmds, "bg uuid_audio_stream u1 stop") {
		t.Errorf("no bug list: %q, want the stop sent and waited for", cmds)
	}
}

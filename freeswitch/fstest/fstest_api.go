package fstest

import (
	"cmp"
	"fmt"
	"strings"
	"time"
)

// apiFunc runs one api command (args without the command name) and returns
// its reply body; events it fires go to b, published after the reply.
type apiFunc func(b *batch, args string) string

// coreAPI is the command table; other files (channels…) add theirs here.
func (s *Switch) coreAPI() map[string]apiFunc {
	m := map[string]apiFunc{
		"status":        s.apiStatus,
		"module_exists": s.apiModuleExists,
	}
	for name, f := range s.sofia.API() {
		m[name] = func(b *batch, args string) string { return f(b, args) }
	}
	s.channelAPI(m)
	s.mediaAPI(m)
	s.outboundAPI(m)
	s.bridgeAPI(m)
	return m
}

// run executes one api/bgapi command line: recorded in Commands, answered by
// a FailNext rule if one matches, else by its handler. An unknown command
// gets the recorded "-ERR <cmd> Command not found!\n".
func (s *Switch) run(b *batch, line string) string {
	line = strings.TrimSpace(line)
	s.mu.Lock()
	s.commands = append(s.commands, line)
	for i, f := range s.failNext {
		if strings.HasPrefix(line, f.prefix) {
			s.failNext = append(s.failNext[:i:i], s.failNext[i+1:]...)
			s.mu.Unlock()
			s.log.Debug("fstest: FailNext answered", "command", line)
			return f.reply
		}
	}
	s.mu.Unlock()
	name, args, _ := strings.Cut(line, " ")
	h, ok := s.handlers[name]
	if !ok {
		return "-ERR " + name + " Command not found!\n"
	}
	return h(b, strings.TrimSpace(args))
}

// exec runs a command as if over ESL, its events published at once (tests).
func (s *Switch) exec(line string) string {
	b := &batch{}
	out := s.run(b, line)
	s.flush(b)
	runAfterJob(b)
	return out
}

// eslHandler runs the api and bgapi commands of the ESL connections.
type eslHandler struct{ s *Switch }

// API runs a command synchronously: the server writes the reply, then
// done publishes the events it fired, then the API event.
func (h eslHandler) API(line string) (string, func()) {
	s := h.s
	b := &batch{}
	apiEv := s.apiEvent(line)
	body := s.run(b, line)
	return body, func() {
		s.flush(b)
		if apiEv != nil {
			s.publish(apiEv)
		}
		runAfterJob(b)
	}
}

// BackgroundAPI runs the command of a bgapi whose Job-UUID is answered:
// its events, the API event, then BACKGROUND_JOB.
func (h eslHandler) BackgroundAPI(line, job string) {
	s := h.s
	// A command that returns at once runs before the next command is read,
	// so its API event and job keep the recorded order (esl-event-plain);
	// the ones that block (blocksJob) run in the background.
	run := func(f func()) { f() }
	if blocksJob(line) {
		run = s.goTimer
	}
	run(func() {
		b := &batch{}
		apiEv := s.apiEvent(line)
		body := s.run(b, line)
		s.flush(b)
		if apiEv != nil {
			s.publish(apiEv)
		}
		name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		h := []hdr{{Name: "Job-UUID", Value: job}, {Name: "Job-Command", Value: name}}
		if arg = strings.TrimSpace(arg); arg != "" {
			h = append(h, hdr{Name: "Job-Command-Arg", Value: arg})
		}
		ev := s.newEvent("BACKGROUND_JOB", "", h...)
		ev.Body = body
		s.publish(ev)
		runAfterJob(b)
	})
}

// apiEvent builds the API event of a command (nil with NoAPIEvents); it is
// built before the command runs, so its Event-Sequence is the lower one, as
// recorded.
func (s *Switch) apiEvent(line string) *event {
	if s.o.NoAPIEvents {
		return nil
	}
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	h := []hdr{{Name: "API-Command", Value: name}}
	if arg = strings.TrimSpace(arg); arg != "" {
		h = append(h, hdr{Name: "API-Command-Argument", Value: arg})
	}
	return s.newEvent("API", "", h...)
}

// unsupported answers a command the simulator does not emulate, loudly.
func (s *Switch) unsupported(cmd string) string {
	s.log.Warn("fstest: command not simulated", "command", cmd)
	return "-ERR fstest: not simulated: " + cmd + "\n"
}

func (s *Switch) uptime() time.Duration {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	return s.switchTime(s.now().Sub(started))
}

func (s *Switch) sessionCount() int {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	return len(s.chans.byID)
}

func plural(n int64, unit string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// uptimeText renders a duration as `status` and HEARTBEAT do.
func uptimeText(d time.Duration) string {
	us := d.Microseconds()
	const (
		usMs   = 1000
		usSec  = 1000 * usMs
		usMin  = 60 * usSec
		usHour = 60 * usMin
		usDay  = 24 * usHour
		usYear = 365 * usDay
	)
	parts := []struct {
		n    int64
		unit string
	}{{us / usYear, "year"}, {us % usYear / usDay, "day"}, {us % usDay / usHour, "hour"}, {us % usHour / usMin, "minute"},
		{us % usMin / usSec, "second"}, {us % usSec / usMs, "millisecond"}, {us % usMs, "microsecond"}}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = plural(p.n, p.unit)
	}
	return strings.Join(out, ", ")
}

// apiStatus answers `status` in the recorded layout.
func (s *Switch) apiStatus(_ *batch, _ string) string {
	n := s.sessionCount()
	return fmt.Sprintf("UP %s\nFreeSWITCH (Version 1.11.1-release  64bit) is ready\n"+
		"%d session(s) since startup\n%d session(s) - peak %d, last 5min %d \n"+
		"0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n1000 session(s) max\n"+
		"min idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n", uptimeText(s.uptime()), n, n, n, n)
}

// apiModuleExists answers true/false without a newline; without a module
// name it writes nothing ("-ERR no reply" over ESL).
func (s *Switch) apiModuleExists(_ *batch, mod string) string {
	if mod == "" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.modules[mod])
}

// SendMsg runs `sendmsg <uuid>` (mod_event_socket), recorded in Commands
// as "sendmsg <uuid> <call-command> <app> <arg>": "execute playback"
// queues a playback without lead frames (media.ExecutePlayback); other
// call commands are answered +OK and do nothing. An unknown channel is
// refused as mod_event_socket does. Header names as sipbridge sends them.
func (h eslHandler) SendMsg(id string, hs map[string]string, body string) string {
	arg := cmp.Or(hs["execute-app-arg"], body)
	h.s.mu.Lock()
	h.s.commands = append(h.s.commands, strings.Join([]string{"sendmsg", id, hs["call-command"], hs["execute-app-name"], arg}, " "))
	h.s.mu.Unlock()
	if _, ok := h.s.channel(id); !ok {
		return "-ERR invalid session id [" + id + "]"
	}
	if hs["call-command"] == "execute" && hs["execute-app-name"] == "playback" {
		h.s.media.ExecutePlayback(id, arg, hs["event-lock"] == "true")
	}
	return "+OK"
}

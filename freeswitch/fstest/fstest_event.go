package fstest

import (
	"strconv"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/media"
)

// The event model and its wire forms are eslserver's.
type (
	hdr   = eslserver.Header
	event = eslserver.Event
)

// callSites are where FreeSWITCH fires an event (Event-Calling-*), as
// recorded.
var callSites = map[string]eslserver.Site{
	"API":                      {"switch_loadable_module.c", "switch_api_execute", "2954"},
	"BACKGROUND_JOB":           {"mod_event_socket.c", "api_exec", "1569"},
	"RELOADXML":                {"switch_xml.c", "switch_xml_open_root", "2421"},
	"HEARTBEAT":                {"switch_core.c", "send_heartbeat", "95"},
	"RE_SCHEDULE":              {"switch_scheduler.c", "switch_scheduler_execute", "73"},
	"PUBLISH":                  {"sofia.c", "sofia_profile_thread_run", "3433"},
	"UNPUBLISH":                {"sofia.c", "sofia_profile_thread_run", "3543"},
	"sofia::gateway_add":       {"sofia_reg.c", "sofia_reg_add_gateway", "3723"},
	"sofia::gateway_delete":    {"sofia_reg.c", "sofia_reg_check_gateway", "343"},
	"sofia::gateway_state":     {"sofia_reg.c", "sofia_reg_fire_custom_gateway_state_event", "156"},
	"sofia::profile_start":     {"sofia.c", "config_sofia", "6343"},
	"CHANNEL_CREATE":           {"switch_core_state_machine.c", "switch_core_session_run", "626"},
	"CHANNEL_STATE":            {"switch_channel.c", "switch_channel_perform_set_running_state", "2409"},
	"CHANNEL_CALLSTATE":        {"switch_channel.c", "switch_channel_perform_set_callstate", "302"},
	"CHANNEL_EXECUTE":          {"switch_core_session.c", "switch_core_session_exec", "2949"},
	"CHANNEL_EXECUTE_COMPLETE": {"switch_core_session.c", "switch_core_session_exec", "2972"},
	"CHANNEL_PARK":             {"switch_ivr.c", "switch_ivr_park", "1002"},
	"CHANNEL_UNPARK":           {"switch_ivr.c", "switch_ivr_park", "1213"},
	"CHANNEL_PROGRESS_MEDIA":   {"switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562"},
	"CHANNEL_ANSWER":           {"switch_channel.c", "switch_channel_perform_mark_answered", "3848"},
	"CHANNEL_HANGUP":           {"switch_channel.c", "switch_channel_perform_hangup", "3447"},
	"CHANNEL_HANGUP_COMPLETE":  {"switch_core_state_machine.c", "switch_core_session_reporting_state", "943"},
	"CHANNEL_DESTROY":          {"switch_core_session.c", "switch_core_session_perform_destroy", "1588"},
}

// standardHeaders are the headers every event starts with, in order.
var standardHeaders = eslserver.StandardHeaders

// newEvent builds an event with the standard headers, a new Event-Sequence
// and the recorded calling site; extra follows in the order given.
func (s *Switch) newEvent(name, subclass string, extra ...hdr) *event {
	return s.esl.NewEvent(name, subclass, extra...)
}

// Emit injects an arbitrary event, delivered to every subscribed
// connection. headers must hold Event-Name (and Event-Subclass for CUSTOM);
// a standard header given here replaces the generated one; the others
// follow the standard ones sorted by name. A value is a string, a []string
// or []any (a header present more than once), or anything fmt prints.
func (s *Switch) Emit(headers map[string]any, body string) {
	s.publish(s.eventFromMap(headers, body))
}

func (s *Switch) eventFromMap(headers map[string]any, body string) *event {
	return s.esl.EventFromMap(headers, body)
}

// batch collects the events a command fires; they are published after its
// reply, as a real switch delivers them, then the after funcs run (timers
// that must not fire before those events).
type batch struct {
	evs      []*event
	after    []func()
	afterJob []func() // after the reply itself (BACKGROUND_JOB, api/response): see afterJob
}

// Fire and Then make a batch a media.Batch and a sofia.Batch.
func (b *batch) Fire(e *event) { b.evs = append(b.evs, e) }
func (b *batch) Then(f func()) { b.after = append(b.after, f) }

// media is b as a media.Batch: nil (events fired at once) when b is nil.
func (b *batch) media() media.Batch {
	if b == nil {
		return nil
	}
	return b
}

// fire publishes e now, or after the reply when b is not nil.
func (s *Switch) fire(b *batch, e *event) {
	if b != nil {
		b.evs = append(b.evs, e)
		return
	}
	s.publish(e)
}

func (s *Switch) flush(b *batch) {
	for _, e := range b.evs {
		s.publish(e)
	}
	for _, f := range b.after {
		f()
	}
	b.evs, b.after = nil, nil
}

// publish delivers e to every connection subscribed to it.
func (s *Switch) publish(e *event) { s.esl.Publish(e) }

// heartbeats emits HEARTBEAT and RE_SCHEDULE every Options.Heartbeat with
// the recorded headers.
func (s *Switch) heartbeats() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		up := s.uptime()
		n := strconv.Itoa(s.sessionCount())
		s.publish(s.newEvent("HEARTBEAT", "", hdr{Name: "Event-Info", Value: "System Ready"}, hdr{Name: "Up-Time", Value: uptimeText(up)},
			hdr{Name: "FreeSWITCH-Version", Value: "1.11.1-release~64bit"}, hdr{Name: "Uptime-msec", Value: strconv.FormatInt(up.Milliseconds(), 10)},
			hdr{Name: "Session-Count", Value: n}, hdr{Name: "Max-Sessions", Value: "1000"}, hdr{Name: "Session-Per-Sec", Value: "30"},
			hdr{Name: "Session-Per-Sec-Last", Value: "0"}, hdr{Name: "Session-Per-Sec-Max", Value: "0"}, hdr{Name: "Session-Per-Sec-FiveMin", Value: "0"},
			hdr{Name: "Session-Since-Startup", Value: n}, hdr{Name: "Session-Peak-Max", Value: n}, hdr{Name: "Session-Peak-FiveMin", Value: n},
			hdr{Name: "Idle-CPU", Value: "99.000000"}))
		s.publish(s.newEvent("RE_SCHEDULE", "", hdr{Name: "Task-ID", Value: "1"}, hdr{Name: "Task-Desc", Value: "heartbeat"},
			hdr{Name: "Task-Group", Value: "core"}, hdr{Name: "Task-Runtime", Value: strconv.FormatInt(s.now().Add(20*time.Second).Unix(), 10)}))
	}
}
